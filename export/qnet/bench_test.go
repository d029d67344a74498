package qnet

import (
	"fmt"
	"math/rand/v2"
	"testing"
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
