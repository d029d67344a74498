package qnet

import (
	"fmt"

	"github.com/qatgo/qatgo/fakequant"
)

// Model is a sequential integer network: raw uint8 pixels in, quantized logits
// out. Activations are CHW; a FullyConnected layer consumes the flat CHW vector
// of its input, so Flatten is implicit.
//
// A Model is plain data. It is read-only once built: any number of Runners may
// share it, and none of them modifies it.
type Model struct {
	Name          string
	InC, InH, InW int   // input shape, CHW; the input is raw uint8 pixels
	InputZero     int32 // zero point of the input, in [0, 255] (0 for raw pixels)
	// Rounding is the requantization rule of every Conv2D and FullyConnected
	// layer (see Requantize). The zero value, RoundDouble, is TFLite's
	// default double rounding.
	Rounding fakequant.Rounding
	Layers   []Layer
	Meta     Meta // descriptive only, never read by the kernels
}

// Meta holds the real-valued scales of the model for reports and debugging.
// The scales are IEEE-754 float32 values stored as their bits (math.Float32bits),
// so that this package needs no floating point at all. The kernels never read
// Meta.
type Meta struct {
	InputScaleBits uint32 // scale of the input: real = scale * (q - InputZero)
	// OutputScaleBits holds the output scale of every layer (0 if not
	// applicable, e.g. for MaxPool2D), or is empty.
	OutputScaleBits []uint32
	// WeightScaleBits holds the trained per-output-channel weight scales S_w[c]
	// of every layer (one slice per layer: OutC or Out entries for Conv2D and
	// FullyConnected, none for MaxPool2D), or is empty. A converter to
	// another format takes the weight scales from here rather than deriving
	// them from the rounded Multiplier as M S_out / S_in.
	WeightScaleBits [][]uint32
}

// LayerKind identifies the type of a layer. Its value is the kind byte of the
// file format.
type LayerKind uint8

// The layer kinds. The zero LayerKind is invalid.
const (
	KindConv2D         LayerKind = 1
	KindFullyConnected LayerKind = 2
	KindMaxPool2D      LayerKind = 3
	KindAvgPool2D      LayerKind = 4 // format version 3
)

func (k LayerKind) String() string {
	switch k {
	case KindConv2D:
		return "conv2d"
	case KindFullyConnected:
		return "fully_connected"
	case KindMaxPool2D:
		return "maxpool2d"
	case KindAvgPool2D:
		return "avgpool2d"
	}
	return fmt.Sprintf("LayerKind(%d)", uint8(k))
}

// Layer is one layer of a Model: *Conv2D, *FullyConnected, *MaxPool2D or
// *AvgPool2D.
// The set is closed: the file format knows exactly these kinds.
type Layer interface {
	// Kind reports the type of the layer.
	Kind() LayerKind
	// OutShape returns the CHW shape of the output for an input of shape
	// (c, h, w), or a *ShapeError if the layer does not accept that input.
	OutShape(c, h, w int) (outC, outH, outW int, err error)

	// quantized reports the quantization of the output given the zero point
	// and the clamp range [lo, hi] of the input.
	quantized(inZero, lo, hi int32) (outZero, outLo, outHi int32)
}

// Conv2D is a 2-D convolution with per-output-channel weight scales, fused
// bias, requantization and clamp (see conv2d.go for the formula).
//
// Real values: input r = S_in (q - InputZero), weight r = S_w[c] w,
// bias r = S_in S_w[c] Bias[c], output r = S_out (q - OutputZero), and
// Multiplier[c], Shift[c] = QuantizeMultiplier(S_in S_w[c] / S_out).
type Conv2D struct {
	InC, OutC, KH, KW, Stride, Pad int // padding holds InputZero, i.e. real 0

	WeightBits int     // 2..8
	Weights    []int8  // OIHW, each within [-(2^(WeightBits-1)-1), 2^(WeightBits-1)-1]
	Bias       []int32 // OutC; scale S_in*S_w[c], zero point 0
	Multiplier []int32 // OutC; Q31 mantissa in [2^30, 2^31) (or 0)
	Shift      []int32 // OutC; in [-31, 30]

	InputZero, OutputZero int32
	ActMin, ActMax        int32 // clamp bounds within [0, 2^OutBits-1]; ReLU/ReLU6 are just these
	OutBits               int   // 2..8; outputs are stored in uint8
}

// FullyConnected is a dense layer over the flattened CHW input:
// Weights is [Out][In] row-major. The quantization fields mean what they mean
// in Conv2D, with Out in place of OutC.
type FullyConnected struct {
	In, Out int

	WeightBits int
	Weights    []int8 // [Out][In]
	Bias       []int32
	Multiplier []int32
	Shift      []int32

	InputZero, OutputZero int32
	ActMin, ActMax        int32
	OutBits               int
}

// MaxPool2D takes the maximum over K×K windows moved by Stride, without
// padding. It works on the quantized values directly (quantization is
// monotonic), so its output has the zero point and range of its input.
type MaxPool2D struct {
	K, Stride int
}

