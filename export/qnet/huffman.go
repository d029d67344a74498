package qnet

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
)

// Canonical Huffman codes for the Huffman weight encoding (doc.go, "Huffman
// codes"). A code is stored as the code length of every symbol of its
// alphabet; codes are assigned as in DEFLATE (RFC 1951 §3.2.2): shorter
// codes first, and among codes of one length in increasing symbol order,
// consecutive values.

// maxCodeLen is the longest Huffman code the encoder writes and the decoder
// accepts. It fits the 4-bit length field of a code-length table.
const maxCodeLen = 15

// huffmanLengths returns the length of every symbol's code in a Huffman code
// for the frequencies freq, no longer than maxLen bits: 0 for symbols of
// frequency 0, 1 for the only used symbol. When the optimal code is too deep,
// the frequencies are halved (rounding up, so no used symbol drops out) until
// it is not; with all frequencies 1 the depth is ceil(log2(used symbols)), so
// this ends for any alphabet of at most 2^maxLen symbols. Equal frequencies
// are broken by symbol order, so the result is deterministic.
func huffmanLengths(freq []int, maxLen int) []uint8 {
	lengths := make([]uint8, len(freq))
	var used []int
	for s, f := range freq {
		if f > 0 {
			used = append(used, s)
		}
	}
	switch len(used) {
	case 0:
		return lengths
	case 1:
		lengths[used[0]] = 1
		return lengths
	}
	w := make([]int, len(used))
	for i, s := range used {
		w[i] = freq[s]
	}
	for {
		depth := huffmanDepths(w)
		if slices.Max(depth) <= maxLen {
			for i, s := range used {
				lengths[s] = uint8(depth[i])
			}
			return lengths
		}
		for i := range w {
			w[i] = (w[i] + 1) / 2
		}
	}
}

// huffmanDepths returns the depth of every leaf of a Huffman tree for the
// weights w (at least 2), built with the two-queue method: leaves sorted by
// (weight, index), merged nodes queued in the order they are made.
func huffmanDepths(w []int) []int {
	n := len(w)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		return cmp.Or(cmp.Compare(w[a], w[b]), cmp.Compare(a, b))
	})
	// Nodes 0..n-1 are the sorted leaves, n..2n-2 the merged nodes.
	weight := make([]int, 2*n-1)
	parent := make([]int, 2*n-1)
	for i, o := range order {
		weight[i] = w[o]
	}
	leaf, inner := 0, n // heads of the two queues
	pick := func(next int) int {
		if leaf < n && (inner == next || weight[leaf] <= weight[inner]) {
			leaf++
			return leaf - 1
		}
		inner++
		return inner - 1
	}
	for next := n; next < 2*n-1; next++ {
		a := pick(next)
		b := pick(next)
		weight[next] = weight[a] + weight[b]
		parent[a], parent[b] = next, next
	}
	depth := make([]int, 2*n-1) // the root, 2n-2, has depth 0
	for i := 2*n - 3; i >= 0; i-- {
		depth[i] = depth[parent[i]] + 1
	}
	out := make([]int, n)
	for i, o := range order {
		out[o] = depth[i]
	}
	return out
}

// canonicalCodes returns the canonical code of every symbol with a nonzero
// length (RFC 1951 §3.2.2). The lengths must form a valid code.
func canonicalCodes(lengths []uint8) []uint32 {
	var count, next [maxCodeLen + 1]uint32
	for _, l := range lengths {
		if l > 0 {
			count[l]++
		}
	}
	code := uint32(0)
	for l := 1; l <= maxCodeLen; l++ {
		code = (code + count[l-1]) << 1
		next[l] = code
	}
	codes := make([]uint32, len(lengths))
	for s, l := range lengths {
		if l > 0 {
			codes[s] = next[l]
			next[l]++
		}
	}
	return codes
}

// codeBits returns the bits the symbols cost under lengths: sum freq*length.
func codeBits(freq []int, lengths []uint8) int {
	bits := 0
	for s, f := range freq {
		bits += f * int(lengths[s])
	}
	return bits
}

// A code-length table is 4 bits M, the longest length (0 if no symbol has a
// code), then the length of every symbol of the alphabet in bitLen(M) bits.

