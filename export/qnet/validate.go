package qnet

import (
	"fmt"

	"github.com/qatgo/qatgo/fakequant"
)

// Limits enforced by Validate (and therefore by Decode). They keep every
// product of sizes far from int overflow and bound the memory a decoded Model
// and its Runner need: with MaxFileSize (64 MiB of file), MaxModelWeights
// (16 MiB of int8 weights), MaxModelChannels (12 MiB of per-channel arrays)
// and MaxRunnerBytes (64 MiB of Runner buffers), reading and running any
// accepted file stays far below 256 MB. LeNet-5 has 431,080 weights, 576
// channels and needs about 2 MiB of Runner buffers.
const (
	MaxDim           = 1<<16 - 1 // input dims, channels, kernel sizes, strides, padding (uint16 in the file)
	MaxActivation    = 1 << 24   // elements of any activation tensor (input, any layer's output, FullyConnected In)
	MaxLayerWeights  = 1 << 24   // weights of one layer
	MaxModelWeights  = 1 << 24   // weights of all layers together
	MaxModelChannels = 1 << 20   // output channels of all Conv2D and FullyConnected layers together
	MaxLayers        = 1<<16 - 1 // layers of a model
	MaxNameLen       = 1<<16 - 1 // bytes of Model.Name
	// MaxRunnerBytes bounds RunnerBytes: the buffers a Runner allocates
	// (packed weights, activations, im2col scratch), which grow with products
	// of shapes that a small file can declare (a 256x256 kernel over a
	// 4096x4096 output is 2 TB of im2col scratch in 8 KB of file).
	MaxRunnerBytes = 64 << 20
	// MaxAvgPoolK bounds an AvgPool2D's window side: K*K <= 65536 codes, whose
	// sum fits an int32 and whose 1/(K*K) fakequant.MeanMultiplier takes.
	MaxAvgPoolK = 256
)

const (
	maxInt32 = 1<<31 - 1
	minInt32 = -1 << 31
)

// Validate checks that the model is well formed and safe to run:
//
//   - shapes are consistent from the input through every layer, and every
//     slice has the length its layer's shape implies; the layers hold at
//     most MaxModelWeights weights together;
//   - bit widths are in 2..8, weights within the narrow range of their width,
//     zero points and clamp bounds within the range of their width;
//   - the input zero point of every Conv2D and FullyConnected equals the zero
//     point of the activation that feeds it;
//   - multipliers are 0 or in [2^30, 2^31), shifts in [-31, 30];
//   - the int32 accumulator cannot overflow: for every output channel c,
//     sum_j |w[c][j]| * max|q_in - Z_in| + |Bias[c]| < 2^31, where q_in ranges
//     over the clamp range of the producing layer ([0, 255] for the input),
//     and the same bound times 2^Shift[c] when Shift[c] > 0.
//
// It returns a *ShapeError or *RangeError naming the first offending layer.
func (m *Model) Validate() error {
	if len(m.Name) > MaxNameLen {
		return rangeErrorf("name is %d bytes, limit %d", len(m.Name), MaxNameLen)
	}
	if err := checkDims("input", m.InC, m.InH, m.InW); err != nil {
		return err
	}
	if m.InputZero < 0 || m.InputZero > 255 {
		return rangeErrorf("input zero point %d outside [0, 255]", m.InputZero)
	}
	if !m.Rounding.Valid() {
		return rangeErrorf("rounding %d is not %d (double) or %d (single)", uint8(m.Rounding), fakequant.RoundDouble, fakequant.RoundSingle)
	}
	if len(m.Layers) == 0 {
		return shapeErrorf("no layers")
	}
	if len(m.Layers) > MaxLayers {
		return shapeErrorf("%d layers, limit %d", len(m.Layers), MaxLayers)
	}
	if n := len(m.Meta.OutputScaleBits); n != 0 && n != len(m.Layers) {
		return shapeErrorf("Meta.OutputScaleBits has %d entries, want 0 or %d (one per layer)", n, len(m.Layers))
	}
	if n := len(m.Meta.WeightScaleBits); n != 0 && n != len(m.Layers) {
		return shapeErrorf("Meta.WeightScaleBits has %d entries, want 0 or %d (one per layer)", n, len(m.Layers))
	}
	c, h, w := m.InC, m.InH, m.InW
	z, lo, hi := m.InputZero, int32(0), int32(255)
	weights, channels := 0, 0
	for i, l := range m.Layers {
		if l == nil {
			return &ShapeError{Layer: i, Msg: "nil layer"}
		}
		switch l := l.(type) {
		case *Conv2D:
			weights += len(l.Weights)
			channels += len(l.Bias)
		case *FullyConnected:
			weights += len(l.Weights)
			channels += len(l.Bias)
		}
		if weights > MaxModelWeights {
			return &ShapeError{Layer: i, Kind: l.Kind(), Msg: fmt.Sprintf("the layers so far hold %d weights, limit %d", weights, MaxModelWeights)}
		}
		if channels > MaxModelChannels {
			return &ShapeError{Layer: i, Kind: l.Kind(), Msg: fmt.Sprintf("the layers so far have %d output channels, limit %d", channels, MaxModelChannels)}
		}
		var err error
		c, h, w, err = validateLayer(l, c, h, w, z, lo, hi)
		if err != nil {
			switch e := err.(type) {
			case *ShapeError:
				e.Layer, e.Kind = i, l.Kind()
			case *RangeError:
				e.Layer, e.Kind = i, l.Kind()
			}
			return err
		}
		z, lo, hi = l.quantized(z, lo, hi)
		if len(m.Meta.WeightScaleBits) > 0 {
			if got, want := len(m.Meta.WeightScaleBits[i]), outChannels(l); got != want {
				return &ShapeError{Layer: i, Kind: l.Kind(), Msg: fmt.Sprintf("Meta.WeightScaleBits has %d entries, want %d (one per output channel)", got, want)}
			}
		}
	}
	if n := m.runnerBytes(); n > MaxRunnerBytes {
		return shapeErrorf("a Runner would need %d bytes of buffers (packed weights, activations, im2col scratch), limit %d", n, MaxRunnerBytes)
	}
	return nil
}

