package qnet

// LayerStorage describes how one layer is stored in a file: enough for a
// report in the style of Deep Compression's Table 3 (Han et al. 2016), which
// gives per layer the kept weights, the bits per weight and per index before
// and after Huffman coding, and the compression rate. The package has no
// floating point, so averages are left to the caller:
//
//	kept fraction                 Nonzero / Weights
//	index bits per nonzero        before Huffman IndexBits*Entries/Nonzero, as written IndexStreamBits/Nonzero
//	gap bits per nonzero          before Huffman GapBits*Entries/Nonzero,   as written PositionBits/Nonzero
//	compression vs float32        4*(Weights + channels) / Bytes
//
// The fields after Bytes are zero for a MaxPool2D layer.
type LayerStorage struct {
	Index int
	Kind  LayerKind
	Bytes int // the layer's record: WeightBytes + OtherBytes

	Weights    int // weights of the layer
	Nonzero    int // nonzero weights
	Codebook   int // distinct nonzero weight values, the codebook of EncodingHuffman
	WeightBits int

	Encoding    WeightEncoding // the encoding written (never EncodingAuto)
	WeightBytes int            // the weight block, from its encoding byte on
	OtherBytes  int            // the rest: kind, output scale, geometry, quantization block, ArrayBytes
	ArrayBytes  int            // the per-channel arrays (bias, multiplier, shift) with their mode byte

	// The weight block in each encoding, each in its smallest variant, for
	// comparison: EncodingAuto writes the smallest of the three.
	DenseBytes, SparseBytes, HuffmanBytes int

	// The streams of the encoding written.
	//
	// IndexBits is the width of one entry's value before entropy coding:
	// WeightBits (dense, sparse), or ceil(log2(Codebook+1)) for an index
	// into the codebook with 0 for zero (Huffman).
	IndexBits int
	// GapBits is g, the width of one relative index before entropy coding,
	// or 0 if the encoding has none (dense, sparse bitmap, Huffman without
	// gaps).
	GapBits int
	// Entries is the number of values coded: every weight (dense, Huffman
	// without gaps), the nonzeros (sparse bitmap), or the nonzeros plus the
	// filler entries of long gaps (relative indices).
	Entries int
	// IndexStreamBits is the size of the values or codebook indices as
	// written, after Huffman coding for EncodingHuffman.
	IndexStreamBits int
	// PositionBits is the size of the positions of the nonzeros as written:
	// the relative indices (after Huffman coding for EncodingHuffman) or the
	// bitmap; 0 for dense.
	PositionBits int
	// TableBits is the size of the codebook and code-length tables
	// (EncodingHuffman).
	TableBits int
}

// StorageReport is the storage of a whole file.
type StorageReport struct {
	Layers       []LayerStorage
	HeaderBytes  int // magic through the layer count
	TrailerBytes int // the checksum
	FileBytes    int // HeaderBytes + the layers' Bytes + TrailerBytes
}

// Storage reports how EncodeWith(w, m, opt) stores m, layer by layer;
// FileBytes is exactly the number of bytes it writes. It returns the errors
// EncodeWith returns.
func Storage(m *Model, opt EncodeOptions) (*StorageReport, error) {
	_, rep, err := marshal(m, opt)
	return rep, err
}
