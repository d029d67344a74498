package autograd_test

import (
	"math"
	"testing"

	"github.com/qatgo/qatgo/autograd"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// bnGeometry returns the batch size, channels and values per (sample, channel) of shape.
func bnGeometry(shape []int) (n, c, inner int) {
	n, c, inner = shape[0], shape[1], 1
	for _, d := range shape[2:] {
		inner *= d
	}
	return
}

// bnRefStats is the reference for (B1): per-channel mean and biased variance of x in float64,
// indexing each element's channel as (i / inner) % c.
func bnRefStats(x []float32, shape []int) (mean, variance []float64) {
	n, c, inner := bnGeometry(shape)
	m := float64(n * inner)
	mean, variance = make([]float64, c), make([]float64, c)
	for i, v := range x {
		mean[i/inner%c] += float64(v) / m
	}
	for i, v := range x {
		d := float64(v) - mean[i/inner%c]
		variance[i/inner%c] += d * d / m
	}
	return mean, variance
}

// bnRef is the reference for (B2) in float64 with the given statistics.
func bnRef(x, gamma, beta []float32, shape []int, mean, variance []float64, eps float64) []float64 {
	_, c, inner := bnGeometry(shape)
	y := make([]float64, len(x))
	for i, v := range x {
		ch := i / inner % c
		y[i] = float64(gamma[ch])*(float64(v)-mean[ch])/math.Sqrt(variance[ch]+eps) + float64(beta[ch])
	}
	return y
}

// bnRefGrad is the reference for (B4) and (B5) in training mode, for dy = r:
// dx = gamma/(M sigma) (M dy - sum dy - xhat sum dy xhat).
func bnRefGrad(x, gamma, r []float32, shape []int, eps float64) (dx, dgamma, dbeta []float64) {
	n, c, inner := bnGeometry(shape)
	m := float64(n * inner)
	mean, variance := bnRefStats(x, shape)
	xhat := make([]float64, len(x))
	dgamma, dbeta = make([]float64, c), make([]float64, c)
	for i, v := range x {
		ch := i / inner % c
		xhat[i] = (float64(v) - mean[ch]) / math.Sqrt(variance[ch]+eps)
		dgamma[ch] += float64(r[i]) * xhat[i]
		dbeta[ch] += float64(r[i])
	}
	dx = make([]float64, len(x))
	for i := range x {
		ch := i / inner % c
		sigma := math.Sqrt(variance[ch] + eps)
		dx[i] = float64(gamma[ch]) / (m * sigma) * (m*float64(r[i]) - dbeta[ch] - xhat[i]*dgamma[ch])
	}
	return dx, dgamma, dbeta
}

// roundedOnce reports whether got is within half a float32 ulp of want: the float64 value
// rounded once to float32.
func roundedOnce(got float32, want float64) bool {
	a := float32(math.Abs(want))
	ulp := float64(math.Nextafter32(a, float32(math.Inf(1))) - a)
	return math.Abs(float64(got)-want) <= ulp/2*(1+1e-9)
}

// randomBNState returns a state for c channels with running statistics away from 0 and 1, so a
// formula that confuses them shows.
func randomBNState(seed uint64, c int) *autograd.BNState {
	rng := newRNG(seed)
	st := autograd.NewBNState(c)
	for i := range c {
		st.Mean[i] = rng.NormFloat64()
		st.Var[i] = 0.3 + 2*rng.Float64()
	}
	return st
}

var bnShapes = []struct {
	name  string
	shape []int // (N, C, ...)
}{
	{"NCHW", []int{4, 3, 3, 3}},
	{"NC", []int{8, 3}},
}

func TestNewBNState(t *testing.T) {
	st := autograd.NewBNState(2)
	if len(st.Mean) != 2 || len(st.Var) != 2 || st.Mean[0] != 0 || st.Mean[1] != 0 || st.Var[0] != 1 || st.Var[1] != 1 ||
		st.Momentum != 0.1 || st.Eps != 1e-5 || st.Training {
		t.Errorf("NewBNState(2) = %+v, want Mean 0, Var 1, Momentum 0.1, Eps 1e-5, eval", *st)
	}
}

func TestBatchNormForward(t *testing.T) {
	for _, tc := range bnShapes {
		for _, training := range []bool{true, false} {
			name := tc.name + "/eval"
			if training {
				name = tc.name + "/training"
			}
			t.Run(name, func(t *testing.T) {
				rng := newRNG(21)
				n, c, inner := bnGeometry(tc.shape)
				xd := uniforms(rng, n*c*inner, -1, 3) // mean away from 0
				gd, bd := uniforms(rng, c, 0.5, 1.5), normals(rng, c, 1)
				st := randomBNState(22, c)
				st.Training = training
				st.Eps = 1e-3
				mean, variance := append([]float64(nil), st.Mean...), append([]float64(nil), st.Var...)
				if training {
					mean, variance = bnRefStats(xd, tc.shape)
				}

				g := gorgonia.NewGraph()
				x := input(g, "x", xd, tc.shape...)
				y := must(t)(autograd.BatchNorm(x, input(g, "gamma", gd, c), input(g, "beta", bd, c), st))
				vm := gorgonia.NewTapeMachine(g)
				defer vm.Close()
				if err := vm.RunAll(); err != nil {
					t.Fatal(err)
				}
				want := bnRef(xd, gd, bd, tc.shape, mean, variance, st.Eps)
				for i, v := range values(y) {
					if !roundedOnce(v, want[i]) {
						t.Fatalf("y[%d] = %.9g, want %.9g rounded once", i, v, want[i])
					}
				}
				if training {
					// Normalized by batch statistics: per channel, y has mean beta and biased
					// variance gamma^2 var/(var+eps).
					ym, yv := bnRefStats(values(y), tc.shape)
					for ch := range c {
						wv := float64(gd[ch]) * float64(gd[ch]) * variance[ch] / (variance[ch] + st.Eps)
						if math.Abs(ym[ch]-float64(bd[ch])) > 1e-6 || math.Abs(yv[ch]-wv) > 1e-5 {
							t.Errorf("channel %d: output mean %g variance %g, want %g and %g", ch, ym[ch], yv[ch], bd[ch], wv)
						}
					}
				}
			})
		}
	}
}

func TestBatchNormRunningStats(t *testing.T) {
	// (B3) after one training run, with the unbiased batch variance; no update in eval mode,
	// where the output uses the running statistics.
	shape := []int{4, 3, 3, 3}
	rng := newRNG(23)
	xd := uniforms(rng, 108, -1, 3)
	gd, bd := uniforms(rng, 3, 0.5, 1.5), normals(rng, 3, 1)
	st := randomBNState(24, 3)
	st.Momentum = 0.25
	st.Training = true
	old := *st
	old.Mean, old.Var = append([]float64(nil), st.Mean...), append([]float64(nil), st.Var...)

	g := gorgonia.NewGraph()
	y := must(t)(autograd.BatchNorm(input(g, "x", xd, shape...), input(g, "gamma", gd, 3), input(g, "beta", bd, 3), st))
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	run := func() {
		t.Helper()
		defer vm.Reset()
		if err := vm.RunAll(); err != nil {
			t.Fatal(err)
		}
	}
	run()
	mean, variance := bnRefStats(xd, shape)
	const m = 36.0
	for c := range 3 {
		wm := 0.75*old.Mean[c] + 0.25*mean[c]
		wv := 0.75*old.Var[c] + 0.25*variance[c]*m/(m-1)
		if math.Abs(st.Mean[c]-wm) > 1e-12*math.Max(1, math.Abs(wm)) || math.Abs(st.Var[c]-wv) > 1e-12*wv {
			t.Errorf("channel %d: running mean %.15g var %.15g, want %.15g and %.15g (unbiased batch variance)",
				c, st.Mean[c], st.Var[c], wm, wv)
		}
	}

	st.Training = false
	trained := append(append([]float64(nil), st.Mean...), st.Var...)
	run()
	run()
	for i, v := range append(append([]float64(nil), st.Mean...), st.Var...) {
		if v != trained[i] {
			t.Fatalf("eval runs changed the running statistics: %v, was %v", append(st.Mean, st.Var...), trained)
		}
	}
	want := bnRef(xd, gd, bd, shape, st.Mean, st.Var, st.Eps)
	for i, v := range values(y) {
		if !roundedOnce(v, want[i]) {
			t.Fatalf("eval y[%d] = %.9g, want %.9g from the running statistics", i, v, want[i])
		}
	}
}

// numericGrad returns the central differences of p's loss with respect to data.
func numericGrad(p *probe, data []float32, eps float64) []float64 {
	return centralDiff(data, eps, func() float64 { p.run(); return p.loss() })
}

func TestBatchNormGradTraining(t *testing.T) {
	const eps, tol = 1e-2, 1e-3
	for _, tc := range bnShapes {
		t.Run(tc.name, func(t *testing.T) {
			rng := newRNG(25)
			n, c, inner := bnGeometry(tc.shape)
			xd := uniforms(rng, n*c*inner, -1, 3)
			gd, bd := uniforms(rng, c, 0.5, 1.5), normals(rng, c, 1)
			st := autograd.NewBNState(c)
			st.Training = true

			g := gorgonia.NewGraph()
			x, gamma, beta := input(g, "x", xd, tc.shape...), input(g, "gamma", gd, c), input(g, "beta", bd, c)
			y := must(t)(autograd.BatchNorm(x, gamma, beta, st))
			p := newProbe(t, rng, []*gorgonia.Node{y}, x, gamma, beta)
			p.run()

			// Against the float64 reference of (B4), (B5).
			dx, dgamma, dbeta := bnRefGrad(xd, gd, p.rs[0], tc.shape, st.Eps)
			for j, want := range [][]float64{dx, dgamma, dbeta} {
				if err := gradErr(p.grad(j), want, 1e-5); err != nil {
					t.Errorf("gradient %d against the reference: %v", j, err)
				}
			}

			// Against central differences; the tolerance rejects dx without either coupling
			// term of (B5). (Read dx first: the last finite-difference run has a perturbed x.)
			analytic := p.grad(0)
			num := numericGrad(p, xd, eps)
			if err := gradErr(analytic, num, tol); err != nil {
				t.Errorf("dx: %v", err)
			}
			mean, variance := bnRefStats(xd, tc.shape)
			m := float64(n * inner)
			noMean, noVar := make([]float32, len(dx)), make([]float32, len(dx))
			for i := range dx {
				ch := i / inner % c
				sigma := math.Sqrt(variance[ch] + st.Eps)
				xhat := (float64(xd[i]) - mean[ch]) / sigma
				k := float64(gd[ch]) / sigma
				noMean[i] = float32(dx[i] + k*dbeta[ch]/m)
				noVar[i] = float32(dx[i] + k*xhat*dgamma[ch]/m)
			}
			if gradErr(noMean, num, tol) == nil {
				t.Error("dx without the mean term passes the finite-difference check")
			}
			if gradErr(noVar, num, tol) == nil {
				t.Error("dx without the variance term passes the finite-difference check")
			}
			checkGrad(t, p, 1, gd, eps, tol)
			checkGrad(t, p, 2, bd, eps, tol)
		})
	}
}

func TestBatchNormGradEval(t *testing.T) {
	for _, tc := range bnShapes {
		t.Run(tc.name, func(t *testing.T) {
			rng := newRNG(26)
			n, c, inner := bnGeometry(tc.shape)
			xd := uniforms(rng, n*c*inner, -1, 3)
			gd, bd := uniforms(rng, c, 0.5, 1.5), normals(rng, c, 1)
			st := randomBNState(27, c)
			frozen := append(append([]float64(nil), st.Mean...), st.Var...)

			g := gorgonia.NewGraph()
			x, gamma, beta := input(g, "x", xd, tc.shape...), input(g, "gamma", gd, c), input(g, "beta", bd, c)
			y := must(t)(autograd.BatchNorm(x, gamma, beta, st))
			p := newProbe(t, rng, []*gorgonia.Node{y}, x, gamma, beta)
			p.run()

			// The affine backward with the running statistics.
			dx := make([]float64, len(xd))
			for i, r := range p.rs[0] {
				ch := i / inner % c
				dx[i] = float64(r) * float64(gd[ch]) / math.Sqrt(st.Var[ch]+st.Eps)
			}
			if err := gradErr(p.grad(0), dx, 1e-6); err != nil {
				t.Errorf("dx against gamma dy / sqrt(Var+Eps): %v", err)
			}
			checkGrad(t, p, 0, xd, 1e-2, 1e-3)
			checkGrad(t, p, 1, gd, 1e-2, 1e-3)
			checkGrad(t, p, 2, bd, 1e-2, 1e-3)
			for i, v := range append(append([]float64(nil), st.Mean...), st.Var...) {
				if v != frozen[i] {
					t.Fatal("eval runs changed the running statistics")
				}
			}
		})
	}
}

// foldShapes are weights with the output channel on axis 0: a conv (OIHW) and a linear layer.
var foldShapes = []struct {
	name  string
	shape []int
}{
	{"OIHW", []int{3, 2, 2, 2}},
	{"OutIn", []int{3, 5}},
}

func TestBNFoldWeights(t *testing.T) {
	for _, tc := range foldShapes {
		t.Run(tc.name, func(t *testing.T) {
			rng := newRNG(28)
			size := tensor.Shape(tc.shape).TotalSize()
			per := size / 3
			wd, gd := normals(rng, size, 0.5), uniforms(rng, 3, 0.5, 1.5)
			st := randomBNState(29, 3)
			st.Eps = 1e-2

			g := gorgonia.NewGraph()
			w, gamma := input(g, "w", wd, tc.shape...), input(g, "gamma", gd, 3)
			wf := must(t)(autograd.FoldBNWeightsNode(w, gamma, st))
			p := newProbe(t, rng, []*gorgonia.Node{wf}, w, gamma)
			p.run()

			plain := make([]float32, size)
			autograd.FoldBNWeightsInto(plain, wd, gd, st)
			if i, ok := bitsEqual(values(wf), plain); !ok {
				t.Fatalf("op wf[%d] = %g, FoldBNWeightsInto %g", i, values(wf)[i], plain[i])
			}
			dw, dgamma := make([]float64, size), make([]float64, 3)
			for i, v := range plain {
				c := i / per
				sigma := math.Sqrt(st.Var[c] + st.Eps)
				if want := float64(wd[i]) * float64(gd[c]) / sigma; !roundedOnce(v, want) {
					t.Errorf("wf[%d] = %.9g, want w gamma / sqrt(Var+Eps) = %.9g", i, v, want)
				}
				dw[i] = float64(p.rs[0][i]) * float64(gd[c]) / sigma
				dgamma[c] += float64(p.rs[0][i]) * float64(wd[i]) / sigma
			}
			if err := gradErr(p.grad(0), dw, 1e-6); err != nil {
				t.Errorf("dw against dwf s: %v", err)
			}
			if err := gradErr(p.grad(1), dgamma, 1e-6); err != nil {
				t.Errorf("dgamma against sum dwf w / sqrt(Var+Eps): %v", err)
			}
			checkGrad(t, p, 0, wd, 1e-2, 1e-3)
			checkGrad(t, p, 1, gd, 1e-2, 1e-3)
		})
	}
}

func TestBNFoldBias(t *testing.T) {
	rng := newRNG(30)
	bd, gd := normals(rng, 3, 0.5), uniforms(rng, 3, 0.5, 1.5)
	st := randomBNState(31, 3)
	st.Eps = 1e-2

	g := gorgonia.NewGraph()
	beta, gamma := input(g, "beta", bd, 3), input(g, "gamma", gd, 3)
	bf := must(t)(autograd.FoldBNBiasNode(beta, gamma, st))
	p := newProbe(t, rng, []*gorgonia.Node{bf}, beta, gamma)
	p.run()

	plain := make([]float32, 3)
	autograd.FoldBNBiasInto(plain, bd, gd, st)
	if i, ok := bitsEqual(values(bf), plain); !ok {
		t.Fatalf("op bf[%d] = %g, FoldBNBiasInto %g", i, values(bf)[i], plain[i])
	}
	dgamma := make([]float64, 3)
	for c, v := range plain {
		sigma := math.Sqrt(st.Var[c] + st.Eps)
		if want := float64(bd[c]) - st.Mean[c]*float64(gd[c])/sigma; !roundedOnce(v, want) {
			t.Errorf("bf[%d] = %.9g, want beta - Mean gamma / sqrt(Var+Eps) = %.9g", c, v, want)
		}
		dgamma[c] = -float64(p.rs[0][c]) * st.Mean[c] / sigma
	}
	if i, ok := bitsEqual(p.grad(0), p.rs[0]); !ok {
		t.Errorf("dbeta[%d] = %g, want dbf = %g", i, p.grad(0)[i], p.rs[0][i])
	}
	if err := gradErr(p.grad(1), dgamma, 1e-6); err != nil {
		t.Errorf("dgamma against -dbf Mean / sqrt(Var+Eps): %v", err)
	}
	checkGrad(t, p, 0, bd, 1e-2, 1e-3)
	checkGrad(t, p, 1, gd, 1e-2, 1e-3)
}

func TestBNFoldComposed(t *testing.T) {
	// As in a conv with a folded batch norm: gamma feeds both FoldBNWeightsNode and FoldBNBiasNode, and
	// its gradient is the sum of both paths (F4).
	rng := newRNG(32)
	wd, bd, gd := normals(rng, 24, 0.5), normals(rng, 3, 0.5), uniforms(rng, 3, 0.5, 1.5)
	st := randomBNState(33, 3)
	st.Eps = 1e-2

	g := gorgonia.NewGraph()
	w, beta, gamma := input(g, "w", wd, 3, 2, 2, 2), input(g, "beta", bd, 3), input(g, "gamma", gd, 3)
	wf := must(t)(autograd.FoldBNWeightsNode(w, gamma, st))
	bf := must(t)(autograd.FoldBNBiasNode(beta, gamma, st))
	p := newProbe(t, rng, []*gorgonia.Node{wf, bf}, w, beta, gamma)
	p.run()

	dgamma := make([]float64, 3)
	for c := range dgamma {
		sigma := math.Sqrt(st.Var[c] + st.Eps)
		for k := c * 8; k < (c+1)*8; k++ {
			dgamma[c] += float64(p.rs[0][k]) * float64(wd[k]) / sigma
		}
		dgamma[c] -= float64(p.rs[1][c]) * st.Mean[c] / sigma
	}
	if err := gradErr(p.grad(2), dgamma, 1e-6); err != nil {
		t.Errorf("dgamma against the sum of both paths: %v", err)
	}
	checkGrad(t, p, 0, wd, 1e-2, 1e-3)
	checkGrad(t, p, 1, bd, 1e-2, 1e-3)
	checkGrad(t, p, 2, gd, 1e-2, 1e-3)
}

func TestFoldBNIdentity(t *testing.T) {
	// conv(x, wf) + bf == BatchNorm_eval(conv(x, w)), with padding (the batch norm follows the
	// convolution, so padded zeros do not matter). Eps is large so that a fold that forgot it
	// would show.
	rng := newRNG(34)
	xd := uniforms(rng, 2*2*5*5, -1, 1)
	wd, bd, gd := normals(rng, 3*2*3*3, 0.5), normals(rng, 3, 0.5), uniforms(rng, 3, 0.5, 1.5)
	st := randomBNState(35, 3)
	st.Eps = 0.1

	g := gorgonia.NewGraph()
	x := input(g, "x", xd, 2, 2, 5, 5)
	w, beta, gamma := input(g, "w", wd, 3, 2, 3, 3), input(g, "beta", bd, 3), input(g, "gamma", gd, 3)
	conv := func(w *gorgonia.Node) *gorgonia.Node {
		return must(t)(gorgonia.Conv2d(x, w, tensor.Shape{3, 3}, []int{1, 1}, []int{1, 1}, []int{1, 1}))
	}
	bn := must(t)(autograd.BatchNorm(conv(w), gamma, beta, st))
	wf := must(t)(autograd.FoldBNWeightsNode(w, gamma, st))
	bf := must(t)(autograd.FoldBNBiasNode(beta, gamma, st))
	folded := must(t)(autograd.BiasAdd(conv(wf), bf))
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}

	pw, pb := make([]float32, len(wd)), make([]float32, 3)
	autograd.FoldBNWeightsInto(pw, wd, gd, st)
	autograd.FoldBNBiasInto(pb, bd, gd, st)
	if i, ok := bitsEqual(values(wf), pw); !ok {
		t.Errorf("op wf[%d] = %g, FoldBNWeightsInto %g", i, values(wf)[i], pw[i])
	}
	if i, ok := bitsEqual(values(bf), pb); !ok {
		t.Errorf("op bf[%d] = %g, FoldBNBiasInto %g", i, values(bf)[i], pb[i])
	}

	want, got := values(bn), values(folded)
	if len(got) != 2*3*5*5 || len(want) != len(got) {
		t.Fatalf("%d folded and %d batch-norm outputs, want %d", len(got), len(want), 2*3*5*5)
	}
	var worst float64
	for i := range want {
		d := math.Abs(float64(got[i])-float64(want[i])) / math.Max(1, math.Abs(float64(want[i])))
		worst = max(worst, d)
		if d > 1e-5 {
			t.Fatalf("output %d: folded %.7g, batch norm %.7g", i, got[i], want[i])
		}
	}
	t.Logf("largest relative difference %.2g", worst)
}

