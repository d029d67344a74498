package qnet

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// decodeBlock parses one version-2 weight block of count weights, which
// must fill block exactly.
func decodeBlock(block []byte, count int) (int, []int8, error) {
	p := &parser{b: block, version: 2}
	bits, w := p.weightBlock(0, count)
	if p.err == nil && p.off != len(block) {
		p.fail(false, fmt.Sprintf("%d bytes after the block", len(block)-p.off))
	}
	return bits, w, p.err
}

// weightPatterns returns weight vectors at the given width that stress the
// encodings: empty and full layers, single nonzeros at both ends, gaps
// around every power of two up to 2^16 and beyond, codebooks of one value
// and of every value, and random densities.
func weightPatterns(rng *rand.Rand, bits int) map[string][]int8 {
	wmax := 1<<(bits-1) - 1
	nonzero := func() int8 {
		v := int8(1 + rng.IntN(wmax))
		if rng.IntN(2) == 0 {
			v = -v
		}
		return v
	}
	random := func(n int, density float64) []int8 {
		w := make([]int8, n)
		for i := range w {
			if rng.Float64() < density {
				w[i] = nonzero()
			}
		}
		return w
	}
	at := func(n int, pos ...int) []int8 {
		w := make([]int8, n)
		for _, p := range pos {
			w[p] = nonzero()
		}
		return w
	}
	ps := map[string][]int8{
		"one zero":        make([]int8, 1),
		"one nonzero":     at(1, 0),
		"all zero":        make([]int8, 37),
		"single first":    at(37, 0),
		"single last":     at(37, 36),
		"single middle":   at(1000, 517),
		"full":            random(100, 1),
		"half":            random(300, 0.5),
		"5%":              random(3000, 0.05),
		"0.5%":            random(3000, 0.005),
		"gaps 2^16":       at(200_000, 0, 65_535, 65_535+65_537, 65_535+65_537+65_538, 199_999),
		"gaps over 2^16":  at(300_000, 70_000, 280_000),
		"codebook of one": func() []int8 { w := random(500, 0.3); return mapNonzero(w, int8(wmax)) }(),
	}
	// Gaps of 2^g-1, 2^g, 2^g+1 and 2^(g+1)-1, 2^(g+1), 2^(g+1)+1 zeros for
	// g = 1..9: one gap, one filler, and two fillers.
	var pos []int
	last := -1
	for g := 1; g <= 9; g++ {
		for _, z := range []int{1<<g - 1, 1 << g, 1<<g + 1, 2<<g - 1, 2 << g, 2<<g + 1} {
			last += z + 1
			pos = append(pos, last)
		}
	}
	ps["filler edges"] = at(last+3, pos...)
	// Every value of the width, each several times, in a shuffled order:
	// at 8 bits a codebook of all 254 nonzero values.
	var all []int8
	for v := -wmax; v <= wmax; v++ {
		for range 3 {
			all = append(all, int8(v))
		}
	}
	rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	ps["every value"] = all
	return ps
}

func mapNonzero(w []int8, v int8) []int8 {
	for i := range w {
		if w[i] != 0 {
			w[i] = v
		}
	}
	return w
}

