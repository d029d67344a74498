package qnet

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// The benchmark model is a random LeNet-5 (Deep Compression's shape, about
// 2.3M multiply-adds per image) at 8 and 4 bits.
var benchBits = []int{8, 4}

func BenchmarkForward(b *testing.B) {
	for _, bits := range benchBits {
		b.Run(fmt.Sprintf("%dbit", bits), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(21, uint64(bits)))
			r := lenet5(rng, bits, bits).NewRunner()
			img := randImages(rng, 1, 784)
			b.ReportAllocs()
			for b.Loop() {
				r.Forward(img)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}

func BenchmarkPredictBatch64(b *testing.B) {
	const n = 64
	for _, bits := range benchBits {
		b.Run(fmt.Sprintf("%dbit", bits), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(22, uint64(bits)))
			r := lenet5(rng, bits, bits).NewRunner()
			imgs := randImages(rng, n, 784)
			dst := make([]int, n)
			b.ReportAllocs()
			for b.Loop() {
				r.PredictBatch(imgs, n, dst)
			}
			b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "images/s")
		})
	}
}

// BenchmarkReference times the plain reference kernels, the baseline the
// fast path is measured against.
func BenchmarkReference(b *testing.B) {
	rng := rand.New(rand.NewPCG(23, 8))
	m := lenet5(rng, 8, 8)
	img := randImages(rng, 1, 784)
	for b.Loop() {
		referenceTrace(m, img)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkPruned compares the dense and sparse kernels on a random LeNet-5
// pruned to Deep Compression's kept fractions (conv1 66%, conv2 12%, fc1
// 8%, fc2 19%: 92% pruned), one image at a time (Forward) and in batches of
// 64 (PredictBatch): the lane-packed engine's dense and sparse kernels
// (PathAuto runs conv2, fc1 and fc2 sparse) and the SIMD engine's dense
// kernels on the pruned weights.
func BenchmarkPruned(b *testing.B) {
	const n = 64
	type cfg struct {
		k    Kernels
		path KernelPath
	}
	cfgs := []cfg{{KernelsLanes, PathDense}, {KernelsLanes, PathAuto}}
	for _, k := range []Kernels{KernelsAVX2, KernelsVNNI} {
		if k.Supported() {
			cfgs = append(cfgs, cfg{k, PathDense})
		}
	}
	for _, bits := range benchBits {
		for _, c := range cfgs {
			for _, batch := range []int{1, n} {
				b.Run(fmt.Sprintf("%dbit/%v/%v/batch%d", bits, c.k, c.path, batch), func(b *testing.B) {
					rng := rand.New(rand.NewPCG(24, uint64(bits)))
					m := prunedLeNet5(rng, bits, bits, 0, false)
					r := m.NewRunnerWith(RunnerOptions{Path: c.path, Kernels: c.k})
					imgs := randImages(rng, n, 784)
					dst := make([]int, n)
					b.ReportAllocs()
					for b.Loop() {
						if batch == 1 {
							r.Forward(imgs[:784])
						} else {
							r.PredictBatch(imgs, n, dst)
						}
					}
					b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "images/s")
				})
			}
		}
	}
}

// BenchmarkCrossover times one layer shaped like LeNet-5's conv1 (20 5x5
// filters over 1x28x28), conv2 (50 5x5 filters over 20x12x12) or fc1 (800
// -> 500, in blocks of 16 images and one at a time) at densities from 2% to
// 80%, on the dense and the sparse kernels. The densities where the two
// meet calibrate PathAuto's cost model (sparse.go, sparseCostConv2D and
// sparseCostFullyConnected).
func BenchmarkCrossover(b *testing.B) {
	type shape struct {
		name  string
		batch int
		model func(rng *rand.Rand, bits int) *Model
	}
	shapes := []shape{
		{"conv1", 1, func(rng *rand.Rand, bits int) *Model {
			a, _ := randAffine(rng, 20, 1*5*5, quant{0, 0, int32(1)<<bits - 1}, bits, bits)
			return &Model{InC: 1, InH: 28, InW: 28, Layers: []Layer{convFrom(a, 1, 5, 5, 1, 0)}}
		}},
		{"conv2", 1, func(rng *rand.Rand, bits int) *Model {
			a, _ := randAffine(rng, 50, 20*5*5, quant{0, 0, int32(1)<<bits - 1}, bits, bits)
			return &Model{InC: 20, InH: 12, InW: 12, Layers: []Layer{convFrom(a, 20, 5, 5, 1, 0)}}
		}},
		{"fc1", batchBlock, nil},
		{"fc1", 1, nil},
	}
	fc1 := func(rng *rand.Rand, bits int) *Model {
		a, _ := randAffine(rng, 500, 800, quant{0, 0, int32(1)<<bits - 1}, bits, bits)
		return &Model{InC: 50, InH: 4, InW: 4, Layers: []Layer{fcFrom(a)}}
	}
	shapes[2].model, shapes[3].model = fc1, fc1
	for _, s := range shapes {
		for _, bits := range benchBits {
			for _, pct := range []int{2, 5, 10, 15, 20, 25, 30, 40, 50, 60, 80} {
				for _, path := range []KernelPath{PathDense, PathSparse} {
					b.Run(fmt.Sprintf("%s/batch%d/%dbit/%d%%/%v", s.name, s.batch, bits, pct, path), func(b *testing.B) {
						rng := rand.New(rand.NewPCG(25, uint64(bits)))
						m := s.model(rng, bits)
						m.InputZero = 0
						prune(rng, m, []float64{float64(pct) / 100})
						r := m.NewRunnerWith(RunnerOptions{Path: path, Kernels: KernelsLanes})
						inLen := m.InC * m.InH * m.InW
						imgs := randImages(rng, s.batch, inLen)
						for i := range imgs {
							imgs[i] >>= 8 - bits // activations of the bit width
						}
						dst := make([]int, s.batch)
						for b.Loop() {
							if s.batch == 1 {
								r.Forward(imgs)
							} else {
								r.PredictBatch(imgs, s.batch, dst)
							}
						}
						b.ReportMetric(float64(b.N*s.batch)/b.Elapsed().Seconds(), "images/s")
					})
				}
			}
		}
	}
}

// BenchmarkKernels times every kernel set this CPU runs on the random
// LeNet-5 at batch 1 (Forward) and 64 (PredictBatch). `qat bench --engine
// FILE` does the same on a model file with the sets interleaved in rounds
// and ratios printed.
func BenchmarkKernels(b *testing.B) {
	const n = 64
	for _, bits := range benchBits {
		for _, k := range []Kernels{KernelsLanes, KernelsGo, KernelsAVX2, KernelsVNNI} {
			if !k.Supported() {
				continue
			}
			for _, batch := range []int{1, n} {
				b.Run(fmt.Sprintf("%dbit/%v/batch%d", bits, k, batch), func(b *testing.B) {
					rng := rand.New(rand.NewPCG(26, uint64(bits)))
					r := lenet5(rng, bits, bits).NewRunnerWith(RunnerOptions{Kernels: k})
					imgs := randImages(rng, n, 784)
					dst := make([]int, n)
					b.ReportAllocs()
					for b.Loop() {
						if batch == 1 {
							r.Forward(imgs[:784])
						} else {
							r.PredictBatch(imgs, n, dst)
						}
					}
					b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "images/s")
				})
			}
		}
	}
}