// RunnerBytes returns an upper bound of the bytes of buffers a Runner of m
// allocates, on any kernel path: per Conv2D and FullyConnected layer the
// larger of the lane-packed weights (2 lanes, the most words: 4 int64 words
// per tap per group of 8 channels) and the sparse lists (8 bytes per weight,
// twice that for the spare capacity of appended slices; row starts, used
// taps); the two ping-pong activation buffers of a block of
// images; the centered-input scratch (int16: a Conv2D's im2col rows, or a
// block of FullyConnected inputs) and the sparse accumulators (int32); and
// the SIMD engine's sparse-path buffers (int32 input planes of a Conv2D or
// a block of 32 transposed FullyConnected inputs, and channel-major int32
// accumulators; at most 4 MiB, larger layers run dense) and per-channel
// requantization parameters. It follows
// Runner.plan, and TestRunnerBytesBoundsAllocation checks it against
// what a Runner holds. Validate refuses models above MaxRunnerBytes.
// The result is meaningful only for a model whose shapes pass Validate's
// other checks (then every product fits in int64: activations are at most
// 2^24 elements, a layer's taps at most 2^24).
func (m *Model) RunnerBytes() int64 { return m.runnerBytes() }

func (m *Model) runnerBytes() int64 {
	c, h, w := m.InC, m.InH, m.InW
	var weights, maxAct, maxFC, maxConvXs, maxAcc int64
	var sparseBufs, requant int64 // the SIMD engine's sparse-path buffers, its model requantization parameters
	for _, l := range m.Layers {
		oc, oh, ow, err := l.OutShape(c, h, w)
		if err != nil {
			return 1 << 62
		}
		switch l := l.(type) {
		case *Conv2D:
			a := l.affine()
			weights += affineRunnerBytes(int64(a.rows), int64(a.cols))
			maxConvXs = max(maxConvXs, int64(oh)*int64(ow)*int64(a.cols))
			maxAcc = max(maxAcc, int64(oh)*int64(ow))
			if simdSparseable(l, h, w) {
				sparseBufs = max(sparseBufs, sparseBufBytes(l, h, w))
			}
			requant += 8 * ((int64(a.rows) + 7) &^ 7)
		case *FullyConnected:
			a := l.affine()
			weights += affineRunnerBytes(int64(a.rows), int64(a.cols))
			maxFC = max(maxFC, int64(a.cols))
			if simdSparseable(l, h, w) {
				sparseBufs = max(sparseBufs, sparseBufBytes(l, h, w))
			}
			requant += 8 * ((int64(a.rows) + 7) &^ 7)
		case *AvgPool2D:
			// The SIMD engine's requantization slots (64 bytes per channel, 8 for its
			// multipliers and shifts) and its window sums (engine_avgpool.go).
			cols := (int64(c) + 7) &^ 7
			requant += 72*cols + 4*max(avgChunk, cols)
		}
		maxAct = max(maxAct, int64(oc)*int64(oh)*int64(ow))
		c, h, w = oc, oh, ow
	}
	block := min(max(int64(blockBudget)/max(maxAct, maxFC, 1), 1), int64(batchBlock))
	acts := 2 * block * maxAct
	xs := 2 * max(maxConvXs, block*maxFC)
	acc := 4 * max(maxAcc, block)
	return weights + acts + xs + acc + sparseBufs + requant
}

