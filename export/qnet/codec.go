package qnet

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/qatgo/qatgo/fakequant"
	"github.com/qatgo/qatgo/internal/atomicfile"
)

// The file format; doc.go has the byte layout.
const (
	// Magic opens every model file.
	Magic = "QATGOINT"
	// Version is the newest format version this package writes: Encode
	// writes version 3 for a model with an AvgPool2D layer (kind 4, new in
	// version 3) and version 2 for any other, so files of models without
	// one read in older readers unchanged. Decode reads versions 1 to 3
	// (version 1: dense weights and fixed per-channel arrays only).
	Version = 3
	// versionNoAvgPool is the version written for models without AvgPool2D.
	versionNoAvgPool = 2
	// MaxFileSize is the largest file Decode accepts (and Encode writes).
	MaxFileSize = 64 << 20

	flagOutputScales   = 1 << 0 // Meta.OutputScaleBits is present
	flagSingleRounding = 1 << 1 // Rounding is fakequant.RoundSingle (clear: RoundDouble)
	flagWeightScales   = 1 << 2 // Meta.WeightScaleBits is present
	knownFlags         = flagOutputScales | flagSingleRounding | flagWeightScales

	headerLen  = len(Magic) + 2 + 2
	trailerLen = 4

	minLayerLen = 1 + 4 + 2 + 2 // kind, output scale, smallest body (MaxPool2D)

	// Bits of the per-channel arrays byte (version 2).
	arraysVarintBias = 1 << 0 // Bias as zigzag varints, else int32
	arraysShared     = 1 << 1 // one Multiplier and one Shift for all channels, else one per channel
	knownArrays      = arraysVarintBias | arraysShared
)

var le = binary.LittleEndian

// EncodeOptions configures EncodeWith, WriteFileWith and Storage. The zero
// value is what Encode and WriteFile use.
type EncodeOptions struct {
	// Encoding is the weight encoding of every Conv2D and FullyConnected
	// layer, or EncodingAuto (the zero value) for the smallest per layer.
	// Every valid layer can be stored in every encoding (a codebook has at
	// most 254 entries), so forcing one never fails for a valid model.
	Encoding WeightEncoding
}

// Encode validates m and writes it to w in the format described in the
// package documentation (version 2, or 3 for a model with an AvgPool2D),
// each layer's weights in the smallest of the weight encodings. A model that fails Validate is not written at all.
func Encode(w io.Writer, m *Model) error { return EncodeWith(w, m, EncodeOptions{}) }