// TestWeightEncodingsRoundTrip encodes every pattern at every width in
// every encoding and variant, decodes it, and checks the weights and the
// sizes the encoder predicts when it chooses a variant.
func TestWeightEncodingsRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	for bits := 2; bits <= 8; bits++ {
		for name, w := range weightPatterns(rng, bits) {
			s := scanWeights(w, bits)
			type variant struct {
				name string
				blk  weightBlock
				want int // predicted block length, or 0
			}
			vs := []variant{
				{"dense", encodeDense(s), weightHeaderLen + PackedLen(len(w), bits)},
				{"sparse", encodeSparse(s, -1, 0), 0},
				{"bitmap", encodeSparse(s, sparseBitmap, 1), weightHeaderLen + 1 + (len(w)+len(s.vals)*bits+7)/8},
				{"huffman", encodeHuffman(s, -1), 0},
			}
			for g := uint(1); g <= maxSparseGapBits; g++ {
				vs = append(vs, variant{fmt.Sprintf("relative g=%d", g), encodeSparse(s, sparseRelative, g),
					weightHeaderLen + 2 + 4 + (s.entries(g)*int(g+uint(bits))+7)/8})
			}
			for g := 0; g <= maxHuffmanGapBits; g++ {
				h := s.huffmanPlan(uint(g))
				vs = append(vs, variant{fmt.Sprintf("huffman g=%d", g), encodeHuffman(s, g), weightHeaderLen + h.blockLen()})
			}
			for _, v := range vs {
				if v.want != 0 && len(v.blk.data) != v.want {
					t.Errorf("bits %d %s %s: block is %d bytes, predicted %d", bits, name, v.name, len(v.blk.data), v.want)
				}
				gotBits, got, err := decodeBlock(v.blk.data, len(w))
				if err != nil {
					t.Fatalf("bits %d %s %s: %v", bits, name, v.name, err)
				}
				if gotBits != bits || !slices.Equal(got, w) {
					t.Fatalf("bits %d %s %s: round trip differs", bits, name, v.name)
				}
			}
			// The chosen variants are the smallest of their encoding.
			sparse, huff := len(vs[1].blk.data), len(vs[3].blk.data)
			for _, v := range vs[4:] {
				if strings.HasPrefix(v.name, "relative") && len(v.blk.data) < sparse ||
					strings.HasPrefix(v.name, "huffman") && len(v.blk.data) < huff {
					t.Errorf("bits %d %s: %s is %d bytes, smaller than the chosen variant", bits, name, v.name, len(v.blk.data))
				}
			}
			if len(vs[2].blk.data) < sparse {
				t.Errorf("bits %d %s: bitmap is smaller than the chosen sparse variant", bits, name)
			}
		}
	}
}

// TestWeightBlockTruncation cuts blocks of every encoding at every byte:
// always a truncation error.
func TestWeightBlockTruncation(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	w := weightPatterns(rng, 5)["5%"][:700]
	share := mapNonzero(slices.Clone(w), 3)
	s, s1 := scanWeights(w, 5), scanWeights(share, 5)
	for _, blk := range []weightBlock{
		encodeDense(s), encodeSparse(s, sparseRelative, 3), encodeSparse(s, sparseBitmap, 1),
		encodeHuffman(s, 0), encodeHuffman(s, 4), encodeHuffman(s1, 0), encodeHuffman(s1, 6),
	} {
		for n := range len(blk.data) {
			_, _, err := decodeBlock(blk.data[:n], len(w))
			var fe *FormatError
			if !errors.As(err, &fe) || !fe.Truncated {
				t.Fatalf("%v block (g=%d) cut to %d of %d bytes: %v, want a truncation *FormatError",
					blk.enc, blk.gapBits, n, len(blk.data), err)
			}
		}
	}
}

// TestWeightBlockBitFlips flips every bit of blocks of every encoding:
// typed errors or other weights, never a panic.
func TestWeightBlockBitFlips(t *testing.T) {
	rng := rand.New(rand.NewPCG(45, 46))
	w := weightPatterns(rng, 4)["5%"][:400]
	s := scanWeights(w, 4)
	for _, blk := range []weightBlock{
		encodeSparse(s, sparseRelative, 2), encodeSparse(s, sparseBitmap, 1),
		encodeHuffman(s, 0), encodeHuffman(s, 3),
	} {
		for i := range 8 * len(blk.data) {
			bad := bytes.Clone(blk.data)
			bad[i/8] ^= 1 << (i % 8)
			_, _, err := decodeBlock(bad, len(w))
			var fe *FormatError
			var ue *UnsupportedError
			if err != nil && !errors.As(err, &fe) && !errors.As(err, &ue) {
				t.Fatalf("%v flip %d: untyped error %v", blk.enc, i, err)
			}
		}
	}
}

// huffmanBlock builds a Huffman weight block by hand: codebook, index code
// lengths, gap code lengths (g > 0), then the raw stream bits.
type huffmanBlock struct {
	bits, count int
	book        []int8
	g           int
	entries     uint32
	indexLen    []uint8
	gapLen      []uint8
	stream      func(w *bitWriter, index, gap func(int))
}

func (h huffmanBlock) encode() []byte {
	b := []byte{2, byte(h.bits)}
	b = binary.LittleEndian.AppendUint32(b, uint32(h.count))
	b = append(b, byte(len(h.book)), byte(h.g))
	if h.g > 0 {
		b = binary.LittleEndian.AppendUint32(b, h.entries)
	}
	w := bitWriter{b: b}
	for _, v := range h.book {
		w.bits(uint64(uint8(v)), uint(h.bits))
	}
	writeLengths(&w, h.indexLen)
	if h.g > 0 {
		writeLengths(&w, h.gapLen)
	}
	ic, gc := canonicalCodes(h.indexLen), canonicalCodes(h.gapLen)
	index := func(s int) { w.code(ic[s], uint(h.indexLen[s])) }
	gap := func(s int) { w.code(gc[s], uint(h.gapLen[s])) }
	if h.stream != nil {
		h.stream(&w, index, gap)
	}
	return w.finish()
}