// affineRunnerBytes bounds a Runner's copy of the weights of a layer with
// rows output channels of cols taps (see RunnerBytes).
func affineRunnerBytes(rows, cols int64) int64 {
	dense := (rows + 7) / 8 * 4 * cols * 8
	sparse := 16*rows*cols + 4*(rows+1) + cols
	return max(dense, sparse)
}

// outChannels returns the number of weight scales of l: its output channels,
// or 0 for a layer without weights.
func outChannels(l Layer) int {
	switch l := l.(type) {
	case *Conv2D:
		return l.OutC
	case *FullyConnected:
		return l.Out
	}
	return 0
}

// validateLayer checks one layer fed by a (c, h, w) activation with zero
// point z and values in [lo, hi], and returns its output shape.
func validateLayer(l Layer, c, h, w int, z, lo, hi int32) (int, int, int, error) {
	switch l := l.(type) {
	case *Conv2D:
		if err := checkDims("kernel", l.OutC, l.KH, l.KW); err != nil {
			return 0, 0, 0, err
		}
		if l.Stride < 1 || l.Stride > MaxDim || l.Pad < 0 || l.Pad > MaxDim {
			return 0, 0, 0, shapeErrorf("stride %d or padding %d outside [1, %d] / [0, %d]", l.Stride, l.Pad, MaxDim, MaxDim)
		}
	case *FullyConnected:
		if l.In < 1 || l.In > MaxActivation || l.Out < 1 || l.Out > MaxActivation {
			return 0, 0, 0, shapeErrorf("In=%d Out=%d outside [1, %d]", l.In, l.Out, MaxActivation)
		}
	case *MaxPool2D:
		if l.K < 1 || l.K > MaxDim || l.Stride < 1 || l.Stride > MaxDim {
			return 0, 0, 0, shapeErrorf("K=%d Stride=%d outside [1, %d]", l.K, l.Stride, MaxDim)
		}
	case *AvgPool2D:
		if l.K < 1 || l.K > MaxAvgPoolK || l.Stride < 1 || l.Stride > MaxDim {
			return 0, 0, 0, shapeErrorf("K=%d Stride=%d outside [1, %d] / [1, %d]", l.K, l.Stride, MaxAvgPoolK, MaxDim)
		}
	default:
		return 0, 0, 0, shapeErrorf("unknown layer type %T", l)
	}
	oc, oh, ow, err := l.OutShape(c, h, w)
	if err != nil {
		return 0, 0, 0, err
	}
	if err := checkDims("output", oc, oh, ow); err != nil {
		return 0, 0, 0, err
	}
	switch l := l.(type) {
	case *Conv2D:
		err = l.affine().check(z, lo, hi)
	case *FullyConnected:
		err = l.affine().check(z, lo, hi)
	}
	return oc, oh, ow, err
}

// checkDims checks one CHW shape against MaxDim and MaxActivation.
func checkDims(what string, c, h, w int) error {
	if c < 1 || h < 1 || w < 1 || c > MaxDim || h > MaxDim || w > MaxDim {
		return shapeErrorf("%s shape %dx%dx%d: every dimension must be in [1, %d]", what, c, h, w, MaxDim)
	}
	if _, ok := mulLimit(MaxActivation, c, h, w); !ok {
		return shapeErrorf("%s shape %dx%dx%d has more than %d elements", what, c, h, w, MaxActivation)
	}
	return nil
}

// mulLimit returns the product of xs, and false if any factor is negative or
// the product exceeds limit. It never overflows.
func mulLimit(limit int, xs ...int) (int, bool) {
	p := 1
	for _, x := range xs {
		if x < 0 || (x != 0 && p > limit/x) {
			return 0, false
		}
		p *= x
	}
	return p, p <= limit
}

// affine is the common view of Conv2D and FullyConnected: rows output
// channels, each a contiguous filter of cols weights.
type affine struct {
	rows, cols int

	weightBits int
	weights    []int8
	bias       []int32
	multiplier []int32
	shift      []int32

	inZero, outZero int32
	actMin, actMax  int32
	outBits         int

	rounding fakequant.Rounding // the model's, set by newPlan (layers do not carry it)
}

