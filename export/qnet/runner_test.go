package qnet

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/qatgo/qatgo/fakequant"
)

// randomSparsity prunes every Conv2D and FullyConnected layer of m to a
// random density: none, 1%, 5%, anything in between, or all weights kept.
func randomSparsity(rng *rand.Rand, m *Model) {
	keep := make([]float64, len(affineLayers(m)))
	for i := range keep {
		switch rng.IntN(6) {
		case 0:
			keep[i] = 0
		case 1:
			keep[i] = 0.01
		case 2:
			keep[i] = 0.05
		case 3:
			keep[i] = 1
		default:
			keep[i] = rng.Float64()
		}
	}
	prune(rng, m, keep)
}

// runnerConfig is one way to run a model: an engine, a kernel path, and for
// the lane-packed dense path a forced lane count (0: the plan's choice).
type runnerConfig struct {
	kernels   Kernels
	path      KernelPath
	lanes     int
	sparseAll bool // the SIMD engine runs every layer it can sparse, at any batch
}

// runnerConfigs are the lane-packed engine's paths and lane counts and the
// SIMD engine at every level this CPU and build run (Go, AVX2, VNNI), so
// one test run on an AVX-512 VNNI machine checks all three kernel sets.
var runnerConfigs = func() []runnerConfig {
	cs := []runnerConfig{{KernelsLanes, PathAuto, 0, false}, {KernelsLanes, PathDense, 0, false}, {KernelsLanes, PathDense, 2, false},
		{KernelsLanes, PathDense, 3, false}, {KernelsLanes, PathDense, 4, false}, {KernelsLanes, PathSparse, 0, false}}
	for _, k := range []Kernels{KernelsGo, KernelsAVX2, KernelsVNNI} {
		if k.Supported() {
			cs = append(cs, runnerConfig{k, PathAuto, 0, false}, runnerConfig{k, PathAuto, 0, true})
		}
	}
	return cs
}()

func (c runnerConfig) runner(m *Model) *Runner {
	r := m.NewRunnerWith(RunnerOptions{Path: c.path, Kernels: c.kernels, sparseAll: c.sparseAll})
	if c.lanes != 0 {
		r.plan(c.lanes)
	}
	return r
}