// relativeBlock builds a sparse relative-index block by hand.
func relativeBlock(bits, count, g int, entries [][2]int) []byte {
	b := []byte{1, byte(bits)}
	b = binary.LittleEndian.AppendUint32(b, uint32(count))
	b = append(b, sparseRelative, byte(g))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(entries)))
	w := bitWriter{b: b}
	for _, e := range entries {
		w.bits(uint64(e[0]), uint(g))
		w.bits(uint64(uint8(int8(e[1]))), uint(bits))
	}
	return w.finish()
}

// bitmapBlock builds a sparse bitmap block by hand.
func bitmapBlock(bits int, mask []bool, vals []int8) []byte {
	b := []byte{1, byte(bits)}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(mask)))
	b = append(b, sparseBitmap)
	w := bitWriter{b: b}
	for _, m := range mask {
		w.bits(uint64(b2u(m)), 1)
	}
	for _, v := range vals {
		w.bits(uint64(uint8(v)), uint(bits))
	}
	return w.finish()
}

// TestDecodeBadBlocks feeds hand-made malformed blocks of every encoding.
func TestDecodeBadBlocks(t *testing.T) {
	four := []uint8{2, 2, 2, 2} // a complete code of 4 symbols
	pad := func(b []byte) []byte { b[len(b)-1] |= 0x80; return b }
	withByte := func(b []byte, off int, v byte) []byte { b[off] = v; return b }
	const (
		format      = "format"
		truncated   = "truncated"
		unsupported = "unsupported"
	)
	for _, tc := range []struct {
		name  string
		block []byte
		count int
		want  string // error class
		msg   string // substring of the message
	}{
		{"encoding 3", []byte{3, 4, 1, 0, 0, 0}, 1, unsupported, "encoding 3"},
		{"sparse sub-format 2", []byte{1, 4, 1, 0, 0, 0, 2}, 1, unsupported, "sub-format 2"},
		{"relative g 0", relativeBlock(4, 8, 0, nil), 8, format, "gap bits 0"},
		{"relative g 17", withByte(relativeBlock(4, 8, 1, nil), 7, 17), 8, format, "gap bits 17"},
		{"relative entries > count", relativeBlock(4, 2, 2, [][2]int{{0, 1}, {0, 1}, {0, 1}}), 2, format, "3 sparse entries for 2"},
		{"relative past the end", relativeBlock(4, 3, 2, [][2]int{{3, 1}}), 3, format, "past the last weight"},
		{"relative zero entry", relativeBlock(4, 8, 2, [][2]int{{1, 0}, {0, 1}}), 8, format, "not a filler"},
		{"relative trailing filler", relativeBlock(4, 9, 2, [][2]int{{0, 1}, {3, 0}}), 9, format, "end with a filler"},
		{"relative padding", pad(relativeBlock(3, 9, 2, [][2]int{{0, 1}})), 9, format, "padding"},
		{"relative truncated", relativeBlock(4, 9, 2, [][2]int{{0, 1}, {1, 1}})[:12], 9, truncated, "truncated"},
		{"bitmap zero value", bitmapBlock(4, []bool{false, true}, []int8{0}), 2, format, "value is 0"},
		{"bitmap padding", pad(bitmapBlock(2, []bool{true}, []int8{1})), 1, format, "padding"},
		{"bitmap truncated", bitmapBlock(8, []bool{true, true, true}, []int8{1, 2, 3})[:9], 3, truncated, "truncated"},
		{"huffman g 9", withByte(huffmanBlock{bits: 4, count: 1, indexLen: []uint8{0}}.encode(), 7, 9), 1, format, "gap bits 9"},
		{"huffman entries > count", huffmanBlock{bits: 4, count: 2, g: 1, entries: 3, indexLen: []uint8{0}, gapLen: []uint8{0, 0}}.encode(), 2, format, "3 Huffman entries for 2"},
		{"huffman codebook order", huffmanBlock{bits: 4, count: 1, book: []int8{3, 2}, indexLen: []uint8{1, 1, 0}}.encode(), 1, format, "strictly increasing"},
		{"huffman codebook zero", huffmanBlock{bits: 4, count: 1, book: []int8{0}, indexLen: []uint8{1, 1}}.encode(), 1, format, "strictly increasing"},
		{"huffman oversubscribed", huffmanBlock{bits: 4, count: 1, book: []int8{1, 2}, indexLen: []uint8{1, 1, 1}}.encode(), 1, format, "oversubscribed"},
		{"huffman incomplete", huffmanBlock{bits: 4, count: 1, book: []int8{1, 2}, indexLen: []uint8{1, 2, 0}}.encode(), 1, format, "incomplete"},
		{"huffman single code of length 2", huffmanBlock{bits: 4, count: 1, book: []int8{1, 2}, indexLen: []uint8{0, 2, 0}}.encode(), 1, format, "length 1"},
		{"huffman table longest", withByte(huffmanBlock{bits: 8, count: 1, book: []int8{5}, indexLen: []uint8{1, 1}}.encode(), 9, 0x03), 1, format, "longest length"},
		{"huffman invalid code", huffmanBlock{bits: 4, count: 1, indexLen: []uint8{1},
			stream: func(w *bitWriter, _, _ func(int)) { w.bits(1, 1) }}.encode(), 1, format, "invalid Huffman code"},
		{"huffman empty table", huffmanBlock{bits: 4, count: 1, indexLen: []uint8{0}}.encode(), 1, format, "invalid Huffman code"},
		{"huffman runs out", huffmanBlock{bits: 4, count: 6, book: []int8{1, 2, 3}, indexLen: four,
			stream: func(w *bitWriter, index, _ func(int)) { index(1); index(2) }}.encode(), 6, truncated, "ends early"},
		{"huffman past the end", huffmanBlock{bits: 4, count: 3, book: []int8{1}, g: 2, entries: 1, indexLen: []uint8{1, 1}, gapLen: four,
			stream: func(w *bitWriter, index, gap func(int)) { gap(3); index(1) }}.encode(), 3, format, "past the last weight"},
		{"huffman zero entry", huffmanBlock{bits: 4, count: 9, book: []int8{1}, g: 2, entries: 2, indexLen: []uint8{1, 1}, gapLen: four,
			stream: func(w *bitWriter, index, gap func(int)) { gap(1); index(0); gap(0); index(1) }}.encode(), 9, format, "not a filler"},
		{"huffman trailing filler", huffmanBlock{bits: 4, count: 9, book: []int8{1}, g: 2, entries: 2, indexLen: []uint8{1, 1}, gapLen: four,
			stream: func(w *bitWriter, index, gap func(int)) { gap(0); index(1); gap(3); index(0) }}.encode(), 9, format, "end with a filler"},
		{"huffman padding", pad(huffmanBlock{bits: 4, count: 1, book: []int8{1}, indexLen: []uint8{1, 1},
			stream: func(w *bitWriter, index, _ func(int)) { index(1) }}.encode()), 1, format, "padding"},
		{"huffman truncated table", huffmanBlock{bits: 8, count: 1, book: []int8{1, 2, 3}, indexLen: four}.encode()[:10], 1, truncated, "ends early"},
	} {
		_, _, err := decodeBlock(tc.block, tc.count)
		var fe *FormatError
		var ue *UnsupportedError
		got := ""
		switch {
		case err == nil:
			t.Errorf("%s: no error", tc.name)
			continue
		case errors.As(err, &ue):
			got = unsupported
		case errors.As(err, &fe) && fe.Truncated:
			got = truncated
		case errors.As(err, &fe):
			got = format
		default:
			t.Errorf("%s: untyped error %T %v", tc.name, err, err)
			continue
		}
		if got != tc.want || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v (%s), want a %s error containing %q", tc.name, err, got, tc.want, tc.msg)
		}
	}
}