func TestBatchNormErrors(t *testing.T) {
	g := gorgonia.NewGraph()
	x := input(g, "x", make([]float32, 12), 4, 3)
	w := input(g, "w", make([]float32, 12), 3, 4)
	v3, v4 := input(g, "v3", make([]float32, 3), 3), input(g, "v4", make([]float32, 4), 4)
	st3 := autograd.NewBNState(3)
	for name, err := range map[string]error{
		"BatchNorm gamma 4 for 3 channels":  func() error { _, err := autograd.BatchNorm(x, v4, v3, st3); return err }(),
		"BatchNorm beta 4 for 3 channels":   func() error { _, err := autograd.BatchNorm(x, v3, v4, st3); return err }(),
		"BatchNorm state of 4 channels":     func() error { _, err := autograd.BatchNorm(x, v3, v3, autograd.NewBNState(4)); return err }(),
		"BatchNorm nil state":               func() error { _, err := autograd.BatchNorm(x, v3, v3, nil); return err }(),
		"FoldBNWeightsNode gamma 4 for 3":   func() error { _, err := autograd.FoldBNWeightsNode(w, v4, st3); return err }(),
		"FoldBNWeightsNode state of 4":      func() error { _, err := autograd.FoldBNWeightsNode(w, v3, autograd.NewBNState(4)); return err }(),
		"FoldBNBiasNode beta 4 for gamma 3": func() error { _, err := autograd.FoldBNBiasNode(v4, v3, st3); return err }(),
		"FoldBNBiasNode state of 4":         func() error { _, err := autograd.FoldBNBiasNode(v3, v3, autograd.NewBNState(4)); return err }(),
	} {
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}

	// One value per channel: the unbiased variance is undefined in training, fine in eval.
	g = gorgonia.NewGraph()
	st := autograd.NewBNState(3)
	one := input(g, "one", []float32{1, 2, 3}, 1, 3)
	must(t)(autograd.BatchNorm(one, input(g, "gamma", []float32{1, 1, 1}, 3), input(g, "beta", make([]float32, 3), 3), st))
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Errorf("eval with one value per channel: %v", err)
	}
	vm.Reset()
	st.Training = true
	if err := vm.RunAll(); err == nil {
		t.Error("training with one value per channel accepted")
	}

	defer func() {
		if recover() == nil {
			t.Error("FoldBNWeightsInto with 10 weights for 3 channels did not panic")
		}
	}()
	autograd.FoldBNWeightsInto(make([]float32, 10), make([]float32, 10), make([]float32, 3), st3)
}
