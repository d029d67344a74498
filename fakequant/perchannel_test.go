package fakequant

import (
	"math"
	"testing"
)

func TestPerChannelSymmetric(t *testing.T) {
	// 3 output channels of 4 weights each.
	w := []float32{
		0.5, -1, 0.25, 0, // absMax 1
		0, 0, 0, 0, // absMax 0: scale 1
		3, -6.35, 1, float32(math.NaN()), // absMax 6.35; NaN ignored
	}
	ps := PerChannelSymmetric(w, 3, int8n)
	if len(ps) != 3 {
		t.Fatalf("%d params, want 3", len(ps))
	}
	for c, absMax := range []float64{1, 0, float64(float32(6.35))} {
		if want := SymmetricParams(absMax, int8n); ps[c] != want {
			t.Errorf("channel %d: %v, want %v", c, ps[c], want)
		}
	}
	if ps[0].Quantize(-1) != -127 || ps[2].Quantize(float64(float32(-6.35))) != -127 {
		t.Errorf("the channel extremes do not reach -qmax: %v", ps)
	}
	// One channel is per tensor.
	if p := PerChannelSymmetric(w[:8], 1, int4n); len(p) != 1 || p[0] != SymmetricParams(1, int4n) {
		t.Errorf("per-tensor params %v", p)
	}

	dst := make([]float32, len(w))
	FakeQuantizePerChannel(dst, w, ps)
	q := make([]int32, len(w))
	QuantizePerChannel(q, w, ps)
	for i, x := range w {
		p := ps[i/4]
		if want := float32(p.FakeQuantize(float64(x))); !sameFloat32(dst[i], want) {
			t.Errorf("FakeQuantizePerChannel[%d] = %g, want %g (block %d)", i, dst[i], want, i/4)
		}
		if want := p.Quantize(float64(x)); q[i] != want {
			t.Errorf("QuantizePerChannel[%d] = %d, want %d", i, q[i], want)
		}
	}
	// Block i really uses ps[i]: swapping the params changes the result.
	swapped := []Params{ps[2], ps[1], ps[0]}
	other := make([]float32, len(w))
	FakeQuantizePerChannel(other, w, swapped)
	if other[0] == dst[0] {
		t.Errorf("block 0 ignores its params: %g with both", dst[0])
	}
	// dst may alias src.
	alias := append([]float32(nil), w...)
	FakeQuantizePerChannel(alias, alias, ps)
	for i := range alias {
		if !sameFloat32(alias[i], dst[i]) {
			t.Fatalf("aliased [%d] = %g, want %g", i, alias[i], dst[i])
		}
	}
}

func TestPerChannelPanics(t *testing.T) {
	w := make([]float32, 10)
	mustPanic(t, "len % channels", func() { PerChannelSymmetric(w, 3, int8n) })
	mustPanic(t, "zero channels", func() { PerChannelSymmetric(w, 0, int8n) })
	mustPanic(t, "negative channels", func() { PerChannelSymmetric(w, -2, int8n) })
	mustPanic(t, "infinite weight", func() { PerChannelSymmetric([]float32{float32(math.Inf(1)), 0}, 2, int8n) })
	ps := PerChannelSymmetric(w, 5, int8n)
	mustPanic(t, "dst length", func() { FakeQuantizePerChannel(w[:9], w, ps) })
	mustPanic(t, "blocks", func() { FakeQuantizePerChannel(w[:9], w[:9], ps) })
	mustPanic(t, "no params", func() { FakeQuantizePerChannel(w, w, nil) })
	mustPanic(t, "quantize blocks", func() { QuantizePerChannel(make([]int32, 9), w[:9], ps) })
}
