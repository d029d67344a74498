package autograd_test

import (
	"testing"

	"github.com/qatgo/qatgo/autograd"
	"github.com/qatgo/qatgo/fakequant"
)

// BenchmarkQuantizers times the fake-quant work of one LeNet-5 QAT step's largest layers at
// batch 64: the output requantization of conv1 (64x20x24x24), its STE, and the weight
// fake-quant of fc1 (500x800, per channel).
func BenchmarkQuantizers(b *testing.B) {
	rng := newRNG(71)
	ctx := &autograd.Context{Mode: autograd.ModeTrain}
	const n, ch, hw = 64, 20, 576
	wq := &autograd.WeightQuantizer{Ctx: ctx, Scheme: fakequant.Scheme{Bits: 8, Signed: true, Narrow: true}, PerChannel: true, Channels: ch}
	w := normals(rng, ch*25, 0.2)
	wq.Forward(make([]float32, len(w)), w, []int{ch, 25})
	in := &autograd.ActQuantizer{Ctx: ctx, Scheme: fakequant.Scheme{Bits: 8}, Fixed: true, Min: 0, Max: 1, Seen: true}
	in.Forward(make([]float32, 2), []float32{0, 1}, []int{1, 2})
	bq := &autograd.BiasQuantizer{In: in, W: wq}
	bq.Forward(make([]float32, ch), normals(rng, ch, 0.1), []int{ch})
	out := &autograd.ActQuantizer{Ctx: ctx, Scheme: fakequant.Scheme{Bits: 8}, Decay: 0.99, Min: 0, Max: 4, Seen: true, Steps: 1, Acc: bq}
	x := normals(rng, n*ch*hw, 2)
	for i, v := range x {
		x[i] = max(v, 0)
	}
	y, dy, dx := make([]float32, len(x)), normals(rng, len(x), 1), make([]float32, len(x))
	b.Run("conv1-requantize", func(b *testing.B) {
		for range b.N {
			if err := out.Forward(y, x, []int{n, ch, hw}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(x)), "ns/elem")
	})
	b.Run("conv1-ste", func(b *testing.B) {
		for range b.N {
			out.Backward(dx, x, dy)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(x)), "ns/elem")
	})
	fq := &autograd.WeightQuantizer{Ctx: ctx, Scheme: fakequant.Scheme{Bits: 8, Signed: true, Narrow: true}, PerChannel: true, Channels: 500}
	fw := normals(rng, 500*800, 0.05)
	fy := make([]float32, len(fw))
	b.Run("fc1-weights", func(b *testing.B) {
		for range b.N {
			if err := fq.Forward(fy, fw, []int{500, 800}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(fw)), "ns/elem")
	})
}
