package qnet

import (
	"errors"
	"fmt"
)

// Weight blocks: the stored form of a layer's weights (doc.go, "Weight
// blocks"). In memory a layer always holds its dense weights; an encoding is
// only how they are stored.

// A WeightEncoding is the storage form of a layer's weights. Its zero value,
// EncodingAuto, is a choice rather than a form: per layer, the smallest of
// the others. The encoding byte of a weight block is the value minus one.
type WeightEncoding uint8

// The weight encodings.
const (
	// EncodingAuto picks, per layer, the encoding with the smallest block
	// (the lowest encoding among equal sizes).
	EncodingAuto WeightEncoding = iota
	// EncodingDense stores every weight at WeightBits bits (byte 0).
	EncodingDense
	// EncodingSparse stores the positions of the nonzero weights, as
	// relative indices or as a bitmap, and their values at WeightBits bits
	// (byte 1).
	EncodingSparse
	// EncodingHuffman stores a codebook of the distinct nonzero values and
	// Huffman codes of the codebook indices and of the relative indices
	// (byte 2).
	EncodingHuffman
)

func (e WeightEncoding) String() string {
	switch e {
	case EncodingAuto:
		return "auto"
	case EncodingDense:
		return "dense"
	case EncodingSparse:
		return "sparse"
	case EncodingHuffman:
		return "huffman"
	}
	return fmt.Sprintf("WeightEncoding(%d)", uint8(e))
}

const (
	weightHeaderLen = 1 + 1 + 4 // encoding, bits, count

	sparseRelative = 0 // sub-formats of EncodingSparse
	sparseBitmap   = 1

	maxSparseGapBits  = 16 // g of EncodingSparse's relative indices: 1..16
	maxHuffmanGapBits = 8  // g of EncodingHuffman: 0 (no gaps) or 1..8, at most 256 gap symbols
)

// weightBlock is an encoded weight block and what Storage reports of it.
type weightBlock struct {
	data []byte // the block, from its encoding byte on
	enc  WeightEncoding

	gapBits     int // g; 0 without relative indices
	entries     int // coded entries: every weight, or the nonzeros plus fillers
	indexBits   int // width of one value or codebook index before entropy coding
	indexStream int // bits of the values or codebook indices as written
	posStream   int // bits of the positions as written: relative indices or bitmap
	tableBits   int // bits of the codebook and code-length tables
}

// weightScan is what the encoders need to know of a layer's weights.
type weightScan struct {
	w        []int8
	bits     int
	skips    []int    // zero weights between each nonzero and the previous one (or the start)
	vals     []int8   // the nonzero weights in order
	codebook []int8   // the distinct nonzero values, increasing
	sym      [256]int // codebook index + 1 of every value, by uint8(value)
	count    []int    // occurrences of every codebook entry
}

func scanWeights(w []int8, bits int) *weightScan {
	s := &weightScan{w: w, bits: bits}
	var seen [256]int
	last := -1
	for i, v := range w {
		if v == 0 {
			continue
		}
		s.skips = append(s.skips, i-last-1)
		s.vals = append(s.vals, v)
		seen[uint8(v)]++
		last = i
	}
	for v := -128; v < 128; v++ {
		if n := seen[uint8(int8(v))]; n > 0 {
			s.codebook = append(s.codebook, int8(v))
			s.count = append(s.count, n)
			s.sym[uint8(int8(v))] = len(s.codebook)
		}
	}
	return s
}

// entries returns the entries of a relative-index stream with g-bit gaps:
// every nonzero, plus a filler for every 2^g zeros it skips that one gap
// cannot.
func (s *weightScan) entries(g uint) int {
	e := len(s.vals)
	for _, z := range s.skips {
		e += z >> g
	}
	return e
}

func (s *weightScan) header(enc WeightEncoding) []byte {
	b := []byte{byte(enc - 1), byte(s.bits)}
	return le.AppendUint32(b, uint32(len(s.w)))
}

// encodeDense is encoding 0: every weight, PackBits.
func encodeDense(s *weightScan) weightBlock {
	n := len(s.w)
	return weightBlock{
		data: append(s.header(EncodingDense), PackBits(s.w, s.bits)...),
		enc:  EncodingDense, entries: n, indexBits: s.bits, indexStream: n * s.bits,
	}
}

