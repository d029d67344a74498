package fakequant_test

import (
	"fmt"

	"github.com/qatgo/qatgo/fakequant"
)

func Example() {
	// An activation observed in [-1, 3], quantized to uint8, equation (4).
	p := fakequant.ChooseParams(-1, 3, fakequant.Scheme{Bits: 8})
	lo, hi := p.NudgedRange()
	fmt.Printf("scale=%.6f zero point=%d nudged range [%.5f, %.5f]\n", p.Scale, p.ZeroPoint, lo, hi)

	// Quantize (2), dequantize (1), fake-quantize (3): 0 is exact, the rest within scale/2,
	// values outside the range clamp.
	for _, x := range []float64{0, 0.5, 3.5} {
		q := p.Quantize(x)
		fmt.Printf("x=%.2f q=%d FQ(x)=%.5f\n", x, q, p.FakeQuantize(x))
	}
	// Output:
	// scale=0.015686 zero point=64 nudged range [-1.00392, 2.99608]
	// x=0.00 q=64 FQ(x)=0.00000
	// x=0.50 q=96 FQ(x)=0.50196
	// x=3.50 q=255 FQ(x)=2.99608
}

func ExampleMultiplyByQuantizedMultiplier() {
	// Requantize an int32 accumulator: M = S_in S_w / S_out, equation (8), applied with (11).
	m := 0.0123
	q, shift := fakequant.QuantizeMultiplier(m)
	fmt.Println(q, shift)
	for _, acc := range []int32{1000, -1000, 40650} {
		fmt.Println(acc, "->", fakequant.MultiplyByQuantizedMultiplier(acc, q, shift))
	}
	// Output:
	// 1690499128 -6
	// 1000 -> 12
	// -1000 -> -12
	// 40650 -> 500
}

func ExampleEMA() {
	o := fakequant.EMA{Decay: 0.9}
	o.Observe([]float32{-1, 2})  // the first batch initializes: [-1, 2]
	o.Observe([]float32{-3, 1})  // m <- m - 0.1 (m - batch), equation (7)
	o.Observe([]float32{0.5, 1}) // batch range [0, 1]: ranges always include 0
	fmt.Printf("[%.4f, %.4f]\n", o.Min, o.Max)
	p := o.Params(fakequant.Scheme{Bits: 8})
	fmt.Println("zero point", p.ZeroPoint, "Quantize(0)", p.Quantize(0))
	// Output:
	// [-1.0800, 1.8100]
	// zero point 95 Quantize(0) 95
}
