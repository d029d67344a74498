package qnet

import (
	"math"
	"math/rand/v2"

	"github.com/qatgo/qatgo/fakequant"
)

// Test helpers: random valid models. Tests may use floating point; the
// package itself may not (nofloat_test.go).

// quant describes the activation feeding a layer.
type quant struct {
	z, lo, hi int32
}

// randAffine fills the quantization of an affine layer with rows filters of
// k taps fed by activation in, with random bit widths, zero points and
// clamps, and a multiplier that spreads the outputs over their range.
func randAffine(rng *rand.Rand, rows, k int, in quant, wbits, obits int) (a affine, out quant) {
	wmax := 1<<(wbits-1) - 1
	a.rows, a.cols, a.weightBits, a.outBits = rows, k, wbits, obits
	a.weights = make([]int8, rows*k)
	for i := range a.weights {
		if rng.IntN(8) == 0 {
			continue // some zeros, as after pruning
		}
		a.weights[i] = int8(rng.IntN(2*wmax+1) - wmax)
	}
	if rng.IntN(10) == 0 { // extremes of the narrow range
		a.weights[0], a.weights[len(a.weights)-1] = int8(wmax), int8(-wmax)
	}
	qmax := int32(1)<<obits - 1
	a.inZero = in.z
	a.outZero = rng.Int32N(qmax + 1)
	a.actMin, a.actMax = 0, qmax
	switch rng.IntN(3) {
	case 0: // ReLU
		a.actMin = a.outZero
	case 1: // arbitrary sub-range
		a.actMin = rng.Int32N(qmax + 1)
		a.actMax = a.actMin + rng.Int32N(qmax-a.actMin+1)
	}
	spreadIn := float64(max(in.hi-in.lo, 1))
	a.bias = make([]int32, rows)
	a.multiplier = make([]int32, rows)
	a.shift = make([]int32, rows)
	for c := range rows {
		// Typical |acc| ~ sqrt(k) * spreadIn/2 * wmax/2; map it to a quarter of the range.
		typical := math.Sqrt(float64(k)) * spreadIn / 2 * float64(wmax) / 2
		m := float64(qmax+1) / 4 / typical * math.Exp2(rng.Float64()*2-1)
		q, s := fakequant.QuantizeMultiplier(m)
		a.multiplier[c], a.shift[c] = q, int32(s)
		a.bias[c] = int32((rng.Float64()*2 - 1) * typical)
	}
	if rng.IntN(10) == 0 {
		a.multiplier[0], a.shift[0] = 0, 0
	}
	return a, quant{a.outZero, a.actMin, a.actMax}
}

func convFrom(a affine, inC, kh, kw, stride, pad int) *Conv2D {
	return &Conv2D{InC: inC, OutC: a.rows, KH: kh, KW: kw, Stride: stride, Pad: pad,
		WeightBits: a.weightBits, Weights: a.weights, Bias: a.bias, Multiplier: a.multiplier, Shift: a.shift,
		InputZero: a.inZero, OutputZero: a.outZero, ActMin: a.actMin, ActMax: a.actMax, OutBits: a.outBits}
}

func fcFrom(a affine) *FullyConnected {
	return &FullyConnected{In: a.cols, Out: a.rows,
		WeightBits: a.weightBits, Weights: a.weights, Bias: a.bias, Multiplier: a.multiplier, Shift: a.shift,
		InputZero: a.inZero, OutputZero: a.outZero, ActMin: a.actMin, ActMax: a.actMax, OutBits: a.outBits}
}

func randBits(rng *rand.Rand) int { return 2 + rng.IntN(7) }

// randomModel returns a small random valid model: one to three convolutions
// (random kernel, stride, padding; sometimes followed by a max pool), then
// one or two fully connected layers. Zero points, bit widths and clamps vary.
func randomModel(rng *rand.Rand) *Model {
	m := &Model{Name: "random", InC: 1 + rng.IntN(3), InH: 4 + rng.IntN(9), InW: 4 + rng.IntN(9)}
	if rng.IntN(2) == 0 {
		m.InputZero = rng.Int32N(256)
	}
	in := quant{m.InputZero, 0, 255}
	c, h, w := m.InC, m.InH, m.InW
	for range 1 + rng.IntN(3) {
		kh, kw := 1+rng.IntN(4), 1+rng.IntN(4)
		stride, pad := 1+rng.IntN(2), rng.IntN(3)
		if h+2*pad < kh || w+2*pad < kw {
			break
		}
		oc := 1 + rng.IntN(9)
		a, q := randAffine(rng, oc, c*kh*kw, in, randBits(rng), randBits(rng))
		l := convFrom(a, c, kh, kw, stride, pad)
		m.Layers = append(m.Layers, l)
		c, h, w, _ = l.OutShape(c, h, w)
		in = q
		if k := 1 + rng.IntN(3); rng.IntN(2) == 0 && h >= k && w >= k {
			p := &MaxPool2D{K: k, Stride: 1 + rng.IntN(2)}
			m.Layers = append(m.Layers, p)
			c, h, w, _ = p.OutShape(c, h, w)
		}
	}
	for range 1 + rng.IntN(2) {
		a, q := randAffine(rng, 1+rng.IntN(13), c*h*w, in, randBits(rng), randBits(rng))
		m.Layers = append(m.Layers, fcFrom(a))
		c, h, w, in = a.rows, 1, 1, q
	}
	if rng.IntN(2) == 0 {
		m.Meta.InputScaleBits = math.Float32bits(1.0 / 255)
		for _, l := range m.Layers {
			var s uint32
			if l.Kind() != KindMaxPool2D {
				s = math.Float32bits(rng.Float32())
			}
			m.Meta.OutputScaleBits = append(m.Meta.OutputScaleBits, s)
		}
	}
	return m
}

// lenet5 returns a random LeNet-5 shaped model (Deep Compression's: conv
// 1->20 5x5, maxpool 2, conv 20->50 5x5, maxpool 2, fc 800->500, fc 500->10)
// with the given weight and activation bits.
func lenet5(rng *rand.Rand, wbits, abits int) *Model {
	m := &Model{Name: "lenet5", InC: 1, InH: 28, InW: 28}
	in := quant{0, 0, 255}
	a1, q := randAffine(rng, 20, 1*5*5, in, wbits, abits)
	q.lo, q.hi = 0, int32(1)<<abits-1
	a2, q := randAffine(rng, 50, 20*5*5, q, wbits, abits)
	q.lo, q.hi = 0, int32(1)<<abits-1
	a3, q := randAffine(rng, 500, 800, q, wbits, abits)
	q.lo, q.hi = 0, int32(1)<<abits-1
	a4, _ := randAffine(rng, 10, 500, q, wbits, abits)
	for _, a := range []*affine{&a1, &a2, &a3, &a4} {
		// Full clamp range and small biases keep the outputs input-dependent.
		a.actMin, a.actMax = 0, int32(1)<<abits-1
		for c := range a.bias {
			a.bias[c] /= 16
		}
	}
	m.Layers = []Layer{
		convFrom(a1, 1, 5, 5, 1, 0),
		&MaxPool2D{K: 2, Stride: 2},
		convFrom(a2, 20, 5, 5, 1, 0),
		&MaxPool2D{K: 2, Stride: 2},
		fcFrom(a3),
		fcFrom(a4),
	}
	return m
}

func randImages(rng *rand.Rand, n, size int) []uint8 {
	b := make([]uint8, n*size)
	for i := range b {
		b[i] = uint8(rng.UintN(256))
	}
	return b
}