// encodeSparse is encoding 1 in the given sub-format, with g-bit relative
// indices; sub < 0 picks the smaller sub-format, g == 0 the best width.
func encodeSparse(s *weightScan, sub int, g uint) weightBlock {
	b := uint(s.bits)
	if g == 0 {
		best := -1
		for w := uint(1); w <= maxSparseGapBits; w++ {
			if bytes := (s.entries(w)*int(w+b) + 7) / 8; best < 0 || bytes < best {
				best, g = bytes, w
			}
		}
	}
	if sub < 0 {
		sub = sparseRelative
		relative := 1 + 4 + (s.entries(g)*int(g+b)+7)/8
		bitmap := (len(s.w) + len(s.vals)*int(b) + 7) / 8
		if bitmap < relative {
			sub = sparseBitmap
		}
	}
	blk := weightBlock{enc: EncodingSparse, entries: len(s.vals), indexBits: s.bits}
	data := append(s.header(EncodingSparse), byte(sub))
	var bw bitWriter
	switch sub {
	case sparseRelative:
		e := s.entries(g)
		data = append(data, byte(g))
		data = le.AppendUint32(data, uint32(e))
		bw.b = data
		mask := 1<<g - 1
		for i, z := range s.skips {
			for ; z > mask; z -= mask + 1 {
				bw.bits(uint64(mask), g) // filler: the zero weight 2^g places on
				bw.bits(0, b)
			}
			bw.bits(uint64(z), g)
			bw.bits(uint64(uint8(s.vals[i])), b)
		}
		blk.gapBits, blk.entries = int(g), e
		blk.posStream = e * int(g)
	case sparseBitmap:
		bw.b = data
		for _, v := range s.w {
			bw.bits(uint64(b2u(v != 0)), 1)
		}
		for _, v := range s.vals {
			bw.bits(uint64(uint8(v)), b)
		}
		blk.posStream = len(s.w)
	}
	blk.indexStream = blk.entries * s.bits
	blk.data = bw.finish()
	return blk
}

func b2u(b bool) uint8 {
	if b {
		return 1
	}
	return 0
}

// huffmanPlan is one variant of encoding 2: gap width g (0: no gaps) and its
// codes.
type huffmanPlan struct {
	g                uint
	entries          int
	indexFreq        []int // codebook index + 1; 0 is the zero weight (a filler with gaps)
	gapFreq          []int // g > 0
	indexLen, gapLen []uint8
	bits             int // the bit stream, before padding
}

func (s *weightScan) huffmanPlan(g uint) huffmanPlan {
	k := len(s.codebook)
	h := huffmanPlan{g: g, indexFreq: make([]int, k+1)}
	if g == 0 {
		h.entries = len(s.w)
		h.indexFreq[0] = len(s.w) - len(s.vals)
		copy(h.indexFreq[1:], s.count)
	} else {
		mask := 1<<g - 1
		h.gapFreq = make([]int, mask+1)
		for i, z := range s.skips {
			fillers := z >> g
			h.gapFreq[mask] += fillers
			h.indexFreq[0] += fillers
			h.gapFreq[z&mask]++
			h.indexFreq[s.sym[uint8(s.vals[i])]]++
			h.entries += fillers + 1
		}
		h.gapLen = huffmanLengths(h.gapFreq, maxCodeLen)
		h.bits += lengthsBits(h.gapLen) + codeBits(h.gapFreq, h.gapLen)
	}
	h.indexLen = huffmanLengths(h.indexFreq, maxCodeLen)
	h.bits += k*s.bits + lengthsBits(h.indexLen) + codeBits(h.indexFreq, h.indexLen)
	return h
}

// blockLen returns the bytes of the block that follow the common header.
func (h *huffmanPlan) blockLen() int {
	n := 1 + 1 + (h.bits+7)/8 // K, g, stream
	if h.g > 0 {
		n += 4 // E
	}
	return n
}

// encodeHuffman is encoding 2 with g-bit gaps (0: no gaps, every weight's
// index coded); g < 0 picks the smallest variant.
func encodeHuffman(s *weightScan, g int) weightBlock {
	var h huffmanPlan
	if g >= 0 {
		h = s.huffmanPlan(uint(g))
	} else {
		for w := uint(0); w <= maxHuffmanGapBits; w++ {
			if c := s.huffmanPlan(w); w == 0 || c.blockLen() < h.blockLen() {
				h = c
			}
		}
	}
	k := len(s.codebook)
	data := append(s.header(EncodingHuffman), byte(k), byte(h.g))
	if h.g > 0 {
		data = le.AppendUint32(data, uint32(h.entries))
	}
	bw := bitWriter{b: data}
	for _, v := range s.codebook {
		bw.bits(uint64(uint8(v)), uint(s.bits))
	}
	writeLengths(&bw, h.indexLen)
	indexCode := canonicalCodes(h.indexLen)
	index := func(sym int) { bw.code(indexCode[sym], uint(h.indexLen[sym])) }
	blk := weightBlock{
		enc: EncodingHuffman, gapBits: int(h.g), entries: h.entries, indexBits: int(bitLen(uint64(k))),
		indexStream: codeBits(h.indexFreq, h.indexLen),
		tableBits:   k*s.bits + lengthsBits(h.indexLen),
	}
	if h.g == 0 {
		for _, v := range s.w {
			index(s.sym[uint8(v)]) // 0 for the zero weight
		}
	} else {
		writeLengths(&bw, h.gapLen)
		gapCode := canonicalCodes(h.gapLen)
		gap := func(z int) { bw.code(gapCode[z], uint(h.gapLen[z])) }
		mask := 1<<h.g - 1
		for i, z := range s.skips {
			for ; z > mask; z -= mask + 1 {
				gap(mask) // filler
				index(0)
			}
			gap(z)
			index(s.sym[uint8(s.vals[i])])
		}
		blk.posStream = codeBits(h.gapFreq, h.gapLen)
		blk.tableBits += lengthsBits(h.gapLen)
	}
	blk.data = bw.finish()
	return blk
}

