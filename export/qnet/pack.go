package qnet

import "fmt"

// PackedLen returns the number of bytes PackBits uses for n values of the
// given width: ceil(n*bits/8).
func PackedLen(n, bits int) int { return (n*bits + 7) / 8 }

// PackBits packs signed values of the given width (2..8 bits) densely,
// LSB-first: value i occupies bits [i*bits, (i+1)*bits) of the little-endian
// bit stream, in two's complement. At 8 bits that is one value per byte, at 4
// bits two per byte (value 2i in the low nibble), at 2, 3, 5, 6 and 7 bits
// values straddle byte boundaries. Unused high bits of the last byte are 0.
//
// It panics if bits is outside 2..8 or a value does not fit in bits bits
// (two's complement, [-2^(bits-1), 2^(bits-1)-1]).
func PackBits(vals []int8, bits int) []byte {
	if bits < 2 || bits > 8 {
		panic(fmt.Sprintf("qnet: PackBits: bits %d outside 2..8", bits))
	}
	lo, hi := -(1 << (bits - 1)), 1<<(bits-1)-1
	out := make([]byte, PackedLen(len(vals), bits))
	mask := uint(1)<<bits - 1
	pos := 0 // bit position in out
	for i, v := range vals {
		if int(v) < lo || int(v) > hi {
			panic(fmt.Sprintf("qnet: PackBits: value %d at index %d does not fit in %d bits", v, i, bits))
		}
		u := uint(uint8(v)) & mask
		// The value spans at most two bytes: bits <= 8.
		out[pos>>3] |= byte(u << (pos & 7))
		if pos&7+bits > 8 {
			out[pos>>3+1] |= byte(u >> (8 - pos&7))
		}
		pos += bits
	}
	return out
}

// UnpackBits is the inverse of PackBits: it returns the n values of the given
// width packed in b, sign-extended. It returns a *FormatError unless bits is
// in 2..8, n >= 0, len(b) == PackedLen(n, bits) and the unused high bits of
// the last byte are zero (so every value set has exactly one packing).
func UnpackBits(b []byte, n, bits int) ([]int8, error) {
	if bits < 2 || bits > 8 {
		return nil, &FormatError{Offset: -1, Msg: fmt.Sprintf("packed bit width %d outside 2..8", bits)}
	}
	if n < 0 {
		return nil, &FormatError{Offset: -1, Msg: fmt.Sprintf("negative value count %d", n)}
	}
	if n > len(b)*8/bits { // checked before n*bits can overflow
		return nil, &FormatError{Offset: -1, Truncated: true,
			Msg: fmt.Sprintf("truncated: %d bytes cannot hold %d %d-bit values", len(b), n, bits)}
	}
	if len(b) != PackedLen(n, bits) {
		return nil, &FormatError{Offset: -1,
			Msg: fmt.Sprintf("%d bytes for %d %d-bit values, want %d", len(b), n, bits, PackedLen(n, bits))}
	}
	if used := n * bits % 8; used != 0 && b[len(b)-1]>>used != 0 {
		return nil, &FormatError{Offset: -1, Msg: "nonzero padding bits after the last packed value"}
	}
	out := make([]int8, n)
	if bits == 8 {
		for i := range out {
			out[i] = int8(b[i])
		}
		return out, nil
	}
	mask := uint(1)<<bits - 1
	shift := 8 - bits // sign extension: move the value's top bit to bit 7
	pos := 0
	for i := range out {
		u := uint(b[pos>>3]) >> (pos & 7)
		if pos&7+bits > 8 {
			u |= uint(b[pos>>3+1]) << (8 - pos&7)
		}
		out[i] = int8(uint8(u&mask)<<shift) >> shift
		pos += bits
	}
	return out, nil
}