// lengthsBits returns the size of the code-length table of lengths.
func lengthsBits(lengths []uint8) int {
	return 4 + len(lengths)*int(bitLen(uint64(slices.Max(lengths))))
}

// writeLengths writes the code-length table of lengths (at least one symbol).
func writeLengths(w *bitWriter, lengths []uint8) {
	m := slices.Max(lengths)
	w.bits(uint64(m), 4)
	width := bitLen(uint64(m))
	for _, l := range lengths {
		w.bits(uint64(l), width)
	}
}

var (
	errBitsEnd  = errors.New("the bit stream ends early")
	errBadCode  = errors.New("invalid Huffman code")
	errBadTable = errors.New("invalid code-length table")
)

// readLengths reads a code-length table of an n-symbol alphabet. Its longest
// length must be M exactly.
func readLengths(r *bitReader, n int) ([]uint8, error) {
	m, ok := r.bits(4)
	if !ok {
		return nil, errBitsEnd
	}
	width := bitLen(m)
	if int64(n)*int64(width) > r.remaining() {
		return nil, errBitsEnd
	}
	lengths := make([]uint8, n)
	longest := uint8(0)
	for s := range lengths {
		v, _ := r.bits(width) // checked above
		lengths[s] = uint8(v)
		longest = max(longest, lengths[s])
	}
	if uint64(longest) != m {
		return nil, fmt.Errorf("%w: longest length %d, but the table says %d", errBadTable, longest, m)
	}
	return lengths, nil
}

// huffmanDecoder decodes one canonical code bit by bit, as zlib's puff.c
// does: after l bits the code is a code of length l if it lies within the
// count[l] consecutive codes of that length.
type huffmanDecoder struct {
	maxLen int
	count  [maxCodeLen + 1]int // codes of each length
	symbol []uint16            // symbols ordered by (length, symbol)
}

// newHuffmanDecoder checks that lengths (each at most maxCodeLen) describe a
// canonical code this package writes: not oversubscribed (Kraft sum at most
// 1), and complete (sum exactly 1) unless exactly one symbol has a code, of
// length 1. A table where no symbol has a code is valid; decoding from it
// fails.
func newHuffmanDecoder(lengths []uint8) (*huffmanDecoder, error) {
	h := &huffmanDecoder{}
	used := 0
	for _, l := range lengths {
		if l > maxCodeLen {
			return nil, fmt.Errorf("%w: code length %d over %d", errBadTable, l, maxCodeLen)
		}
		if l > 0 {
			h.count[l]++
			h.maxLen = max(h.maxLen, int(l))
			used++
		}
	}
	left := 1 // codes left of the current length
	for l := 1; l <= maxCodeLen; l++ {
		left = left<<1 - h.count[l]
		if left < 0 {
			return nil, fmt.Errorf("%w: oversubscribed", errBadTable)
		}
	}
	switch {
	case used == 1 && h.count[1] != 1:
		return nil, fmt.Errorf("%w: a single code must have length 1", errBadTable)
	case used > 1 && left != 0:
		return nil, fmt.Errorf("%w: incomplete", errBadTable)
	}
	var offs [maxCodeLen + 2]int
	for l := 1; l <= maxCodeLen; l++ {
		offs[l+1] = offs[l] + h.count[l]
	}
	h.symbol = make([]uint16, used)
	for s, l := range lengths {
		if l > 0 {
			h.symbol[offs[l]] = uint16(s)
			offs[l]++
		}
	}
	return h, nil
}

// decode reads one symbol: errBitsEnd if the stream ends within the code,
// errBadCode if the bits are no code of the table.
func (h *huffmanDecoder) decode(r *bitReader) (int, error) {
	code, first, index := 0, 0, 0 // code so far, first code of length l, its index in symbol
	for l := 1; l <= h.maxLen; l++ {
		b, ok := r.bit()
		if !ok {
			return 0, errBitsEnd
		}
		code |= int(b)
		if n := h.count[l]; code-first < n {
			return int(h.symbol[index+code-first]), nil
		}
		index += h.count[l]
		first = (first + h.count[l]) << 1
		code <<= 1
	}
	return 0, errBadCode
}