// The decoders. Each reads the block's payload after the common header;
// count is the weight count of the header, already checked against the
// layer's shape and the model's limit.

// denseWeights reads encoding 0.
func (p *parser) denseWeights(layer, bits int, count int64) []int8 {
	off := p.off
	packed := p.take((count*int64(bits)+7)/8, fmt.Sprintf("layer %d weights", layer))
	if p.err != nil {
		return nil
	}
	w, err := UnpackBits(packed, int(count), bits)
	if err != nil {
		p.failAt(off, false, fmt.Sprintf("layer %d weights: %v", layer, err))
		return nil
	}
	return w
}

// sparseWeights reads encoding 1.
func (p *parser) sparseWeights(layer, bits int, count int64) []int8 {
	sub := p.u8("sparse sub-format")
	switch {
	case p.err != nil:
		return nil
	case sub == sparseRelative:
		return p.relativeWeights(layer, bits, count)
	case sub == sparseBitmap:
		return p.bitmapWeights(layer, bits, count)
	}
	p.unsupported(fmt.Sprintf("layer %d: sparse sub-format %d (0 relative indices and 1 bitmap are supported)", layer, sub))
	return nil
}

func (p *parser) relativeWeights(layer, bits int, count int64) []int8 {
	gOff := p.off
	g := uint(p.u8("gap bits"))
	eOff := p.off
	e := int64(p.u32("sparse entry count"))
	switch {
	case p.err != nil:
		return nil
	case g < 1 || g > maxSparseGapBits:
		p.failAt(gOff, false, fmt.Sprintf("layer %d: gap bits %d outside 1..%d", layer, g, maxSparseGapBits))
		return nil
	case e > count:
		p.failAt(eOff, false, fmt.Sprintf("layer %d: %d sparse entries for %d weights", layer, e, count))
		return nil
	}
	dataOff := p.off
	data := p.take((e*int64(g+uint(bits))+7)/8, fmt.Sprintf("layer %d sparse entries", layer))
	if p.err != nil {
		return nil
	}
	w := make([]int8, count)
	r := bitReader{b: data}
	shift := 8 - bits // sign extension
	mask := int64(1)<<g - 1
	pos := int64(-1)
	var v int8
	for i := int64(0); i < e; i++ {
		gap, _ := r.bits(g) // the length was checked
		u, _ := r.bits(uint(bits))
		v = int8(uint8(u)<<shift) >> shift
		pos += int64(gap) + 1
		if pos >= count {
			p.failAt(dataOff, false, fmt.Sprintf("layer %d: sparse entry %d points past the last weight", layer, i))
			return nil
		}
		if v == 0 && int64(gap) != mask {
			p.failAt(dataOff, false, fmt.Sprintf("layer %d: sparse entry %d is zero but not a filler (gap %d < %d)", layer, i, gap, mask))
			return nil
		}
		w[pos] = v
	}
	if e > 0 && v == 0 {
		p.failAt(dataOff, false, fmt.Sprintf("layer %d: the sparse entries end with a filler", layer))
		return nil
	}
	if _, ok := r.finish(); !ok {
		p.failAt(dataOff, false, fmt.Sprintf("layer %d: nonzero padding bits after the sparse entries", layer))
		return nil
	}
	return w
}