// TestRunnerMatchesReference checks the fast paths (im2col + lane-packed
// GEMM, batched fully connected layers, and the sparse kernel) against the
// reference kernels, layer by layer, on random models, half of them pruned
// to random densities, and inputs.
func TestRunnerMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	used := map[int]int{}           // lane counts chosen automatically
	sparse := 0                     // layers PathAuto runs sparse
	narrow, wide := 0, 0            // AVX2 layers on the VPMADDUBSW and the VPMADDWD kernels
	simdSparse := map[Kernels]int{} // SIMD-engine layers run sparse, by kernel set
	for i := range 300 {
		m := randomModel(rng)
		if i%2 == 1 {
			randomSparsity(rng, m)
		}
		m.Rounding = fakequant.Rounding(i / 2 % 2) // both rules, dense and sparse
		if err := m.Validate(); err != nil {
			t.Fatalf("model %d: random model invalid: %v", i, err)
		}
		inLen := m.InC * m.InH * m.InW
		const n = 2*batchBlock + 3 // several blocks and a partial one
		imgs := randImages(rng, n, inLen)
		if i%5 == 0 { // inputs at the extremes
			for j := range imgs[:inLen] {
				imgs[j] = 255 * uint8(j%2)
			}
		}
		refs := make([][][]uint8, n)
		for j := range n {
			refs[j] = referenceTrace(m, imgs[j*inLen:(j+1)*inLen])
		}
		for li, sp := range m.NewRunner().SparseLayers() {
			if s := m.Summary()[li]; sp != s.Sparse {
				t.Fatalf("model %d layer %d: SparseLayers says %v, Summary %v", i, li, sp, s.Sparse)
			}
		}
		for _, cfg := range runnerConfigs {
			r := cfg.runner(m)
			if cfg == (runnerConfig{KernelsLanes, PathDense, 0, false}) {
				for _, p := range r.plans {
					if p.lanes != 0 {
						used[p.lanes]++
					}
				}
			}
			if cfg.kernels == KernelsAVX2 {
				for _, p := range r.eng.plans {
					if p.w != nil && p.w.Narrow() {
						narrow++
					} else if p.w != nil {
						wide++
					}
				}
			}
			if r.eng != nil {
				for _, p := range r.eng.plans {
					if p.sp != nil {
						simdSparse[cfg.kernels]++
					}
				}
			}
			if cfg.path == PathAuto && cfg.kernels == KernelsLanes {
				for _, sp := range r.SparseLayers() {
					if sp {
						sparse++
					}
				}
			}
			lanes := fmt.Sprint(cfg)
			want := make([]int, n)
			for j := range n {
				img := imgs[j*inLen : (j+1)*inLen]
				ref := refs[j]
				got := r.Trace(img)
				for li := range ref {
					if !bytes.Equal(got[li], ref[li]) {
						t.Fatalf("model %d %s image %d layer %d (%v): fast path differs from reference\n got %v\nwant %v",
							i, lanes, j, li, m.Layers[li].Kind(), got[li], ref[li])
					}
				}
				if fw := r.Forward(img); !bytes.Equal(fw, ref[len(ref)-1]) {
					t.Fatalf("model %d %s image %d: Forward %v, reference %v", i, lanes, j, fw, ref[len(ref)-1])
				}
				want[j] = Argmax(ref[len(ref)-1])
				if p := r.Predict(img); p != want[j] {
					t.Fatalf("model %d %s image %d: Predict %d, reference %d", i, lanes, j, p, want[j])
				}
			}
			got := make([]int, n)
			r.PredictBatch(imgs, n, got)
			for j := range n {
				if got[j] != want[j] {
					t.Fatalf("model %d %s image %d: PredictBatch %d, Predict %d", i, lanes, j, got[j], want[j])
				}
			}
		}
	}
	t.Logf("layers by lane count chosen: %v; %d layers run sparse on PathAuto; AVX2: %d layers narrow, %d wide", used, sparse, narrow, wide)
	if KernelsAVX2.Supported() && (narrow == 0 || wide == 0) {
		t.Errorf("AVX2: %d layers on the VPMADDUBSW kernel, %d on the VPMADDWD kernel: the test does not cover both", narrow, wide)
	}
	for _, k := range []Kernels{KernelsGo, KernelsAVX2, KernelsVNNI} {
		if k.Supported() && simdSparse[k] == 0 {
			t.Errorf("%v: no layer ran on the SIMD engine's sparse path", k)
		}
	}
	t.Logf("SIMD engine layers run sparse: %v", simdSparse)
	if sparse == 0 {
		t.Error("PathAuto never chose the sparse kernel")
	}
	for lanes := 2; lanes <= 4; lanes++ {
		if used[lanes] == 0 {
			t.Errorf("no random layer chose %d lanes; the test does not cover them", lanes)
		}
	}
}