// BenchmarkSIMDCrossover times one layer shaped like LeNet-5's conv1 or
// conv2 (with its 2x2 max pool, fused) or fc1 (in blocks of 32 or 8 images) on the SIMD engine's dense
// and sparse kernels at densities (kept fractions) from 2% to 100%,
// alternating the two (20 calls each) in every iteration, and reports the sparse path's
// speedup (dense time / sparse time, "x"): where it crosses 1 calibrates
// simdSparseConv2D and simdSparseFC (engine_sparse.go).
//
//	go test -run '^$' -bench SIMDCrossover -benchtime 100x ./export/qnet/
func BenchmarkSIMDCrossover(b *testing.B) {
	k := KernelsAVX2
	if !k.Supported() {
		b.Skip("no AVX2 on this CPU or build")
	}
	conv := func(inC, inHW, outC int) func(rng *rand.Rand) *Model {
		return func(rng *rand.Rand) *Model {
			a, _ := randAffine(rng, outC, inC*5*5, quant{0, 0, 255}, 8, 8)
			pool := &MaxPool2D{K: 2, Stride: 2}
			return &Model{InC: inC, InH: inHW, InW: inHW, Layers: []Layer{convFrom(a, inC, 5, 5, 1, 0), pool}}
		}
	}
	fc1 := func(rng *rand.Rand) *Model {
		a, _ := randAffine(rng, 500, 800, quant{0, 0, 255}, 8, 8)
		return &Model{InC: 50, InH: 4, InW: 4, Layers: []Layer{fcFrom(a)}}
	}
	shapes := []struct {
		name  string
		batch int
		model func(rng *rand.Rand) *Model
	}{
		{"conv1", 1, conv(1, 28, 20)}, {"conv2", 1, conv(20, 12, 50)},
		{"fc1", simdBlock, fc1}, {"fc1", sparseFCMinBatch, fc1},
	}
	for _, s := range shapes {
		for _, pct := range []int{2, 5, 10, 15, 20, 25, 30, 40, 60, 80, 100} {
			b.Run(fmt.Sprintf("%s/batch%d/%d%%", s.name, s.batch, pct), func(b *testing.B) {
				rng := rand.New(rand.NewPCG(27, 8))
				m := s.model(rng)
				m.InputZero = 0
				prune(rng, m, []float64{float64(pct) / 100})
				dense := m.NewRunnerWith(RunnerOptions{Kernels: k, Path: PathDense}).eng
				sparse := m.NewRunnerWith(RunnerOptions{Kernels: k, sparseAll: true}).eng
				dense.grow(s.batch)
				sparse.grow(s.batch)
				inLen := m.InC * m.InH * m.InW
				src := append(randImages(rng, s.batch, inLen), make([]uint8, bufSlack)...)
				run := func(e *engine) time.Duration { // the layer alone, 20 times in a row
					p := &e.plans[0]
					t0 := time.Now()
					for range 20 {
						if p.kind == KindConv2D {
							e.conv(p, e.bufs[0], src, true) // pooled (LeNet's 2x2)
						} else {
							e.fc(p, e.bufs[0], src, s.batch)
						}
					}
					return time.Since(t0)
				}
				var td, ts time.Duration
				for b.Loop() {
					td += run(dense)
					ts += run(sparse)
				}
				b.ReportMetric(float64(td)/float64(ts), "x")
			})
		}
	}
}