func (l *Conv2D) affine() affine {
	return affine{
		rows: l.OutC, cols: l.InC * l.KH * l.KW,
		weightBits: l.WeightBits, weights: l.Weights,
		bias: l.Bias, multiplier: l.Multiplier, shift: l.Shift,
		inZero: l.InputZero, outZero: l.OutputZero,
		actMin: l.ActMin, actMax: l.ActMax, outBits: l.OutBits,
	}
}

func (l *FullyConnected) affine() affine {
	return affine{
		rows: l.Out, cols: l.In,
		weightBits: l.WeightBits, weights: l.Weights,
		bias: l.Bias, multiplier: l.Multiplier, shift: l.Shift,
		inZero: l.InputZero, outZero: l.OutputZero,
		actMin: l.ActMin, actMax: l.ActMax, outBits: l.OutBits,
	}
}

// check validates the quantization of an affine layer whose input has zero
// point z and values in [lo, hi]. rows and cols must already be in range.
func (a affine) check(z, lo, hi int32) error {
	n, ok := mulLimit(MaxLayerWeights, a.rows, a.cols)
	if !ok {
		return shapeErrorf("%d x %d weights, limit %d", a.rows, a.cols, MaxLayerWeights)
	}
	if len(a.weights) != n {
		return shapeErrorf("%d weights, want %d x %d = %d", len(a.weights), a.rows, a.cols, n)
	}
	if len(a.bias) != a.rows || len(a.multiplier) != a.rows || len(a.shift) != a.rows {
		return shapeErrorf("Bias, Multiplier, Shift have %d, %d, %d entries, want %d (one per output channel)",
			len(a.bias), len(a.multiplier), len(a.shift), a.rows)
	}
	if a.weightBits < 2 || a.weightBits > 8 {
		return rangeErrorf("weight bits %d outside [2, 8]", a.weightBits)
	}
	if a.outBits < 2 || a.outBits > 8 {
		return rangeErrorf("output bits %d outside [2, 8]", a.outBits)
	}
	if a.inZero != z {
		return rangeErrorf("input zero point %d, but the activation feeding the layer has zero point %d", a.inZero, z)
	}
	qmax := int32(1)<<a.outBits - 1
	if a.outZero < 0 || a.outZero > qmax {
		return rangeErrorf("output zero point %d outside [0, %d] (%d bits)", a.outZero, qmax, a.outBits)
	}
	if a.actMin < 0 || a.actMin > a.actMax || a.actMax > qmax {
		return rangeErrorf("clamp [%d, %d] not within [0, %d] (%d bits)", a.actMin, a.actMax, qmax, a.outBits)
	}
	for c := 0; c < a.rows; c++ {
		if q := a.multiplier[c]; q != 0 && q < 1<<30 {
			return rangeErrorf("output channel %d: multiplier %d is neither 0 nor in [2^30, 2^31)", c, q)
		}
		if s := a.shift[c]; s < -31 || s > 30 {
			return rangeErrorf("output channel %d: shift %d outside [-31, 30]", c, s)
		}
	}
	wmax := int8(1)<<(a.weightBits-1) - 1
	for j, v := range a.weights {
		if v < -wmax || v > wmax {
			return rangeErrorf("weight %d is %d, outside the %d-bit narrow range [%d, %d]", j, v, a.weightBits, -wmax, wmax)
		}
	}
	return a.checkAccumulator(z, lo, hi)
}

// checkAccumulator enforces the worst-case int32 accumulator bound (in int64).
func (a affine) checkAccumulator(z, lo, hi int32) error {
	maxIn := int64(max(z-lo, hi-z))
	for c := 0; c < a.rows; c++ {
		var sumAbs int64
		for _, v := range a.weights[c*a.cols : (c+1)*a.cols] {
			sumAbs += int64(absInt8(v))
		}
		bound := sumAbs*maxIn + absInt64(int64(a.bias[c]))
		if bound > maxInt32 {
			return rangeErrorf("output channel %d: worst-case accumulator %d*%d + |%d| = %d exceeds 2^31-1",
				c, sumAbs, maxIn, a.bias[c], bound)
		}
		if s := a.shift[c]; s > 0 && bound<<s > maxInt32 {
			return rangeErrorf("output channel %d: worst-case accumulator %d shifted left by %d exceeds 2^31-1",
				c, bound, s)
		}
	}
	return nil
}

func absInt8(v int8) int32 {
	if v < 0 {
		return -int32(v)
	}
	return int32(v)
}

func absInt64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
