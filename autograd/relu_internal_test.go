package autograd

import (
	"github.com/qatgo/qatgo/internal/f32"
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestReLURange checks the range ReLU and BiasReLU find while writing their output against
// rangeOf of that output, bit for bit (both bounds but for a NaN, where only the flag counts), on data with zeros of both signs and infinities, large
// enough to be split over two goroutines and small enough not to be.
func TestReLURange(t *testing.T) {
	rng := rand.New(rand.NewPCG(69, 70))
	for _, shape := range []tensor.Shape{{3, 4, 5}, {64, 20, 24}, {7, 500}} {
		for _, bias := range []bool{false, true} {
			for _, special := range []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1))} {
				xd := make([]float32, shape.TotalSize())
				for i := range xd {
					xd[i] = float32(rng.NormFloat64())
					if rng.IntN(4) == 0 {
						xd[i] = special
					}
				}
				bd := make([]float32, shape[1])
				for i := range bd {
					bd[i] = float32(rng.NormFloat64() * 0.1)
				}
				g := gorgonia.NewGraph()
				x := gorgonia.NewTensor(g, tensor.Float32, shape.Dims(), gorgonia.WithShape(shape...), gorgonia.WithValue(tensor.New(tensor.WithShape(shape...), tensor.WithBacking(xd))))
				var y *gorgonia.Node
				var err error
				if bias {
					b := gorgonia.NewTensor(g, tensor.Float32, 1, gorgonia.WithShape(shape[1]), gorgonia.WithValue(tensor.New(tensor.WithShape(shape[1]), tensor.WithBacking(bd))))
					y, err = BiasReLU(x, b)
				} else {
					y, err = ReLU(x)
				}
				if err != nil {
					t.Fatal(err)
				}
				vm := gorgonia.NewTapeMachine(g)
				t.Cleanup(func() { vm.Close() })
				if err := vm.RunAll(); err != nil {
					t.Fatal(err)
				}
				yd := y.Value().Data().([]float32)
				got, ok := y.Op().(*reluOp).outputRange(yd)
				if !ok {
					t.Fatalf("%v bias=%v: no range for the op's own output", shape, bias)
				}
				lo, hi, nan := f32.RangeOf(yd)
				if nan && got.nan {
					// -Inf gives NaN: the quantizer reports divergence and reads no bound.
					continue
				}
				if math.Float32bits(got.lo) != math.Float32bits(lo) || math.Float32bits(got.hi) != math.Float32bits(hi) || got.nan != nan {
					t.Errorf("%v bias=%v special %g: range (%g, %g, nan %v), rangeOf gives (%g, %g, nan %v)", shape, bias, special, got.lo, got.hi, got.nan, lo, hi, nan)
				}
				if _, ok := y.Op().(*reluOp).outputRange(append([]float32(nil), yd...)); ok {
					t.Errorf("%v bias=%v: a range for a copy of the output", shape, bias)
				}
			}
		}
	}
}
