package cgen_test

import (
	"math"
	"math/rand/v2"

	"github.com/qatgo/qatgo/export/qnet"
	"github.com/qatgo/qatgo/fakequant"
)

// Random valid integer models for the tests (the same construction as
// export/qnet's helpers_test.go, which other packages cannot import).

type quant struct{ z, lo, hi int32 }

type affine struct {
	rows, cols, wbits, obits int
	weights                  []int8
	bias, mult, shift        []int32
	inZero, outZero          int32
	actMin, actMax           int32
}

// randAffine draws the quantization of rows filters of k taps fed by the
// activation in: weights over the narrow range with some zeros and, now and
// then, the extremes; random zero points and clamps; multipliers that
// spread the outputs over their range (positive and negative shifts); a
// zero multiplier now and then.
func randAffine(rng *rand.Rand, rows, k int, in quant, wbits, obits int) (affine, quant) {
	a := affine{rows: rows, cols: k, wbits: wbits, obits: obits, inZero: in.z}
	wmax := 1<<(wbits-1) - 1
	a.weights = make([]int8, rows*k)
	for i := range a.weights {
		if rng.IntN(8) != 0 {
			a.weights[i] = int8(rng.IntN(2*wmax+1) - wmax)
		}
	}
	if rng.IntN(4) == 0 {
		a.weights[0], a.weights[len(a.weights)-1] = int8(wmax), int8(-wmax)
	}
	qmax := int32(1)<<obits - 1
	a.outZero = rng.Int32N(qmax + 1)
	a.actMin, a.actMax = 0, qmax
	switch rng.IntN(3) {
	case 0:
		a.actMin = a.outZero // ReLU
	case 1:
		a.actMin = rng.Int32N(qmax + 1)
		a.actMax = a.actMin + rng.Int32N(qmax-a.actMin+1)
	}
	spread := float64(max(in.hi-in.lo, 1))
	a.bias, a.mult, a.shift = make([]int32, rows), make([]int32, rows), make([]int32, rows)
	perTensor := rng.IntN(3) == 0
	for c := range rows {
		typical := math.Sqrt(float64(k)) * spread / 2 * float64(wmax) / 2
		m := float64(qmax+1) / 4 / typical * math.Exp2(rng.Float64()*2-1)
		if perTensor && c > 0 {
			a.mult[c], a.shift[c] = a.mult[0], a.shift[0]
		} else {
			q, s := fakequant.QuantizeMultiplier(m)
			a.mult[c], a.shift[c] = q, int32(s)
		}
		a.bias[c] = int32((rng.Float64()*2 - 1) * typical)
		if rng.IntN(20) == 0 {
			a.bias[c] = int32((rng.Float64()*2 - 1) * 1e6) // an int32 bias array
		}
	}
	if rng.IntN(10) == 0 && !perTensor {
		a.mult[0], a.shift[0] = 0, 0
	}
	return a, quant{a.outZero, a.actMin, a.actMax}
}

func (a affine) conv(inC, kh, kw, stride, pad int) *qnet.Conv2D {
	return &qnet.Conv2D{InC: inC, OutC: a.rows, KH: kh, KW: kw, Stride: stride, Pad: pad,
		WeightBits: a.wbits, Weights: a.weights, Bias: a.bias, Multiplier: a.mult, Shift: a.shift,
		InputZero: a.inZero, OutputZero: a.outZero, ActMin: a.actMin, ActMax: a.actMax, OutBits: a.obits}
}

func (a affine) fc() *qnet.FullyConnected {
	return &qnet.FullyConnected{In: a.cols, Out: a.rows,
		WeightBits: a.wbits, Weights: a.weights, Bias: a.bias, Multiplier: a.mult, Shift: a.shift,
		InputZero: a.inZero, OutputZero: a.outZero, ActMin: a.actMin, ActMax: a.actMax, OutBits: a.obits}
}