// EncodeWith is Encode with options: opt.Encoding forces one weight
// encoding for every layer. An unknown encoding is an error and nothing is
// written.
func EncodeWith(w io.Writer, m *Model, opt EncodeOptions) error {
	b, _, err := marshal(m, opt)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

// marshal validates m and returns its encoding and the storage report of
// exactly those bytes.
func marshal(m *Model, opt EncodeOptions) ([]byte, *StorageReport, error) {
	if opt.Encoding > EncodingHuffman {
		return nil, nil, fmt.Errorf("qnet: unknown weight encoding %v", opt.Encoding)
	}
	if err := m.Validate(); err != nil {
		return nil, nil, err
	}
	var flags uint16
	if len(m.Meta.OutputScaleBits) > 0 {
		flags |= flagOutputScales
	}
	if m.Rounding == fakequant.RoundSingle {
		flags |= flagSingleRounding
	}
	if len(m.Meta.WeightScaleBits) > 0 {
		flags |= flagWeightScales
	}
	version := uint16(versionNoAvgPool)
	for _, l := range m.Layers {
		if l.Kind() == KindAvgPool2D {
			version = Version
		}
	}
	b := append([]byte(nil), Magic...)
	b = le.AppendUint16(b, version)
	b = le.AppendUint16(b, flags)
	b = le.AppendUint16(b, uint16(len(m.Name)))
	b = append(b, m.Name...)
	b = le.AppendUint16(b, uint16(m.InC))
	b = le.AppendUint16(b, uint16(m.InH))
	b = le.AppendUint16(b, uint16(m.InW))
	b = le.AppendUint32(b, uint32(m.InputZero))
	b = le.AppendUint32(b, m.Meta.InputScaleBits)
	b = le.AppendUint16(b, uint16(len(m.Layers)))
	rep := &StorageReport{HeaderBytes: len(b), TrailerBytes: trailerLen, Layers: make([]LayerStorage, len(m.Layers))}
	for i, l := range m.Layers {
		var scale uint32
		if flags&flagOutputScales != 0 {
			scale = m.Meta.OutputScaleBits[i]
		}
		start := len(b)
		b, rep.Layers[i] = appendLayer(b, l, scale, opt.Encoding)
		if flags&flagWeightScales != 0 {
			for _, v := range m.Meta.WeightScaleBits[i] {
				b = le.AppendUint32(b, v)
			}
		}
		st := &rep.Layers[i]
		st.Index, st.Bytes = i, len(b)-start
		if st.Weights > 0 {
			st.OtherBytes = st.Bytes - st.WeightBytes
		}
	}
	rep.FileBytes = len(b) + trailerLen
	if rep.FileBytes > MaxFileSize {
		return nil, nil, &RangeError{Layer: -1, Msg: fmt.Sprintf("encoded model is %d bytes, limit %d", rep.FileBytes, MaxFileSize)}
	}
	return le.AppendUint32(b, crc32.ChecksumIEEE(b)), rep, nil
}

// appendLayer appends the record of one valid layer, its weights in
// encoding enc, and reports its storage (all but Index and Bytes).
func appendLayer(b []byte, l Layer, scaleBits uint32, enc WeightEncoding) ([]byte, LayerStorage) {
	st := LayerStorage{Kind: l.Kind()}
	b = append(b, byte(l.Kind()))
	b = le.AppendUint32(b, scaleBits)
	switch l := l.(type) {
	case *Conv2D:
		for _, v := range []int{l.InC, l.OutC, l.KH, l.KW, l.Stride, l.Pad} {
			b = le.AppendUint16(b, uint16(v))
		}
		b = appendAffine(b, l.affine(), enc, &st)
	case *FullyConnected:
		b = le.AppendUint32(b, uint32(l.In))
		b = le.AppendUint32(b, uint32(l.Out))
		b = appendAffine(b, l.affine(), enc, &st)
	case *MaxPool2D:
		b = le.AppendUint16(b, uint16(l.K))
		b = le.AppendUint16(b, uint16(l.Stride))
	case *AvgPool2D:
		b = le.AppendUint16(b, uint16(l.K))
		b = le.AppendUint16(b, uint16(l.Stride))
	}
	return b, st
}

// appendAffine appends the quantization fields, the weight block (in
// encoding enc, or the smallest for EncodingAuto) and the per-channel arrays
// shared by Conv2D and FullyConnected, and fills in st.
func appendAffine(b []byte, a affine, enc WeightEncoding, st *LayerStorage) []byte {
	for _, v := range []int32{a.inZero, a.outZero, a.actMin, a.actMax} {
		b = le.AppendUint32(b, uint32(v))
	}
	b = append(b, byte(a.outBits))

	s := scanWeights(a.weights, a.weightBits)
	blocks := [...]weightBlock{encodeDense(s), encodeSparse(s, -1, 0), encodeHuffman(s, -1)}
	chosen := blocks[0]
	if enc == EncodingAuto {
		for _, blk := range blocks[1:] {
			if len(blk.data) < len(chosen.data) {
				chosen = blk
			}
		}
	} else {
		chosen = blocks[enc-EncodingDense]
	}
	b = append(b, chosen.data...)
	arraysStart := len(b)
	b = appendArrays(b, a)

	*st = LayerStorage{
		Kind: st.Kind, Weights: len(a.weights), Nonzero: len(s.vals), Codebook: len(s.codebook),
		WeightBits: a.weightBits, Encoding: chosen.enc,
		WeightBytes: len(chosen.data), ArrayBytes: len(b) - arraysStart,
		DenseBytes: len(blocks[0].data), SparseBytes: len(blocks[1].data), HuffmanBytes: len(blocks[2].data),
		IndexBits: chosen.indexBits, GapBits: chosen.gapBits, Entries: chosen.entries,
		IndexStreamBits: chosen.indexStream, PositionBits: chosen.posStream, TableBits: chosen.tableBits,
	}
	return b
}

// appendArrays appends the per-channel arrays in their smallest form: one
// Multiplier and Shift when all channels share them, biases as zigzag
// varints when that is shorter than int32s.
func appendArrays(b []byte, a affine) []byte {
	mode := byte(0)
	varints := 0
	for _, v := range a.bias {
		varints += uvarintLen(zigzag(v))
	}
	if varints < 4*a.rows {
		mode |= arraysVarintBias
	}
	if a.rows > 1 && allEqual(a.multiplier) && allEqual(a.shift) {
		mode |= arraysShared
	}
	b = append(b, mode)
	for _, v := range a.bias {
		if mode&arraysVarintBias != 0 {
			b = binary.AppendUvarint(b, uint64(zigzag(v)))
		} else {
			b = le.AppendUint32(b, uint32(v))
		}
	}
	mult, shift := a.multiplier, a.shift
	if mode&arraysShared != 0 {
		mult, shift = mult[:1], shift[:1]
	}
	for _, v := range mult {
		b = le.AppendUint32(b, uint32(v))
	}
	for _, v := range shift {
		b = append(b, byte(int8(v)))
	}
	return b
}

func allEqual(v []int32) bool {
	for _, x := range v {
		if x != v[0] {
			return false
		}
	}
	return true
}

// zigzag maps 0, -1, 1, -2, 2, ... to 0, 1, 2, 3, 4, ...
func zigzag(v int32) uint32 { return uint32(v<<1) ^ uint32(v>>31) }

func unzigzag(u uint32) int32 { return int32(u>>1) ^ -int32(u&1) }

// uvarintLen returns the bytes binary.AppendUvarint writes for v.
func uvarintLen(v uint32) int { return max(1, (int(bitLen(uint64(v)))+6)/7) }

// Decode reads a model file from r. It reads at most MaxFileSize bytes, then
// checks, before allocating anything from a length field, that the bytes are
// there:
//
//   - wrong magic, checksum mismatch, truncation, trailing bytes or a
//     malformed field: *FormatError (Truncated set when the data ends early);
//   - another version, unknown flags, weight encodings, sparse
//     sub-formats or per-channel array modes: *UnsupportedError;
//   - a well-formed file whose model fails Validate: that *ShapeError or
//     *RangeError.
//
// Errors reading r are returned wrapped. Decode never panics.
func Decode(r io.Reader) (*Model, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("qnet: reading model: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, &FormatError{Offset: MaxFileSize, Msg: fmt.Sprintf("file larger than %d bytes", MaxFileSize)}
	}
	return decode(data)
}

func decode(data []byte) (*Model, error) {
	if len(data) < len(Magic) {
		if string(data) == Magic[:len(data)] {
			return nil, &FormatError{Offset: len(data), Truncated: true, Msg: "truncated in the magic"}
		}
		return nil, &FormatError{Offset: 0, Msg: "not a qatgo integer model (bad magic)"}
	}
	if string(data[:len(Magic)]) != Magic {
		return nil, &FormatError{Offset: 0, Msg: "not a qatgo integer model (bad magic)"}
	}
	if len(data) < headerLen {
		return nil, &FormatError{Offset: len(data), Truncated: true, Msg: "truncated in the header"}
	}
	version := le.Uint16(data[8:])
	if version < 1 || version > Version {
		return nil, &UnsupportedError{Msg: fmt.Sprintf("format version %d (this package reads versions 1 to %d)", version, Version)}
	}
	flags := le.Uint16(data[10:])
	if flags&^knownFlags != 0 || version == 1 && flags&(flagSingleRounding|flagWeightScales) != 0 {
		return nil, &UnsupportedError{Msg: fmt.Sprintf("flags %#04x in a version-%d file", flags, version)}
	}
	if len(data) >= headerLen+trailerLen {
		body := data[:len(data)-trailerLen]
		if crc32.ChecksumIEEE(body) == le.Uint32(data[len(body):]) {
			p := &parser{b: body, off: headerLen, version: version}
			m := p.model(flags)
			if p.err == nil && p.off != len(body) {
				p.fail(false, fmt.Sprintf("%d bytes after the last layer", len(body)-p.off))
			}
			if p.err != nil {
				return nil, p.err
			}
			if err := m.Validate(); err != nil {
				return nil, err
			}
			return m, nil
		}
	}
	// The checksum does not match. Parse what is there to tell a truncated
	// file from a corrupt one.
	p := &parser{b: data, off: headerLen, version: version}
	p.model(flags)
	var fe *FormatError
	if errors.As(p.err, &fe) && fe.Truncated {
		fe.Msg += " (checksum mismatch)"
		return nil, fe
	}
	if p.err == nil && len(data)-p.off < trailerLen {
		return nil, &FormatError{Offset: len(data), Truncated: true, Msg: "truncated in the checksum"}
	}
	return nil, &FormatError{Offset: len(data) - trailerLen, Msg: "checksum mismatch: the file is corrupt"}
}

// parser reads little-endian fields from b. The first error sticks: after it,
// every read returns zeros, so callers check p.err once at the end.
type parser struct {
	b        []byte
	off      int
	err      error
	version  uint16
	weights  int64 // weights of the layers read so far
	channels int64 // output channels of the layers read so far
}

func (p *parser) fail(truncated bool, msg string) { p.failAt(p.off, truncated, msg) }

// failAt records an error found in the field that starts at off.
func (p *parser) failAt(off int, truncated bool, msg string) {
	if p.err == nil {
		p.err = &FormatError{Offset: off, Truncated: truncated, Msg: msg}
	}
}

func (p *parser) unsupported(msg string) {
	if p.err == nil {
		p.err = &UnsupportedError{Msg: msg}
	}
}

// take returns the next n bytes, or nil after recording a truncation error
// if fewer remain. n is int64 so that sizes computed from 32-bit counts
// cannot overflow on any platform.
func (p *parser) take(n int64, what string) []byte {
	if p.err != nil {
		return nil
	}
	if n < 0 || n > int64(len(p.b)-p.off) {
		p.fail(true, fmt.Sprintf("truncated: %s needs %d bytes, %d remain", what, n, len(p.b)-p.off))
		return nil
	}
	s := p.b[p.off : p.off+int(n)]
	p.off += int(n)
	return s
}

func (p *parser) u8(what string) uint8 {
	if s := p.take(1, what); s != nil {
		return s[0]
	}
	return 0
}

func (p *parser) u16(what string) uint16 {
	if s := p.take(2, what); s != nil {
		return le.Uint16(s)
	}
	return 0
}

func (p *parser) u32(what string) uint32 {
	if s := p.take(4, what); s != nil {
		return le.Uint32(s)
	}
	return 0
}

func (p *parser) i32(what string) int32 { return int32(p.u32(what)) }

func (p *parser) model(flags uint16) *Model {
	m := &Model{}
	if flags&flagSingleRounding != 0 {
		m.Rounding = fakequant.RoundSingle
	}
	m.Name = string(p.take(int64(p.u16("name length")), "name"))
	m.InC = int(p.u16("input channels"))
	m.InH = int(p.u16("input height"))
	m.InW = int(p.u16("input width"))
	m.InputZero = p.i32("input zero point")
	m.Meta.InputScaleBits = p.u32("input scale")
	n := int(p.u16("layer count"))
	if p.err == nil && n*minLayerLen > len(p.b)-p.off {
		p.fail(true, fmt.Sprintf("truncated: %d layers need at least %d bytes, %d remain", n, n*minLayerLen, len(p.b)-p.off))
	}
	if p.err != nil {
		return nil
	}
	m.Layers = make([]Layer, 0, n)
	if flags&flagOutputScales != 0 {
		m.Meta.OutputScaleBits = make([]uint32, n)
	}
	if flags&flagWeightScales != 0 {
		m.Meta.WeightScaleBits = make([][]uint32, n)
	}
	for i := 0; i < n && p.err == nil; i++ {
		kind := LayerKind(p.u8("layer kind"))
		scaleOff := p.off
		scale := p.u32("layer output scale")
		if flags&flagOutputScales != 0 {
			m.Meta.OutputScaleBits[i] = scale
		} else if scale != 0 {
			p.failAt(scaleOff, false, fmt.Sprintf("layer %d: output scale %#08x set but the output-scale flag is not", i, scale))
		}
		switch kind {
		case KindConv2D:
			m.Layers = append(m.Layers, p.conv2D(i))
		case KindFullyConnected:
			m.Layers = append(m.Layers, p.fullyConnected(i))
		case KindMaxPool2D:
			l := &MaxPool2D{}
			l.K = int(p.u16("pool size"))
			l.Stride = int(p.u16("pool stride"))
			m.Layers = append(m.Layers, l)
		case KindAvgPool2D:
			if p.version < 3 {
				p.failAt(p.off-5, false, fmt.Sprintf("layer %d: layer kind %d (avgpool2d) in a version-%d file (it needs version 3)", i, kind, p.version))
				break
			}
			l := &AvgPool2D{}
			l.K = int(p.u16("pool size"))
			l.Stride = int(p.u16("pool stride"))
			m.Layers = append(m.Layers, l)
		default:
			// Versions 1 and 2 have kinds 1 to 3, version 3 adds 4; a new kind needs a new
			// version, since a reader cannot skip a record it does not know.
			p.failAt(p.off-5, false, fmt.Sprintf("layer %d: unknown layer kind %d", i, kind))
		}
		if flags&flagWeightScales != 0 && p.err == nil {
			m.Meta.WeightScaleBits[i] = p.weightScales(i, outChannels(m.Layers[i]))
		}
	}
	if p.err != nil {
		return nil
	}
	return m
}

func (p *parser) conv2D(layer int) *Conv2D {
	l := &Conv2D{}
	for _, f := range []*int{&l.InC, &l.OutC, &l.KH, &l.KW, &l.Stride, &l.Pad} {
		*f = int(p.u16("conv2d geometry"))
	}
	want, ok := mulLimit(MaxLayerWeights, l.OutC, l.InC, l.KH, l.KW)
	if !ok {
		want = -1
	}
	a := p.affine(layer, l.OutC, want)
	l.WeightBits, l.Weights, l.Bias, l.Multiplier, l.Shift = a.weightBits, a.weights, a.bias, a.multiplier, a.shift
	l.InputZero, l.OutputZero, l.ActMin, l.ActMax, l.OutBits = a.inZero, a.outZero, a.actMin, a.actMax, a.outBits
	return l
}

func (p *parser) fullyConnected(layer int) *FullyConnected {
	l := &FullyConnected{}
	l.In = int(p.u32("fully connected input size"))
	l.Out = int(p.u32("fully connected output size"))
	want, ok := mulLimit(MaxLayerWeights, l.In, l.Out)
	if !ok {
		want = -1
	}
	a := p.affine(layer, l.Out, want)
	l.WeightBits, l.Weights, l.Bias, l.Multiplier, l.Shift = a.weightBits, a.weights, a.bias, a.multiplier, a.shift
	l.InputZero, l.OutputZero, l.ActMin, l.ActMax, l.OutBits = a.inZero, a.outZero, a.actMin, a.actMax, a.outBits
	return l
}

// affine reads the fields written by appendAffine for rows output channels
// and wantWeights weights (-1 if the layer's shape is out of range).
func (p *parser) affine(layer, rows, wantWeights int) affine {
	var a affine
	a.inZero = p.i32("input zero point")
	a.outZero = p.i32("output zero point")
	a.actMin = p.i32("clamp minimum")
	a.actMax = p.i32("clamp maximum")
	a.outBits = int(p.u8("output bits"))
	a.weightBits, a.weights = p.weightBlock(layer, wantWeights)
	if p.err != nil {
		return a
	}
	mode := byte(0) // version 1: the arrays of mode 0, without a mode byte
	if p.version >= 2 {
		mode = p.u8("per-channel arrays mode")
		if p.err == nil && mode&^knownArrays != 0 {
			p.unsupported(fmt.Sprintf("layer %d: per-channel arrays mode %#02x", layer, mode))
		}
	}
	p.arrays(layer, &a, rows, mode)
	return a
}

// weightBlock reads a weight block of wantWeights weights (-1 if the layer's
// shape is out of range) and returns the weights' bits and values.
func (p *parser) weightBlock(layer, wantWeights int) (int, []int8) {
	blockOff := p.off
	enc := p.u8("weight encoding")
	bits := int(p.u8("weight bits"))
	count := int64(p.u32("weight count"))
	switch {
	case p.err != nil:
		return 0, nil
	case p.version == 1 && enc != 0:
		p.unsupported(fmt.Sprintf("layer %d: weight encoding %d in a version-1 file (version 1 has only 0, dense)", layer, enc))
		return 0, nil
	case enc > byte(EncodingHuffman-1):
		p.unsupported(fmt.Sprintf("layer %d: weight encoding %d (0 dense, 1 sparse and 2 Huffman are supported)", layer, enc))
		return 0, nil
	case bits < 2 || bits > 8:
		p.failAt(blockOff+1, false, fmt.Sprintf("layer %d: weight bits %d outside 2..8", layer, bits))
		return 0, nil
	case wantWeights < 0:
		p.failAt(blockOff+2, false, fmt.Sprintf("layer %d: shape implies more than %d weights", layer, MaxLayerWeights))
		return 0, nil
	case count != int64(wantWeights):
		p.failAt(blockOff+2, false, fmt.Sprintf("layer %d: weight count %d, but the layer's shape implies %d", layer, count, wantWeights))
		return 0, nil
	case p.weights+count > MaxModelWeights:
		// Compressed layers can be far smaller than their weights: this
		// bounds what a small file can make Decode allocate.
		p.failAt(blockOff+2, false, fmt.Sprintf("layer %d: the layers so far hold %d weights, limit %d", layer, p.weights+count, MaxModelWeights))
		return 0, nil
	}
	p.weights += count
	var w []int8
	switch WeightEncoding(enc + 1) {
	case EncodingDense:
		w = p.denseWeights(layer, bits, count)
	case EncodingSparse:
		w = p.sparseWeights(layer, bits, count)
	case EncodingHuffman:
		w = p.huffmanWeights(layer, bits, count)
	}
	return bits, w
}

// arrays reads the per-channel arrays in the given mode: Bias (int32, or
// zigzag varints), then Multiplier (int32) and Shift (int8), one per
// channel or, shared, one of each.
func (p *parser) arrays(layer int, a *affine, rows int, mode byte) {
	if p.err != nil {
		return
	}
	// Shared arrays decode to one entry per channel: bound the channels
	// before allocating them.
	if p.channels += int64(rows); p.channels > MaxModelChannels {
		p.fail(false, fmt.Sprintf("layer %d: the layers so far have %d output channels, limit %d", layer, p.channels, MaxModelChannels))
		return
	}
	what := fmt.Sprintf("layer %d biases", layer)
	if mode&arraysVarintBias != 0 {
		if rows > len(p.b)-p.off { // at least one byte per varint
			p.fail(true, fmt.Sprintf("truncated: %s need at least %d bytes, %d remain", what, rows, len(p.b)-p.off))
			return
		}
		a.bias = make([]int32, rows)
		for c := range a.bias {
			a.bias[c] = p.zigzagVarint(what)
		}
	} else if b := p.take(4*int64(rows), what); b != nil {
		a.bias = make([]int32, rows)
		for c := range a.bias {
			a.bias[c] = int32(le.Uint32(b[4*c:]))
		}
	}
	n := rows // multipliers and shifts stored
	if mode&arraysShared != 0 {
		n = 1
	}
	b := p.take(5*int64(n), fmt.Sprintf("layer %d multipliers and shifts", layer))
	if p.err != nil {
		return
	}
	a.multiplier = make([]int32, rows)
	a.shift = make([]int32, rows)
	for c := 0; c < rows; c++ {
		i := c % n
		a.multiplier[c] = int32(le.Uint32(b[4*i:]))
		a.shift[c] = int32(int8(b[4*n+i]))
	}
}

// weightScales reads the rows float32 weight scales (as bits) that follow a
// layer record when flag bit 2 is set; the bytes are checked before the
// slice is allocated. A layer without weights has none (nil).
func (p *parser) weightScales(layer, rows int) []uint32 {
	b := p.take(4*int64(rows), fmt.Sprintf("layer %d weight scales", layer))
	if p.err != nil || rows == 0 {
		return nil
	}
	s := make([]uint32, rows)
	for c := range s {
		s[c] = le.Uint32(b[4*c:])
	}
	return s
}

// zigzagVarint reads a zigzag-encoded int32 in the shortest unsigned LEB128
// form (binary.AppendUvarint), at most 5 bytes.
func (p *parser) zigzagVarint(what string) int32 {
	if p.err != nil {
		return 0
	}
	u, n := binary.Uvarint(p.b[p.off:])
	switch {
	case n == 0:
		p.fail(true, "truncated: "+what)
	case n < 0 || u > 1<<32-1:
		p.fail(false, what+": varint overflows 32 bits")
	case n != uvarintLen(uint32(u)):
		p.fail(false, what+": varint is not in its shortest form")
	default:
		p.off += n
		return unzigzag(uint32(u))
	}
	return 0
}

// WriteFile encodes m into the file path atomically (internal/atomicfile:
// temporary file, sync, rename), as Encode does. On any error the previous
// file at path (if any) is left untouched and no temporary file remains.
func WriteFile(path string, m *Model) error { return WriteFileWith(path, m, EncodeOptions{}) }

// WriteFileWith is WriteFile with options (see EncodeWith).
func WriteFileWith(path string, m *Model, opt EncodeOptions) error {
	b, _, err := marshal(m, opt)
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(path, b)
}

// WriteAtomic writes a file through write atomically; it is
// atomicfile.WriteFile, kept for callers outside this package.
func WriteAtomic(path string, write func(io.Writer) error) error {
	return atomicfile.WriteFile(path, write)
}

// ReadFile decodes the model file at path (see Decode).
func ReadFile(path string) (*Model, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Decode(f)
}