// AvgPool2D averages K×K windows moved by Stride, without padding, on the
// codes: equation (17) of package fakequant (fakequant.AveragePool), the sum
// of the window's q - Z requantized by the Q31 multiplier of 1/(K*K) under
// the model's rounding rule (see avgpool.go). Its output keeps the scale,
// zero point and range of its input, as a max pool's does.
type AvgPool2D struct {
	K, Stride int
}

var (
	_ Layer = (*AvgPool2D)(nil)
	_ Layer = (*Conv2D)(nil)
	_ Layer = (*FullyConnected)(nil)
	_ Layer = (*MaxPool2D)(nil)
)

// Kind returns KindConv2D.
func (l *Conv2D) Kind() LayerKind { return KindConv2D }

// Kind returns KindFullyConnected.
func (l *FullyConnected) Kind() LayerKind { return KindFullyConnected }

// Kind returns KindMaxPool2D.
func (l *MaxPool2D) Kind() LayerKind { return KindMaxPool2D }

// Kind returns KindAvgPool2D.
func (l *AvgPool2D) Kind() LayerKind { return KindAvgPool2D }

// OutShape returns (c, (h-K)/Stride+1, (w-K)/Stride+1).
func (l *AvgPool2D) OutShape(c, h, w int) (int, int, int, error) {
	return (&MaxPool2D{K: l.K, Stride: l.Stride}).OutShape(c, h, w)
}

func (l *AvgPool2D) quantized(z, lo, hi int32) (int32, int32, int32) { return z, lo, hi }

// OutShape returns (OutC, (h+2Pad-KH)/Stride+1, (w+2Pad-KW)/Stride+1).
func (l *Conv2D) OutShape(c, h, w int) (int, int, int, error) {
	if c != l.InC {
		return 0, 0, 0, shapeErrorf("input has %d channels, layer expects %d", c, l.InC)
	}
	if l.Stride < 1 || l.KH < 1 || l.KW < 1 || l.Pad < 0 || l.OutC < 1 {
		return 0, 0, 0, shapeErrorf("invalid geometry OutC=%d KH=%d KW=%d Stride=%d Pad=%d", l.OutC, l.KH, l.KW, l.Stride, l.Pad)
	}
	if h+2*l.Pad < l.KH || w+2*l.Pad < l.KW {
		return 0, 0, 0, shapeErrorf("%dx%d kernel does not fit %dx%d input with padding %d", l.KH, l.KW, h, w, l.Pad)
	}
	return l.OutC, (h+2*l.Pad-l.KH)/l.Stride + 1, (w+2*l.Pad-l.KW)/l.Stride + 1, nil
}

// OutShape returns (Out, 1, 1); the input must have c*h*w == In elements.
func (l *FullyConnected) OutShape(c, h, w int) (int, int, int, error) {
	if c*h*w != l.In {
		return 0, 0, 0, shapeErrorf("input has %dx%dx%d = %d elements, layer expects %d", c, h, w, c*h*w, l.In)
	}
	if l.Out < 1 {
		return 0, 0, 0, shapeErrorf("invalid output size %d", l.Out)
	}
	return l.Out, 1, 1, nil
}

// OutShape returns (c, (h-K)/Stride+1, (w-K)/Stride+1).
func (l *MaxPool2D) OutShape(c, h, w int) (int, int, int, error) {
	if l.K < 1 || l.Stride < 1 {
		return 0, 0, 0, shapeErrorf("invalid geometry K=%d Stride=%d", l.K, l.Stride)
	}
	if h < l.K || w < l.K {
		return 0, 0, 0, shapeErrorf("%dx%d window does not fit %dx%d input", l.K, l.K, h, w)
	}
	return c, (h-l.K)/l.Stride + 1, (w-l.K)/l.Stride + 1, nil
}

func (l *Conv2D) quantized(_, _, _ int32) (int32, int32, int32) {
	return l.OutputZero, l.ActMin, l.ActMax
}

func (l *FullyConnected) quantized(_, _, _ int32) (int32, int32, int32) {
	return l.OutputZero, l.ActMin, l.ActMax
}

func (l *MaxPool2D) quantized(z, lo, hi int32) (int32, int32, int32) { return z, lo, hi }

// LayerInput returns the zero point and the range [lo, hi] of the codes that
// feed layer i: the input's zero point and [0, 255] for layer 0, else what
// the layers before it make of them (an AvgPool2D's kernel reads them). The
// model must be valid and 0 <= i < len(Layers).
func (m *Model) LayerInput(i int) (zero, lo, hi int32) {
	zero, lo, hi = m.InputZero, 0, 255
	for _, l := range m.Layers[:i] {
		zero, lo, hi = l.quantized(zero, lo, hi)
	}
	return zero, lo, hi
}

// OutputShape returns the CHW shape of the model's output (the last layer's
// output). It panics if the model's shapes are inconsistent; Validate reports
// that as an error.
func (m *Model) OutputShape() (c, h, w int) {
	c, h, w = m.InC, m.InH, m.InW
	for i, l := range m.Layers {
		var err error
		c, h, w, err = l.OutShape(c, h, w)
		if err != nil {
			panic(fmt.Sprintf("qnet: OutputShape: layer %d: %v", i, err))
		}
	}
	return c, h, w
}
