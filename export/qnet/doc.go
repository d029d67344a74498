// Package qnet is the deployable integer runtime of qatgo: the integer model
// type, its file format, and integer-only kernels. It imports the standard
// library and package fakequant only, and it contains no floating point at
// all (a test parses the package and enforces this): from uint8 pixels to the
// predicted class, every operation is on integers.
//
// # Models
//
// A Model is a sequential network over CHW activations: Conv2D,
// FullyConnected, MaxPool2D and AvgPool2D layers (Flatten is implicit: a FullyConnected
// layer reads the flat CHW vector). Quantization follows Jacob et al. 2018
// (REFERENCES §1): a real value r is represented by a code q as
//
//	r = S (q - Z)
//
// Activations are unsigned and asymmetric, 2 to 8 bits, always stored one per
// uint8. Weights are signed and symmetric (Z = 0) with a scale per output
// channel, 2 to 8 bits in the narrow range [-(2^(b-1)-1), 2^(b-1)-1]. Biases
// are int32 with scale S_in*S_w[c] and zero point 0. The real multiplier
// S_in*S_w[c]/S_out of every output channel is stored as a Q31 mantissa and
// a shift from fakequant.QuantizeMultiplier.
//
// # Kernels
//
// Every Conv2D and FullyConnected output is computed the same way (one kernel
// per file: conv2d.go, fully_connected.go, requant.go):
//
//	acc = Bias[c] + sum_j (q_in[j] - InputZero) * W[c][j]          // int32
//	out = clamp(OutputZero + MultiplyByQuantizedMultiplierWith(Rounding, acc, Multiplier[c], Shift[c]), ActMin, ActMax)
//
// The product acc * Multiplier[c] * 2^(Shift[c]-31) is rounded by the model's
// Rounding: RoundDouble is TFLite's default and gemmlowp's (fakequant equation
// (11): SRDHM, then RoundingDivideByPOT), bit-exact with TFLite's default
// builds but one code too high on about a 2^(Shift-1) share of outputs;
// RoundSingle (equation (11s), TFLite's TFLITE_SINGLE_ROUNDING) rounds once,
// floor(acc M + 1/2), and is what new models use. ReLU and ReLU6 are just the
// clamp bounds. Padding taps of a convolution
// hold InputZero, the code of real 0. MaxPool2D works on the codes directly.
// AvgPool2D is the same requantization with the window's sum as the
// accumulator and 1/(K*K) as the multiplier (fakequant equation (17),
// avgpool.go), keeping its input's zero point Z and range [lo, hi]:
//
//	acc = sum over the K x K window of (q_in - Z)
//	out = clamp(Z + MultiplyByQuantizedMultiplierWith(Rounding, acc, M0, shift), lo, hi)
//	(M0, shift) = fakequant.MeanMultiplier(K*K), the Q31 form of 1/(K*K) computed in integers
//
// the mean of the window's real values rounded to the input's grid (under
// RoundSingle exactly, ties toward +Inf); the clamp never binds.
// Validate proves, per output channel, that the accumulator cannot overflow:
// sum_j |W[c][j]| * max|q_in - InputZero| + |Bias[c]| < 2^31.
//
// The plain loops in conv2d.go, fully_connected.go, maxpool.go and avgpool.go are the
// specification. A Runner runs one of two faster engines, both equal to the
// plain loops bit for bit (the tests check it layer by layer on random
// models, at every kernel level the CPU runs, and at the edges of every
// range):
//
//   - the SIMD engine (engine.go, kernels in internal/qgemm), the default
//     on CPUs with AVX2 or AVX-512 VNNI: activations kept HWC, im2col runs
//     gathered from the input, u8 x s8 matrix products in assembly
//     (VPMADDWD on int16 with AVX2, VPDPBUSD with VNNI) with the input zero
//     point folded into the bias (sum (q - Z) W = sum q W - Z sum W), a
//     Conv2D's max pool applied to its accumulators (requantization is
//     non-decreasing, so pooling first is exact), vectorized
//     requantization under both rounding rules, the fully connected
//     layers of PredictBatch as one product over a block of images, and a
//     sparse path for pruned layers (engine_sparse.go, below);
//   - the lane-packed engine (plan.go, sparse.go), plain Go, the default
//     elsewhere: im2col, centered inputs, and integer matrix products in
//     which one int64 multiply serves 2, 3 or 4 output channels packed into
//     lanes of 32, 21 or 16 bits, with runs short enough (by the
//     accumulator bound) that no lane can overflow, and sparse kernels for
//     pruned layers (below).
//
// RunnerOptions.Kernels picks an engine and kernel level explicitly.
//
// # Sparse layers
//
// Pruned layers (Deep Compression, Han et al. 2016) run a sparse kernel
// (sparse.go). Each output channel keeps the list of its nonzero weights,
// (tap k, W[c][k]); the centered inputs are laid out transposed, one
// contiguous row per tap, xT[k][j] = q_j[k] - InputZero, and every nonzero
// weight adds W[c][k] * xT[k][j] to all columns j in one loop:
//
//	acc[c][j] = Bias[c] + sum over nonzero W[c][k] of W[c][k] * xT[k][j]
//	out[c][j] = Requantize(Rounding, acc[c][j], Multiplier[c], Shift[c], OutputZero, ActMin, ActMax)
//
// For a Conv2D the columns are the output positions of one image (xT is the
// transposed im2col, computed only for taps some filter uses); for a
// FullyConnected layer they are the images of a block in PredictBatch, and
// for one image the sum is a gather. It is the reference sum without its
// zero terms, and every partial sum lies within the accumulator bound, so it
// equals the plain loops bit for bit; the tests check it on the same random
// models as the dense path, pruned to densities from 0 to 100%, and with
// weights at the edges of their range.
//
// On the lane-packed engine, NewRunner picks the kernel per layer
// (PathAuto) by estimated cost: the
// dense path's cost per output column is the plan's count of packed
// multiply steps plus unpacking; the sparse path's is a constant per nonzero
// weight, measured with BenchmarkCrossover on LeNet-5's layer shapes
// (best of 5 runs, one core):
//
//	layer (shape)              weights  crossover density (sparse = dense)
//	conv1 (20x1x5x5, 28x28)    8 bit    50% - 80%     4 bit  > 80%
//	conv2 (50x20x5x5, 12x12)   8 bit    ~60%          4 bit  40% - 60%
//	fc1 (500x800), 16 images   8 bit    40% - 60%     4 bit  ~30%
//	fc1 (500x800), 1 image     8 bit    30% - 40%     4 bit  15% - 20%
//
// The constants put the crossover at the low end of these ranges: a Conv2D
// nonzero costs a quarter of a dense step (the sparse kernel takes four
// nonzeros per pass over the accumulators), a FullyConnected nonzero 3/8.
// That makes conv1 sparse below about 62%, conv2 below 57% (8 bits) and
// 34% (4 bits), and fc1 below 31% and 18%. On a random LeNet-5 pruned to Deep
// Compression's kept fractions (conv1 66%, conv2 12%, fc1 8%, fc2 19%),
// BenchmarkPruned runs conv2, fc1 and fc2 (and, depending on the draw,
// conv1) sparse, about twice as fast as the dense path.
// NewRunnerWith(RunnerOptions{Path: PathDense}) forces the dense path, to
// measure that ratio; Runner.SparseLayers and LayerSummary.Sparse report
// the choice. PathSparse selects the lane-packed engine's sparse kernel.
//
// The SIMD engine has its own sparse path (engine_sparse.go, kernels
// qgemm.Sparse): each output channel's nonzero weights as (offset, weight)
// pairs, every nonzero multiplied into vectors of 8 int32 inputs
// (VPBROADCASTD of the weight, VPMADDWD + VPADDD per vector). A stride-1
// Conv2D reads 8 consecutive output positions of a row from padded CHW
// planes of the input (tap (c, ky, kx) at offset c*ph*pw + ky*pw + kx), and
// pools its channel-major accumulators straight into the pooled rows; a
// FullyConnected layer reads 8 images of a block per vector (blocks of at
// least 8 images; fewer run dense). Its bias, pooling and requantization
// are the dense path's. PathAuto picks it per layer by a cost model
// measured with BenchmarkSIMDCrossover (simdSparse); PathDense turns it
// off. On the Deep Compression LeNet-5 it runs every Conv2D and
// FullyConnected layer sparse at 8 bits.
//
// # Running a model
//
//	m, err := qnet.ReadFile("lenet5.qnet")
//	if err != nil { ... }
//	r := m.NewRunner()           // one per goroutine; m is shared read-only
//	class := r.Predict(img)      // img: InC*InH*InW uint8 pixels, CHW
//	logits := r.Forward(img)     // quantized logits, owned by r
//	layers := r.Trace(img)       // every layer's output, for debugging
//	r.PredictBatch(imgs, n, dst) // n images back to back
//
// # File format
//
// All integers are little-endian. A file is a header, a body and a trailer:
//
//	Offset   Size  Type    Field
//	0        8     bytes   magic "QATGOINT"
//	8        2     uint16  version: 3 if a layer is an AvgPool2D, else 2 (Encode writes the
//	                       lowest that holds the model), or 1 (Decode still reads it);
//	                       version 3 is version 2 plus layer kind 4
//	10       2     uint16  flags: bit 0 set = the layers carry output scales (Meta.OutputScaleBits);
//	                       bit 1 set = requantization rounds once (Rounding = RoundSingle; clear:
//	                       RoundDouble, TFLite's default, and every version 1 file);
//	                       bit 2 set = every layer record is followed by its weight scales
//	                       (Meta.WeightScaleBits; version 2 only);
//	                       other bits 0 (set: *UnsupportedError)
//	12       2     uint16  name length n
//	14       n     bytes   Name
//	14+n     2     uint16  InC
//	16+n     2     uint16  InH
//	18+n     2     uint16  InW
//	20+n     4     int32   InputZero
//	24+n     4     uint32  Meta.InputScaleBits (float32 bits)
//	28+n     2     uint16  layer count L
//	30+n     ...           L layer records
//	end-4    4     uint32  CRC-32 (IEEE) of every byte before it
//
// A layer record starts with
//
//	Size  Type    Field
//	1     uint8   kind: 1 Conv2D, 2 FullyConnected, 3 MaxPool2D, 4 AvgPool2D (version 3
//	              only; others, and 4 in versions 1 and 2: *FormatError; a new kind
//	              needs a new version, since records carry no length)
//	4     uint32  output scale (float32 bits; 0 when flag bit 0 is clear)
//
// followed by the fields of its kind:
//
//	Conv2D                           FullyConnected           MaxPool2D, AvgPool2D
//	6 x uint16 InC, OutC, KH, KW,    uint32 In                uint16 K (AvgPool2D: <= 256)
//	           Stride, Pad           uint32 Out               uint16 Stride
//	quantization block               quantization block
//	weight block (OIHW)              weight block ([Out][In])
//	per-channel arrays (OutC)        per-channel arrays (Out)
//	[weight scales: OutC x uint32]   [weight scales: Out x uint32]
//
// The weight scales (float32 bits, Meta.WeightScaleBits) are present when
// flag bit 2 is set; a pool record has none. Like the output scales they
// are descriptive: the trained S_w[c], for converters to other formats, never
// read by the kernels (which use the Q31 Multiplier). Decode checks that
// their bytes are present before allocating them.
//
// The quantization block is 17 bytes:
//
//	Size  Type   Field
//	4     int32  InputZero
//	4     int32  OutputZero
//	4     int32  ActMin
//	4     int32  ActMax
//	1     uint8  OutBits
//
// Zero points and clamp bounds are stored as int32 although Validate keeps
// them in [0, 255], so a decoded model shows exactly what the file says.
//
// # Weight blocks
//
// A weight block stores the N weights of a layer, in the layer's flat order
// (OIHW or [Out][In]), in one of three encodings (WeightEncoding). Every
// block starts with
//
//	Size  Type    Field
//	1     uint8   encoding: 0 dense, 1 sparse, 2 Huffman (others: *UnsupportedError;
//	              version 1 files have only 0)
//	1     uint8   bits b, 2..8 (WeightBits)
//	4     uint32  count N, which must equal the layer's shape
//
// Encoding 0, dense: ceil(N*b/8) bytes, the N weights in b-bit two's
// complement, packed LSB-first (PackBits): 8 bits one per byte, 4 bits two
// per byte with the first in the low nibble, other widths straddle bytes;
// unused high bits of the last byte are 0.
//
// Encoding 1, sparse: the positions of the nonzero weights and their values
// at b bits, in one of two sub-formats; the encoder writes the smaller:
//
//	Size  Type    Field
//	1     uint8   sub-format: 0 relative indices, 1 bitmap (others: *UnsupportedError)
//
//	sub-format 0, relative indices (Deep Compression §2):
//	1     uint8   g, gap bits, 1..16
//	4     uint32  entry count E (at most N)
//	...   bits    E entries, each a g-bit gap then a b-bit value (two's complement)
//
//	sub-format 1, bitmap:
//	...   bits    N bits, bit i set iff weight i is nonzero, then the
//	              nonzero weights in order, b bits each (two's complement)
//
// An entry's gap is the number of weights skipped since the previous entry
// (or since before weight 0): entry i lands at p_i = p_(i-1) + gap + 1, with
// p_(-1) = -1, and must lie before N. A run of z zeros longer than a gap can
// say takes filler entries: value 0 with gap 2^g-1, each covering 2^g
// weights, floor(z/2^g) of them before the next nonzero. A zero value with
// any other gap, a last entry that is a filler, and a bitmap bit over a zero
// value are *FormatErrors, so every weight vector has exactly one form for
// each g. The encoder picks the g with the smallest block.
//
// Encoding 2, Huffman (Deep Compression §3 and §4): the distinct nonzero
// values form a codebook; every entry's codebook index and every gap is
// Huffman coded:
//
//	Size  Type    Field
//	1     uint8   codebook size K, 0..255
//	1     uint8   g, gap bits: 0 = no gaps, or 1..8
//	4     uint32  entry count E, at most N (only when g > 0)
//	...   bits    the codebook: K values at b bits (two's complement), strictly
//	              increasing, none 0
//	...   bits    code-length table of the index code, K+1 symbols
//	...   bits    code-length table of the gap code, 2^g symbols (only when g > 0)
//	...   bits    g = 0: N index codes, one per weight;
//	              g > 0: E entries, each a gap code then an index code
//
// Index symbol 0 is the value 0 (a filler when g > 0; a zero weight when
// g = 0), symbol s >= 1 is codebook entry s-1. Gap symbols are the gaps
// 0..2^g-1, and entries obey the rules of sparse relative indices. The
// variant without gaps codes every weight (at least one bit each) and suits
// dense layers; the encoder picks the g, including 0, with the smallest
// block. The bit stream ends at the next byte boundary after its last code;
// the block has no length field.
//
// # Bit streams
//
// The sparse and Huffman encodings are bit streams. Bit i of a stream is bit
// i%8 (0 = least significant) of byte i/8 of the stream; a stream starts at
// a byte boundary and its unused last bits are 0 (*FormatError otherwise).
// Fixed-width fields (gaps, values, lengths) are written least significant
// bit first; Huffman codes most significant bit first, as in DEFLATE (RFC
// 1951 §3.1.1). For example, the 3-bit values 1, 2 then 3 as fields are the
// stream bits 100 010 110 and the bytes 0xd1 0x00.
//
// # Huffman codes
//
// A code-length table is 4 bits M, the longest code length (at most 15; 0
// if no symbol has a code), then one length per symbol of the alphabet in
// bitLen(M) bits (M = 1: 1 bit, 2..3: 2 bits, 4..7: 3 bits, 8..15: 4 bits;
// M = 0: none), where 0 means the symbol has no code; the largest length
// must be M. The codes are canonical (RFC 1951 §3.2.2): with bl_count[l]
// the number of codes of length l,
//
//	code = 0; bl_count[0] = 0
//	for l = 1..15: code = (code + bl_count[l-1]) << 1; next_code[l] = code
//	for each symbol s in increasing order with length l > 0: code[s] = next_code[l]++
//
// The lengths must form a complete prefix code (Kraft sum exactly 1), or
// give exactly one symbol a code, of length 1 (the code 0; a 1 bit is an
// invalid code), or give no symbol a code (then nothing may be decoded);
// anything else, a code that is no symbol's, and a stream that ends within
// a code are *FormatErrors. The encoder builds Huffman codes from the symbol
// counts; when a code would be longer than 15 bits it halves the counts
// (rounding up) and builds again.
//
// # Per-channel arrays
//
// In version 2 the weight block is followed by
//
//	Size  Type    Field
//	1     uint8   mode: bit 0 = Bias as varints, bit 1 = one shared Multiplier and Shift
//	              (other bits: *UnsupportedError)
//	...           Bias: rows x int32, or rows x zigzag varint (bit 0)
//	...           Multiplier: rows x int32, or one int32 (bit 1)
//	...           Shift: rows x int8, or one int8 (bit 1)
//
// where rows is OutC or Out. A zigzag varint is the unsigned LEB128 form
// (encoding/binary's Uvarint) of the zigzag map 0, -1, 1, -2, ... -> 0, 1,
// 2, 3, ..., in its shortest form and at most 32 bits (*FormatError
// otherwise). The encoder sets bit 0 when the varints are shorter than the
// int32s, and bit 1 when every channel has the same Multiplier and Shift
// (per-tensor weight scales) and there is more than one. Version 1 has no
// mode byte: its arrays are those of mode 0.
//
// Shift is stored as int8 (Validate keeps it in [-31, 30]).
//
// # Reading files
//
// Decode reads at most MaxFileSize bytes and checks, in order: the magic
// (*FormatError), the version and flags (*UnsupportedError), the checksum
// (*FormatError; a file that ends early is reported as truncated), every
// length against the bytes that remain before allocating, trailing bytes, and
// finally Model.Validate (*ShapeError, *RangeError). Compressed blocks can be
// far smaller than the weights they hold, so Decode also limits the weights
// of a whole file to MaxModelWeights. WriteFile replaces a file atomically.
//
// Encode and WriteFile pick, per layer, the smallest encoding;
// EncodeWith and WriteFileWith can force one, and Storage reports how a
// model is stored, layer by layer, for Deep Compression's Table 3:
//
//	rep, err := qnet.Storage(m, qnet.EncodeOptions{})
//	for _, l := range rep.Layers {
//		fmt.Println(l.Index, l.Encoding, l.Nonzero, l.Weights, l.WeightBytes, l.OtherBytes)
//	}
package qnet
