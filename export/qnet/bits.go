package qnet

// Bit streams of the compressed weight encodings (doc.go, "Bit streams").
// Bit i of a stream is bit i%8 (counting from the least significant) of byte
// i/8. Fixed-width fields are written least significant bit first; Huffman
// codes are written most significant bit first, as in DEFLATE (RFC 1951
// §3.1.1), so that a decoder can walk a code bit by bit. A stream ends at a
// byte boundary; the unused high bits of its last byte are 0.

// bitWriter appends a bit stream to b.
type bitWriter struct {
	b   []byte
	acc uint64 // pending bits, the oldest in bit 0
	n   uint   // number of pending bits, < 8 between calls
}

// bits writes the low n bits of v, least significant first. n <= 32.
func (w *bitWriter) bits(v uint64, n uint) {
	w.acc |= (v & (1<<n - 1)) << w.n
	w.n += n
	for w.n >= 8 {
		w.b = append(w.b, byte(w.acc))
		w.acc >>= 8
		w.n -= 8
	}
}

// code writes a Huffman code of the given length, most significant bit
// first.
func (w *bitWriter) code(code uint32, length uint) {
	var rev uint64
	for i := uint(0); i < length; i++ {
		rev |= uint64(code>>i&1) << (length - 1 - i)
	}
	w.bits(rev, length)
}

// finish pads the stream with zero bits to a byte boundary and returns it.
func (w *bitWriter) finish() []byte {
	if w.n > 0 {
		w.b = append(w.b, byte(w.acc))
		w.acc, w.n = 0, 0
	}
	return w.b
}

// bitReader reads a bit stream from b. Positions are int64 so that bit
// counts of large inputs cannot overflow on any platform.
type bitReader struct {
	b   []byte
	pos int64 // bits consumed
}

// remaining returns the number of unread bits.
func (r *bitReader) remaining() int64 { return 8*int64(len(r.b)) - r.pos }

// bits reads an n-bit field (n <= 32), least significant bit first. It
// returns false, and consumes nothing, if fewer than n bits remain.
func (r *bitReader) bits(n uint) (uint64, bool) {
	if int64(n) > r.remaining() {
		return 0, false
	}
	var v uint64
	for got := uint(0); got < n; {
		off := uint(r.pos & 7)
		take := min(8-off, n-got)
		v |= uint64(r.b[r.pos>>3]>>off&(1<<take-1)) << got
		got += take
		r.pos += int64(take)
	}
	return v, true
}

// bit reads one bit; false if the stream is exhausted.
func (r *bitReader) bit() (uint32, bool) {
	if r.pos >= 8*int64(len(r.b)) {
		return 0, false
	}
	v := uint32(r.b[r.pos>>3]>>(r.pos&7)) & 1
	r.pos++
	return v, true
}

// finish ends the stream at the next byte boundary and returns its length
// in bytes, and false if a padding bit of the last byte is set.
func (r *bitReader) finish() (int, bool) {
	n := int((r.pos + 7) >> 3)
	if used := uint(r.pos & 7); used != 0 && r.b[n-1]>>used != 0 {
		return n, false
	}
	return n, true
}

// bitLen returns the number of bits needed to write v: 0 for 0, else
// floor(log2(v)) + 1.
func bitLen(v uint64) uint {
	n := uint(0)
	for ; v != 0; v >>= 1 {
		n++
	}
	return n
}
