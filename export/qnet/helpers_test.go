package qnet

import (
	"encoding/binary"
	"hash/crc32"
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

// hanKeep is the share of weights Deep Compression keeps in each layer of
// LeNet-5 (Han et al. 2016, Table 2): conv1 66%, conv2 12%, fc1 8%, fc2 19%,
// 92% pruned in all.
var hanKeep = []float64{0.66, 0.12, 0.08, 0.19}

// affineLayers returns the Conv2D and FullyConnected layers of m as affine
// views sharing m's slices.
func affineLayers(m *Model) []affine {
	var as []affine
	for _, l := range m.Layers {
		switch l := l.(type) {
		case *Conv2D:
			as = append(as, l.affine())
		case *FullyConnected:
			as = append(as, l.affine())
		}
	}
	return as
}

// prune zeroes the weights of the i-th Conv2D or FullyConnected layer of m
// except a random share keep[i] of them (each kept independently). Pruning
// only lowers the accumulator bound, so m stays valid.
func prune(rng *rand.Rand, m *Model, keep []float64) {
	for i, a := range affineLayers(m) {
		for j := range a.weights {
			if rng.Float64() >= keep[i] {
				a.weights[j] = 0
			}
		}
	}
}

// share gives the nonzero weights of every Conv2D and FullyConnected layer
// of m at most k distinct values (Deep Compression's weight sharing, with a
// linear codebook over the narrow range): each nonzero weight becomes a
// codebook value, uniformly at random if skewed is false, else with
// probabilities falling off geometrically away from the smallest
// magnitudes, as a trained layer's clusters do. The weights' magnitudes
// stay within their range, but the accumulator bound is not rechecked.
func share(rng *rand.Rand, m *Model, k int, skewed bool) {
	for _, a := range affineLayers(m) {
		wmax := 1<<(a.weightBits-1) - 1
		n := min(k, 2*wmax)
		book := make([]int8, 0, n)
		for i := range n { // n values spread over [-wmax, -1] and [1, wmax]
			v := -wmax + i*(2*wmax)/max(n-1, 1)
			if v == 0 {
				v = 1
			}
			if len(book) > 0 && int8(v) <= book[len(book)-1] {
				v = int(book[len(book)-1]) + 1
			}
			book = append(book, int8(v))
		}
		for j, v := range a.weights {
			if v == 0 {
				continue
			}
			i := rng.IntN(n)
			if skewed { // index by distance from the middle, geometric
				d := 0
				for d < n/2 && rng.IntN(3) != 0 {
					d++
				}
				i = min(max(n/2-1-d, 0), n-1)
				if rng.IntN(2) == 0 {
					i = min(n/2+d, n-1)
				}
			}
			a.weights[j] = book[i]
		}
	}
}

// prunedLeNet5 is a random LeNet-5 pruned to Deep Compression's kept
// fractions with at most k distinct weight values per layer (k = 0: no
// sharing).
func prunedLeNet5(rng *rand.Rand, wbits, abits, k int, skewed bool) *Model {
	m := lenet5(rng, wbits, abits)
	prune(rng, m, hanKeep)
	if k > 0 {
		share(rng, m, k, skewed)
	}
	return m
}

// encodeV1 writes m in format version 1 (dense weights, per-channel arrays
// of int32 Bias, int32 Multiplier, int8 Shift), independently of the
// package's encoder: the reader must keep reading these files.
func encodeV1(m *Model) []byte {
	b := append([]byte(Magic), 1, 0)
	flags := byte(0)
	if len(m.Meta.OutputScaleBits) > 0 {
		flags = 1
	}
	b = append(b, flags, 0)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(m.Name)))
	b = append(b, m.Name...)
	for _, v := range []int{m.InC, m.InH, m.InW} {
		b = binary.LittleEndian.AppendUint16(b, uint16(v))
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(m.InputZero))
	b = binary.LittleEndian.AppendUint32(b, m.Meta.InputScaleBits)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(m.Layers)))
	for i, l := range m.Layers {
		b = append(b, byte(l.Kind()))
		var scale uint32
		if flags != 0 {
			scale = m.Meta.OutputScaleBits[i]
		}
		b = binary.LittleEndian.AppendUint32(b, scale)
		var a affine
		switch l := l.(type) {
		case *Conv2D:
			for _, v := range []int{l.InC, l.OutC, l.KH, l.KW, l.Stride, l.Pad} {
				b = binary.LittleEndian.AppendUint16(b, uint16(v))
			}
			a = l.affine()
		case *FullyConnected:
			b = binary.LittleEndian.AppendUint32(b, uint32(l.In))
			b = binary.LittleEndian.AppendUint32(b, uint32(l.Out))
			a = l.affine()
		case *MaxPool2D:
			b = binary.LittleEndian.AppendUint16(b, uint16(l.K))
			b = binary.LittleEndian.AppendUint16(b, uint16(l.Stride))
			continue
		}
		for _, v := range []int32{a.inZero, a.outZero, a.actMin, a.actMax} {
			b = binary.LittleEndian.AppendUint32(b, uint32(v))
		}
		b = append(b, byte(a.outBits), 0, byte(a.weightBits))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(a.weights)))
		b = append(b, PackBits(a.weights, a.weightBits)...)
		for _, v := range a.bias {
			b = binary.LittleEndian.AppendUint32(b, uint32(v))
		}
		for _, v := range a.multiplier {
			b = binary.LittleEndian.AppendUint32(b, uint32(v))
		}
		for _, v := range a.shift {
			b = append(b, byte(int8(v)))
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
}
