// Package qnet is the deployable integer runtime of qatgo: the integer model
// type, its file format, and integer-only kernels. It imports the standard
// library and package fakequant only, and it contains no floating point at
// all (a test parses the package and enforces this): from uint8 pixels to the
// predicted class, every operation is on integers.
//
// # Models
//
// A Model is a sequential network over CHW activations: Conv2D,
// FullyConnected and MaxPool2D layers (Flatten is implicit: a FullyConnected
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
//	out = clamp(OutputZero + MultiplyByQuantizedMultiplier(acc, Multiplier[c], Shift[c]), ActMin, ActMax)
//
// ReLU and ReLU6 are just the clamp bounds. Padding taps of a convolution
// hold InputZero, the code of real 0. MaxPool2D works on the codes directly.
// Validate proves, per output channel, that the accumulator cannot overflow:
// sum_j |W[c][j]| * max|q_in - InputZero| + |Bias[c]| < 2^31.
//
// The plain loops in conv2d.go, fully_connected.go and maxpool.go are the
// specification. A Runner runs a faster path (plan.go): im2col, centered
// inputs, and integer matrix products in which one int64 multiply serves 2,
// 3 or 4 output channels packed into lanes of 32, 21 or 16 bits, with runs
// short enough (by the accumulator bound) that no lane can overflow; in
// PredictBatch the fully connected layers run over blocks of images. It
// involves no rounding, so it equals the plain loops bit for bit; the tests
// check that layer by layer on random models, with every lane count, and at
// the edges of the lanes' ranges.
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
//	8        2     uint16  version, 1
//	10       2     uint16  flags: bit 0 set = the layers carry output scales (Meta.OutputScaleBits);
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
//	1     uint8   kind: 1 Conv2D, 2 FullyConnected, 3 MaxPool2D (others: *FormatError;
//	              a new kind needs a new version, since records carry no length)
//	4     uint32  output scale (float32 bits; 0 when flag bit 0 is clear)
//
// followed by the fields of its kind:
//
//	Conv2D                           FullyConnected           MaxPool2D
//	6 x uint16 InC, OutC, KH, KW,    uint32 In                uint16 K
//	           Stride, Pad           uint32 Out               uint16 Stride
//	quantization block               quantization block
//	weight block (OIHW)              weight block ([Out][In])
//	OutC x int32 Bias                Out x int32 Bias
//	OutC x int32 Multiplier          Out x int32 Multiplier
//	OutC x int8  Shift               Out x int8  Shift
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
// and the weight block is
//
//	Size                  Type    Field
//	1                     uint8   encoding: 0 = dense bit-packed; 1 (sparse) and 2 (Huffman)
//	                              are reserved for later versions (*UnsupportedError)
//	1                     uint8   bits b, 2..8 (WeightBits)
//	4                     uint32  count N
//	ceil(N*b/8)           bytes   the N weights in b-bit two's complement, packed LSB-first
//	                              (PackBits): 8 bits one per byte, 4 bits two per byte with the
//	                              first in the low nibble, other widths straddle bytes; unused
//	                              high bits of the last byte are 0
//
// Shift is stored as int8 (Validate keeps it in [-31, 30]). Zero points and
// clamp bounds are stored as int32 although Validate keeps them in [0, 255],
// so a decoded model shows exactly what the file says.
//
// Decode reads at most MaxFileSize bytes and checks, in order: the magic
// (*FormatError), the version and flags (*UnsupportedError), the checksum
// (*FormatError; a file that ends early is reported as truncated), every
// length against the bytes that remain before allocating, trailing bytes, and
// finally Model.Validate (*ShapeError, *RangeError). WriteFile replaces a file
// atomically.
package qnet