// TestLanePackingExtremes drives every lane of the packed dot products to the
// largest sums the plan allows: all weights at the edge of their narrow range
// (same or alternating signs across channels), all inputs at the largest
// |q - Z|, and compares the accumulators with plain int64 sums.
func TestLanePackingExtremes(t *testing.T) {
	for _, wbits := range []int{2, 3, 4, 5, 8} {
		for _, maxIn := range []int32{1, 3, 15, 127, 128, 255} {
			for _, k := range []int{1, 7, 33, 100, 1000} {
				for _, pattern := range []string{"+", "-", "+-", "-+"} {
					wmax := int8(1)<<(wbits-1) - 1
					const rows = 16
					a := affine{rows: rows, cols: k, weightBits: wbits, weights: make([]int8, rows*k)}
					for c := range rows {
						sign := int8(1)
						if pattern[c%len(pattern)] == '-' {
							sign = -1
						}
						for j := range k {
							a.weights[c*k+j] = sign * wmax
						}
					}
					for _, d := range []int16{int16(maxIn), -int16(maxIn)} {
						x := make([]int16, k)
						for j := range x {
							x[j] = d
						}
						want := int32(d) * int32(wmax) * int32(k)
						for lanes := 2; lanes <= 4; lanes++ {
							p := layerPlan{aff: a, k: k}
							p.choose(int64(maxIn), lanes)
							if p.lanes != lanes {
								continue // infeasible
							}
							p.pack()
							acc := make([]int32, 4*lanes)
							for g := range p.groups {
								p.accumulate(acc, x, g)
								for i := range acc {
									c := g*4*lanes + i
									if c >= rows {
										break
									}
									w := want
									if pattern[c%len(pattern)] == '-' {
										w = -want
									}
									if acc[i] != w {
										t.Fatalf("wbits %d maxIn %d k %d %q d %d lanes %d (chunk %d): channel %d = %d, want %d",
											wbits, maxIn, k, pattern, d, lanes, p.chunk, c, acc[i], w)
									}
								}
							}
						}
					}
				}
			}
		}
	}
}

func TestUnpackLanes(t *testing.T) {
	for lanes := 2; lanes <= 4; lanes++ {
		bits := uint(64 / lanes)
		lim := int64(1)<<(bits-1) - 1
		for _, vals := range [][]int64{
			{lim, lim, lim, lim}, {-lim, -lim, -lim, -lim}, {lim, -lim, lim, -lim}, {-lim, lim, -lim, lim},
			{-1, 1, -1, 1}, {0, -1, 0, 1}, {1, 0, 0, -1}, {-lim, 0, 0, lim},
		} {
			var s int64
			for i := range lanes {
				s += vals[i] << (uint(i) * bits)
			}
			acc := make([]int32, lanes)
			unpackLanes(acc, s, lanes, bits)
			for i := range lanes {
				if int64(acc[i]) != vals[i] {
					t.Errorf("lanes %d %v: lane %d = %d", lanes, vals[:lanes], i, acc[i])
				}
			}
		}
	}
}

// TestRunnerLeNet5 checks the benchmark models, dense and pruned, against
// the reference.
func TestRunnerLeNet5(t *testing.T) {
	for _, bits := range []int{8, 4, 2} {
		for _, pruned := range []bool{false, true} {
			t.Run(fmt.Sprintf("%dbit/pruned=%v", bits, pruned), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(uint64(bits), 3))
				m := lenet5(rng, bits, bits)
				if pruned {
					prune(rng, m, hanKeep)
				}
				const n = 20
				imgs := randImages(rng, n, 28*28)
				refs := make([][]uint8, n) // the reference's logits, computed once for every engine
				for j := range n {
					ref := referenceTrace(m, imgs[j*784:(j+1)*784])
					refs[j] = ref[len(ref)-1]
				}
				for _, cfg := range runnerConfigs {
					if cfg.lanes == 0 {
						checkLeNet5(t, imgs, refs, cfg.runner(m))
					}
				}
			})
		}
	}
}

// checkLeNet5 compares r's Forward and PredictBatch on imgs with the
// reference's logits refs.
func checkLeNet5(t *testing.T, imgs []uint8, refs [][]uint8, r *Runner) {
	t.Helper()
	n := len(refs)
	got := make([]int, n)
	r.PredictBatch(imgs, n, got)
	classes := map[int]bool{}
	for j := range n {
		img := imgs[j*784 : (j+1)*784]
		if fw := r.Forward(img); !bytes.Equal(fw, refs[j]) {
			t.Fatalf("%v %v image %d: Forward %v, reference %v", r.kernels, r.path, j, fw, refs[j])
		}
		if want := Argmax(refs[j]); got[j] != want {
			t.Fatalf("%v %v image %d: PredictBatch %d, reference %d", r.kernels, r.path, j, got[j], want)
		}
		classes[got[j]] = true
	}
	t.Logf("%v %v %v: %d distinct classes over %d random images", r.kernels, r.path, r.SparseLayers(), len(classes), n)
}

func TestRunnerNoAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	m := lenet5(rng, 8, 8)
	prune(rng, m, []float64{1, 0.12, 0.08, 1}) // dense and sparse layers
	for _, cfg := range runnerConfigs {
		if cfg.lanes == 0 {
			t.Run(fmt.Sprint(cfg), func(t *testing.T) { checkNoAllocs(t, rng, m, cfg) })
		}
	}
}

func checkNoAllocs(t *testing.T, rng *rand.Rand, m *Model, cfg runnerConfig) {
	r := cfg.runner(m)
	if cfg == (runnerConfig{KernelsLanes, PathAuto, 0, false}) {
		if got := r.SparseLayers(); !slices.Equal(got, []bool{false, false, true, false, true, false}) {
			t.Fatalf("SparseLayers = %v", got)
		}
	}
	img := randImages(rng, 1, 784)
	imgs := randImages(rng, 40, 784)
	dst := make([]int, 40)
	r.Forward(img)
	if a := testing.AllocsPerRun(20, func() { r.Forward(img) }); a != 0 {
		t.Errorf("Forward: %v allocations per run, want 0", a)
	}
	if a := testing.AllocsPerRun(20, func() { r.Predict(img) }); a != 0 {
		t.Errorf("Predict: %v allocations per run, want 0", a)
	}
	if a := testing.AllocsPerRun(5, func() { r.PredictBatch(imgs, 40, dst) }); a != 0 {
		t.Errorf("PredictBatch: %v allocations per run, want 0", a)
	}
}