// randomModel returns a small random model: one to three convolutions
// (kernel 1..4, stride 1..2, padding 0..2, sometimes a max pool after),
// then one or two fully connected layers; bits per layer drawn from bits
// (a slice of choices), the rounding rule given.
func randomModel(rng *rand.Rand, bits []int, r fakequant.Rounding) *qnet.Model {
	pick := func() int { return bits[rng.IntN(len(bits))] }
	m := &qnet.Model{Name: "random", InC: 1 + rng.IntN(3), InH: 4 + rng.IntN(9), InW: 4 + rng.IntN(9), Rounding: r}
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
		a, q := randAffine(rng, 1+rng.IntN(9), c*kh*kw, in, pick(), pick())
		l := a.conv(c, kh, kw, stride, pad)
		m.Layers = append(m.Layers, l)
		c, h, w, _ = l.OutShape(c, h, w)
		in = q
		if k := 1 + rng.IntN(3); rng.IntN(2) == 0 && h >= k && w >= k {
			p := &qnet.MaxPool2D{K: k, Stride: 1 + rng.IntN(2)}
			m.Layers = append(m.Layers, p)
			c, h, w, _ = p.OutShape(c, h, w)
		}
	}
	if rng.IntN(6) == 0 && h >= 2 && w >= 2 { // a pool not after a conv
		p := &qnet.MaxPool2D{K: 2, Stride: 1}
		m.Layers = append(m.Layers, p)
		c, h, w, _ = p.OutShape(c, h, w)
	}
	for range 1 + rng.IntN(2) {
		a, q := randAffine(rng, 1+rng.IntN(13), c*h*w, in, pick(), pick())
		m.Layers = append(m.Layers, a.fc())
		c, h, w, in = a.rows, 1, 1, q
	}
	return m
}

// lenet5 returns a random LeNet-5 (conv 1->20 5x5, pool 2, conv 20->50 5x5,
// pool 2, fc 800->500, fc 500->10) with the given bits.
func lenet5(rng *rand.Rand, wbits, abits int, r fakequant.Rounding) *qnet.Model {
	m := &qnet.Model{Name: "lenet5", InC: 1, InH: 28, InW: 28, Rounding: r}
	q := quant{0, 0, 255}
	full := int32(1)<<abits - 1
	var as []affine
	for _, s := range [][2]int{{20, 25}, {50, 500}, {500, 800}, {10, 500}} {
		a, _ := randAffine(rng, s[0], s[1], q, wbits, abits)
		a.actMin, a.actMax = 0, full
		for c := range a.bias {
			a.bias[c] /= 16
		}
		as = append(as, a)
		q = quant{a.outZero, 0, full}
	}
	m.Layers = []qnet.Layer{
		as[0].conv(1, 5, 5, 1, 0), &qnet.MaxPool2D{K: 2, Stride: 2},
		as[1].conv(20, 5, 5, 1, 0), &qnet.MaxPool2D{K: 2, Stride: 2},
		as[2].fc(), as[3].fc(),
	}
	return m
}

// weightsOf returns the weight slices of m's Conv2D and FullyConnected
// layers (shared with m) and their bits.
func weightsOf(m *qnet.Model) (ws [][]int8, bits []int) {
	for _, l := range m.Layers {
		switch l := l.(type) {
		case *qnet.Conv2D:
			ws, bits = append(ws, l.Weights), append(bits, l.WeightBits)
		case *qnet.FullyConnected:
			ws, bits = append(ws, l.Weights), append(bits, l.WeightBits)
		}
	}
	return ws, bits
}

// pruneShare keeps a share keep[i] of layer i's weights (0 elsewhere) and,
// with k > 0, maps the nonzero ones to at most k values of the same sign
// and no larger magnitude (so the accumulator bound still holds): a
// pruned and clustered model.
func pruneShare(rng *rand.Rand, m *qnet.Model, keep []float64, k int) {
	ws, bits := weightsOf(m)
	for i, w := range ws {
		for j := range w {
			if rng.Float64() >= keep[i%len(keep)] {
				w[j] = 0
			}
		}
		if k == 0 {
			continue
		}
		wmax := 1<<(bits[i]-1) - 1
		levels := max(min(k/2, wmax), 1) // magnitudes wmax*l/levels, l = 1..levels
		for j, v := range w {
			if v == 0 {
				continue
			}
			a := int(v)
			if a < 0 {
				a = -a
			}
			mag := 0 // the largest grid magnitude wmax*l/levels <= a, or 0 (dropped)
			for l := 1; l <= levels; l++ {
				if g := wmax * l / levels; g <= a {
					mag = g
				}
			}
			if v < 0 {
				w[j] = int8(-mag)
			} else {
				w[j] = int8(mag)
			}
		}
	}
}

// distinct counts the distinct nonzero values of w.
func distinct(w []int8) int {
	seen := map[int8]bool{}
	for _, v := range w {
		if v != 0 {
			seen[v] = true
		}
	}
	return len(seen)
}

func randImages(rng *rand.Rand, n, size int) []byte {
	b := make([]byte, n*size)
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	return b
}