func (p *parser) bitmapWeights(layer, bits int, count int64) []int8 {
	dataOff := p.off
	rest := p.b[p.off:]
	if (count+7)/8 > int64(len(rest)) {
		p.fail(true, fmt.Sprintf("truncated: layer %d bitmap needs %d bytes, %d remain", layer, (count+7)/8, len(rest)))
		return nil
	}
	nz := int64(0)
	for i, c := range rest[:(count+7)/8] {
		if int64(i) == count/8 { // the last, partial byte: only its low count%8 bits
			c &= 1<<(count%8) - 1
		}
		for ; c != 0; c &= c - 1 {
			nz++
		}
	}
	data := p.take((count+nz*int64(bits)+7)/8, fmt.Sprintf("layer %d bitmap and values", layer))
	if p.err != nil {
		return nil
	}
	w := make([]int8, count)
	mr := bitReader{b: data}
	vr := bitReader{b: data, pos: count}
	shift := 8 - bits
	for i := range w {
		if set, _ := mr.bit(); set == 0 {
			continue
		}
		u, _ := vr.bits(uint(bits))
		if w[i] = int8(uint8(u)<<shift) >> shift; w[i] == 0 {
			p.failAt(dataOff, false, fmt.Sprintf("layer %d: the bitmap marks weight %d nonzero but its value is 0", layer, i))
			return nil
		}
	}
	if _, ok := vr.finish(); !ok {
		p.failAt(dataOff, false, fmt.Sprintf("layer %d: nonzero padding bits after the sparse values", layer))
		return nil
	}
	return w
}

// huffmanWeights reads encoding 2. Its bit stream has no length field: it
// ends at the byte boundary after its last code.
func (p *parser) huffmanWeights(layer, bits int, count int64) []int8 {
	k := int(p.u8("codebook size"))
	gOff := p.off
	g := uint(p.u8("gap bits"))
	if p.err == nil && g > maxHuffmanGapBits {
		p.failAt(gOff, false, fmt.Sprintf("layer %d: gap bits %d outside 0..%d", layer, g, maxHuffmanGapBits))
	}
	entries, minBits := count, int64(1) // g = 0: one index code, at least 1 bit, per weight
	if g > 0 {
		eOff := p.off
		entries, minBits = int64(p.u32("Huffman entry count")), 2 // a gap code and an index code
		if p.err == nil && entries > count {
			p.failAt(eOff, false, fmt.Sprintf("layer %d: %d Huffman entries for %d weights", layer, entries, count))
		}
	}
	if p.err != nil {
		return nil
	}
	dataOff := p.off
	r := bitReader{b: p.b[p.off:]}
	// fail reports a stream error at the byte where it was found.
	fail := func(err error, what string) []int8 {
		off := dataOff + int(r.pos/8)
		if errors.Is(err, errBitsEnd) {
			p.failAt(off, true, fmt.Sprintf("truncated: layer %d %s: %v", layer, what, err))
		} else {
			p.failAt(off, false, fmt.Sprintf("layer %d %s: %v", layer, what, err))
		}
		return nil
	}
	if entries*minBits > r.remaining() {
		return fail(errBitsEnd, fmt.Sprintf("%d entries", entries))
	}
	codebook := make([]int8, k+1) // symbol s is codebook[s]; 0 is the zero weight
	shift := 8 - bits
	for i := 1; i <= k; i++ {
		u, ok := r.bits(uint(bits))
		if !ok {
			return fail(errBitsEnd, "codebook")
		}
		codebook[i] = int8(uint8(u)<<shift) >> shift
		if codebook[i] == 0 || (i > 1 && codebook[i] <= codebook[i-1]) {
			return fail(errors.New("not strictly increasing and nonzero"), fmt.Sprintf("codebook entry %d", i-1))
		}
	}
	lengths, err := readLengths(&r, k+1)
	if err != nil {
		return fail(err, "index code")
	}
	index, err := newHuffmanDecoder(lengths)
	if err != nil {
		return fail(err, "index code")
	}
	w := make([]int8, count)
	if g == 0 {
		for i := range w {
			s, err := index.decode(&r)
			if err != nil {
				return fail(err, fmt.Sprintf("index of weight %d", i))
			}
			w[i] = codebook[s]
		}
	} else {
		if lengths, err = readLengths(&r, 1<<g); err != nil {
			return fail(err, "gap code")
		}
		gaps, err := newHuffmanDecoder(lengths)
		if err != nil {
			return fail(err, "gap code")
		}
		mask := 1<<g - 1
		pos := int64(-1)
		var v int8
		for i := int64(0); i < entries; i++ {
			gap, err := gaps.decode(&r)
			if err != nil {
				return fail(err, fmt.Sprintf("gap of entry %d", i))
			}
			s, err := index.decode(&r)
			if err != nil {
				return fail(err, fmt.Sprintf("index of entry %d", i))
			}
			pos += int64(gap) + 1
			switch v = codebook[s]; {
			case pos >= count:
				return fail(errors.New("points past the last weight"), fmt.Sprintf("entry %d", i))
			case v == 0 && gap != mask:
				return fail(fmt.Errorf("zero but not a filler (gap %d < %d)", gap, mask), fmt.Sprintf("entry %d", i))
			}
			w[pos] = v
		}
		if entries > 0 && v == 0 {
			return fail(errors.New("the entries end with a filler"), "entries")
		}
	}
	n, ok := r.finish()
	if !ok {
		return fail(errors.New("nonzero padding bits"), "bit stream")
	}
	p.off += n
	return w
}
