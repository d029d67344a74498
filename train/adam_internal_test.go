package train

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestAdamRow: the vector Adam update (where the CPU has it) gives adamRowRef's bits for
// weights, moments and gradients across magnitudes, zeros of both signs, subnormals,
// infinities and NaNs (any NaN for a NaN), and lengths that leave a tail.
func TestAdamRow(t *testing.T) {
	rng := rand.New(rand.NewPCG(81, 82))
	specials := []float32{0, float32(math.Copysign(0, -1)), math.SmallestNonzeroFloat32, 1e-40, math.MaxFloat32,
		float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	val := func(scale float64) float32 {
		if rng.IntN(50) == 0 {
			return specials[rng.IntN(len(specials))]
		}
		return float32(rng.NormFloat64() * scale * math.Pow(2, float64(rng.IntN(40)-20)))
	}
	same := func(a, b float32) bool { return math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b) }
	for trial := range 300 {
		n := rng.IntN(200)
		k := adamConsts{b1: 0.9, b2: 0.999, step: float32(1e-3 * rng.Float64()), eps: 1e-8, decay: float32(1 - 1e-4*rng.Float64())}
		k.c1, k.c2 = 1-k.b1, 1-k.b2
		w, g, m, v := make([]float32, n), make([]float32, n), make([]float32, n), make([]float32, n)
		for i := range n {
			w[i], g[i], m[i] = val(1), val(1e-2), val(1e-2)
			v[i] = float32(math.Abs(float64(val(1e-4))))
		}
		w2, m2, v2 := append([]float32(nil), w...), append([]float32(nil), m...), append([]float32(nil), v...)
		adamRow(w, g, m, v, &k)
		adamRowRef(w2, g, m2, v2, &k)
		for i := range n {
			if !same(w[i], w2[i]) || !same(m[i], m2[i]) || !same(v[i], v2[i]) {
				t.Fatalf("trial %d element %d (g %v): w %v m %v v %v, want %v %v %v", trial, i, g[i], w[i], m[i], v[i], w2[i], m2[i], v2[i])
			}
		}
	}
}