// TestHandBlocksDecode checks hand-made valid blocks, pinning the bit order
// of doc.go: fields least significant bit first, Huffman codes most
// significant bit first.
func TestHandBlocksDecode(t *testing.T) {
	// Relative indices, g = 2, 3-bit values: weights 5 zeros... (gap 3 =
	// filler at position 3, then gap 0 -> position 4 holds -2), then +1 at 6.
	rel := relativeBlock(3, 8, 2, [][2]int{{3, 0}, {0, -2}, {1, 1}})
	// Stream: entry = gap (2 bits) then value (3 bits), LSB first:
	// 11 000 | 00 011 | 10 100 -> bits 1100000011 10100 ->
	// byte0 = bits 0..7 = 1,1,0,0,0,0,0,0 -> 0x03; byte1 = 1,1,1,0,1,0,0,0 -> 0x17
	if want := []byte{0x03, 0x17}; !bytes.Equal(rel[12:], want) {
		t.Errorf("relative stream %#x, want %#x", rel[12:], want)
	}
	_, w, err := decodeBlock(rel, 8)
	if want := []int8{0, 0, 0, 0, -2, 0, 1, 0}; err != nil || !slices.Equal(w, want) {
		t.Errorf("relative: %v %v, want %v", w, err, want)
	}
	// Canonical codes of lengths (2, 1, 3, 3): symbol 1 = 0, symbol 0 = 10,
	// symbol 2 = 110, symbol 3 = 111 (RFC 1951 §3.2.2).
	if got, want := canonicalCodes([]uint8{2, 1, 3, 3}), []uint32{0b10, 0b0, 0b110, 0b111}; !slices.Equal(got, want) {
		t.Errorf("canonical codes %b, want %b", got, want)
	}
	h := huffmanBlock{bits: 4, count: 4, book: []int8{-3, 2, 5}, indexLen: []uint8{2, 1, 3, 3},
		stream: func(w *bitWriter, index, _ func(int)) { index(3); index(0); index(1); index(2) }}.encode()
	// After the header (6), K and g (2): codebook -3, 2, 5 in 4 bits
	// (1101 0010 0101 LSB first), table M=3 (4 bits), lengths 2,1,3,3 in 2
	// bits each, then the codes 111, 10, 0, 110 most significant bit first.
	var ref bitWriter
	for _, f := range [][2]uint64{{0xd, 4}, {0x2, 4}, {0x5, 4}, {3, 4}, {2, 2}, {1, 2}, {3, 2}, {3, 2}} {
		ref.bits(f[0], uint(f[1]))
	}
	for _, bit := range []uint64{1, 1, 1, 1, 0, 0, 1, 1, 0} {
		ref.bits(bit, 1)
	}
	if want := ref.finish(); !bytes.Equal(h[8:], want) {
		t.Errorf("Huffman stream %08b, want %08b", h[8:], want)
	}
	_, w, err = decodeBlock(h, 4)
	if want := []int8{5, 0, -3, 2}; err != nil || !slices.Equal(w, want) {
		t.Errorf("Huffman: %v %v, want %v", w, err, want)
	}
}