func TestRunnerPanics(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	m := randomModel(rng)
	r := m.NewRunner()
	inLen := m.InC * m.InH * m.InW
	for name, f := range map[string]func(){
		"Forward short":      func() { r.Forward(make([]uint8, inLen-1)) },
		"Trace long":         func() { r.Trace(make([]uint8, inLen+1)) },
		"PredictBatch n":     func() { r.PredictBatch(make([]uint8, 2*inLen), 3, make([]int, 3)) },
		"PredictBatch dst":   func() { r.PredictBatch(make([]uint8, 2*inLen), 2, make([]int, 1)) },
		"NewRunner invalid":  func() { (&Model{InC: 1, InH: 1, InW: 1}).NewRunner() },
		"unknown path":       func() { m.NewRunnerWith(RunnerOptions{Path: 3}) },
		"OutputShape broken": func() { (&Model{InC: 2, InH: 4, InW: 4, Layers: []Layer{&Conv2D{InC: 1}}}).OutputShape() },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
	// n = 0 is fine.
	r.PredictBatch(nil, 0, nil)
}

func TestTraceShapes(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	m := lenet5(rng, 8, 8)
	tr := m.NewRunner().Trace(randImages(rng, 1, 784))
	want := []int{20 * 24 * 24, 20 * 12 * 12, 50 * 8 * 8, 50 * 4 * 4, 500, 10}
	if len(tr) != len(want) {
		t.Fatalf("Trace returned %d layers, want %d", len(tr), len(want))
	}
	for i, n := range want {
		if len(tr[i]) != n {
			t.Errorf("layer %d: %d values, want %d", i, len(tr[i]), n)
		}
	}
	if c, h, w := m.OutputShape(); c != 10 || h != 1 || w != 1 {
		t.Errorf("OutputShape = %d,%d,%d, want 10,1,1", c, h, w)
	}
}

// TestPredictBatchSmallBlock uses a model whose activations are too large
// for full blocks: PredictBatch runs blocks of 4 and still equals Predict.
func TestPredictBatchSmallBlock(t *testing.T) {
	rng := rand.New(rand.NewPCG(31, 32))
	a1, q := randAffine(rng, 64, 9, quant{0, 0, 255}, 6, 8)
	a2, _ := randAffine(rng, 10, 64*8*8, q, 4, 8)
	m := &Model{InC: 1, InH: 64, InW: 64, Layers: []Layer{
		convFrom(a1, 1, 3, 3, 1, 1), &MaxPool2D{K: 8, Stride: 8}, fcFrom(a2),
	}}
	r := m.NewRunnerWith(RunnerOptions{Kernels: KernelsLanes})
	if r.block != 4 {
		t.Fatalf("block = %d, want 4", r.block)
	}
	const n = 9
	imgs := randImages(rng, n, 64*64)
	want := make([]int, n)
	for j := range n {
		ref := referenceTrace(m, imgs[j*4096:(j+1)*4096])
		want[j] = Argmax(ref[len(ref)-1])
	}
	for _, cfg := range runnerConfigs {
		if cfg.lanes != 0 {
			continue
		}
		r := cfg.runner(m)
		got := make([]int, n)
		r.PredictBatch(imgs, n, got)
		for j := range n {
			img := imgs[j*4096 : (j+1)*4096]
			if want := want[j]; got[j] != want || r.Predict(img) != want {
				t.Errorf("%v image %d: PredictBatch %d, Predict %d, reference %d", cfg, j, got[j], r.Predict(img), want)
			}
		}
	}
}

// TestSparseExtremes runs layers whose nonzero weights all sit at the edge
// of their narrow range, with the same or alternating signs, on inputs at
// the largest |q - Z|, through the sparse kernel, one image at a time and in
// blocks, and compares every layer with the reference.
func TestSparseExtremes(t *testing.T) {
	rng := rand.New(rand.NewPCG(51, 52))
	for _, wbits := range []int{2, 4, 8} {
		for _, z := range []int32{0, 128, 255} {
			for _, pattern := range []string{"+", "-", "+-"} {
				wmax := int8(1)<<(wbits-1) - 1
				a1, q := randAffine(rng, 7, 2*3*3, quant{z, 0, 255}, wbits, 8)
				a2, _ := randAffine(rng, 5, 7*6*6, q, wbits, 8)
				m := &Model{InC: 2, InH: 6, InW: 6, InputZero: z, Layers: []Layer{
					convFrom(a1, 2, 3, 3, 1, 1), fcFrom(a2),
				}}
				for _, a := range affineLayers(m) {
					for j := range a.weights {
						a.weights[j] = 0
						if rng.IntN(4) == 0 {
							a.weights[j] = wmax
							if pattern[j%len(pattern)] == '-' {
								a.weights[j] = -wmax
							}
						}
					}
				}
				if err := m.Validate(); err != nil {
					t.Fatal(err)
				}
				r := m.NewRunnerWith(RunnerOptions{Path: PathSparse})
				const n = batchBlock + 1
				imgs := make([]uint8, n*72)
				for j := range imgs {
					switch j / 72 % 3 {
					case 0:
						imgs[j] = 255
					case 2:
						imgs[j] = 255 * uint8(j%2)
					}
				}
				got := make([]int, n)
				r.PredictBatch(imgs, n, got)
				for j := range n {
					img := imgs[j*72 : (j+1)*72]
					ref := referenceTrace(m, img)
					for li, out := range r.Trace(img) {
						if !bytes.Equal(out, ref[li]) {
							t.Fatalf("wbits %d z %d %q image %d layer %d: sparse %v, reference %v", wbits, z, pattern, j, li, out, ref[li])
						}
					}
					if want := Argmax(ref[1]); got[j] != want {
						t.Fatalf("wbits %d z %d %q image %d: PredictBatch %d, reference %d", wbits, z, pattern, j, got[j], want)
					}
				}
			}
		}
	}
}
