package autograd_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/qatgo/qatgo/autograd"
	"gorgonia.org/gorgonia"
)

// ceRef is the reference loss in float64: the batch mean of lse(z_n) - sum_k t_nk z_nk, which
// equals -sum_k t_nk log softmax(z_n)_k when each target row sums to 1.
func ceRef(z []float64, tg []float32, n, k int) float64 {
	var loss float64
	for i := 0; i < n; i++ {
		row := z[i*k : (i+1)*k]
		mx := row[0]
		for _, v := range row {
			mx = math.Max(mx, v)
		}
		var se, tz float64
		for j, v := range row {
			se += math.Exp(v - mx)
			tz += float64(tg[i*k+j]) * v
		}
		loss += mx + math.Log(se) - tz
	}
	return loss / float64(n)
}

// ceTargets returns one-hot rows for all but the last row, which is the soft target
// (0.25, 0.75, 0, ...): every row sums to 1 exactly.
func ceTargets(labels []int, k int) []float32 {
	n := len(labels) + 1
	tg := make([]float32, n*k)
	for i, l := range labels {
		tg[i*k+l] = 1
	}
	tg[(n-1)*k], tg[(n-1)*k+1] = 0.25, 0.75
	return tg
}

func TestSoftmaxCrossEntropy(t *testing.T) {
	const n, k = 4, 5
	for _, scale := range []float32{1, 3} {
		t.Run(fmt.Sprintf("dl=%g", scale), func(t *testing.T) { testSoftmaxCE(t, n, k, scale) })
	}
}

func testSoftmaxCE(t *testing.T, n, k int, scale float32) {
	rng := newRNG(2)
	zd := normals(rng, n*k, 2)
	labels := make([]int, n-1)
	for i := range labels {
		labels[i] = rng.IntN(k)
	}
	td := ceTargets(labels, k)

	g := gorgonia.NewGraph()
	z, tgt := input(g, "z", zd, n, k), input(g, "t", td, n, k)
	loss := must(t)(autograd.SoftmaxCrossEntropy(z, tgt))
	cost := loss
	if scale != 1 {
		// dl != 1 must scale dz: the gradient op reads the upstream scalar.
		cost = must(t)(gorgonia.Mul(loss, gorgonia.NewConstant(scale)))
	}
	grads, err := gorgonia.Grad(cost, z)
	if err != nil {
		t.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}

	z64 := make([]float64, len(zd))
	for i, v := range zd {
		z64[i] = float64(v)
	}
	want := ceRef(z64, td, n, k)
	got, ok := loss.Value().(*gorgonia.F32)
	if !ok {
		t.Fatalf("loss value has type %T, want *gorgonia.F32", loss.Value())
	}
	if math.Abs(float64(*got)-want) > 1e-6*want {
		t.Errorf("loss = %.8g, reference %.8g", float32(*got), want)
	}

	// Central differences of the float64 reference: truncation and rounding errors are far
	// below the float32 rounding of the analytic gradient.
	numeric := make([]float64, len(z64))
	const eps = 1e-6
	for i := range z64 {
		v := z64[i]
		z64[i] = v + eps
		fp := ceRef(z64, td, n, k)
		z64[i] = v - eps
		fm := ceRef(z64, td, n, k)
		z64[i] = v
		numeric[i] = float64(scale) * (fp - fm) / (2 * eps)
	}
	if err := gradErr(values(grads[0]), numeric, 1e-6); err != nil {
		t.Errorf("dz: %v", err)
	}
}

func TestSoftmaxCrossEntropyLargeLogits(t *testing.T) {
	// The max-shifted log-sum-exp keeps the loss finite where exp(z) overflows.
	const n, k = 2, 3
	zd := []float32{1000, 1001, 999, -1000, -998, -1003}
	td := []float32{0, 1, 0, 1, 0, 0}
	g := gorgonia.NewGraph()
	z, tgt := input(g, "z", zd, n, k), input(g, "t", td, n, k)
	loss := must(t)(autograd.SoftmaxCrossEntropy(z, tgt))
	grads, err := gorgonia.Grad(loss, z)
	if err != nil {
		t.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	// Shifted rows: (1, 2, 0) with label 1 and (2, 4, -1) with label 0.
	want := ceRef([]float64{1, 2, 0, 2, 4, -1}, td, n, k)
	if got := float64(*loss.Value().(*gorgonia.F32)); math.Abs(got-want) > 1e-6*want {
		t.Errorf("loss = %g, want %g", got, want)
	}
	for i, v := range values(grads[0]) {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Errorf("dz[%d] = %g", i, v)
		}
	}
}

func TestSoftmaxCrossEntropyShapeMismatch(t *testing.T) {
	g := gorgonia.NewGraph()
	z := input(g, "z", make([]float32, 6), 2, 3)
	for _, shape := range [][]int{{3, 2}, {2, 4}} {
		if _, err := autograd.SoftmaxCrossEntropy(z, input(g, "t", make([]float32, shape[0]*shape[1]), shape...)); err == nil {
			t.Errorf("targets %v accepted for logits (2, 3)", shape)
		}
	}
	v := input(g, "v", make([]float32, 6), 6)
	if _, err := autograd.SoftmaxCrossEntropy(v, v); err == nil {
		t.Error("1-D logits accepted")
	}
}