// TestCodebook255 decodes a Huffman block whose codebook has 255 entries,
// every 8-bit value but 0. The encoder never writes one (-128 is outside the
// narrow range), and Validate rejects the decoded weights.
func TestCodebook255(t *testing.T) {
	book := make([]int8, 0, 255)
	for v := -128; v < 128; v++ {
		if v != 0 {
			book = append(book, int8(v))
		}
	}
	lengths := make([]uint8, 256) // 256 symbols of 8 bits: a complete code
	for i := range lengths {
		lengths[i] = 8
	}
	blk := huffmanBlock{bits: 8, count: 256, book: book, indexLen: lengths,
		stream: func(w *bitWriter, index, _ func(int)) {
			for s := 255; s >= 0; s-- {
				index(s)
			}
		}}.encode()
	_, w, err := decodeBlock(blk, 256)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range w {
		want := int8(0) // symbol 255-i: codebook entry 254-i, or 0 for the last
		if i < 255 {
			want = book[254-i]
		}
		if v != want {
			t.Fatalf("weight %d = %d, want %d", i, v, want)
		}
	}
	if w[0] != 127 || w[126] != 1 || w[127] != -1 || w[254] != -128 || w[255] != 0 {
		t.Fatalf("weights %v", w)
	}
	m := &Model{InC: 1, InH: 16, InW: 16, Layers: []Layer{&FullyConnected{In: 256, Out: 1, WeightBits: 8, Weights: w,
		Bias: []int32{0}, Multiplier: []int32{0}, Shift: []int32{0}, ActMax: 255, OutBits: 8}}}
	var re *RangeError
	if err := m.Validate(); !errors.As(err, &re) {
		t.Errorf("Validate: %v, want a *RangeError for -128", err)
	}
}
