package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"slices"
	"time"

	"github.com/qatgo/qatgo/export/qnet"
)

// engineBench is one measured configuration of benchEngine.
type engineBench struct {
	Kernels      string  `json:"kernels"`
	Batch        int     `json:"batch"`
	ImagesPerSec float64 `json:"images_per_second"`
	VsLanes      float64 `json:"vs_lanes"` // x the lane-packed engine (the previous default) at this batch
	// Per second of the thread's CPU time: on a machine shared with other
	// work, wall time includes time the thread waited for a core.
	ImagesPerCPUSec float64 `json:"images_per_cpu_second"`
	RunnerBytes     uint64  `json:"runner_bytes"` // bytes NewRunner plus a first call at this batch allocated
}

// benchEngine times the integer engine's kernel sets on the model file at batch 1 (Predict per
// image), 8, 64 and 256 (PredictBatch), one thread, in rounds that interleave every kernel set
// and batch size, so drift in the shared machine's speed hits all alike. Every configuration
// must give the same classes. The images are seeded random pixels: no kernel's time depends on
// the values.
func benchEngine(file string, images, rounds int, stdout io.Writer) ([]engineBench, error) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	m, err := qnet.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var kernels []qnet.Kernels
	for _, k := range []qnet.Kernels{qnet.KernelsLanes, qnet.KernelsGo, qnet.KernelsAVX2, qnet.KernelsVNNI} {
		if k.Supported() {
			kernels = append(kernels, k)
		}
	}
	batches := []int{1, 8, 64, 256}
	images = max(images, 256)
	images -= images % 256
	px := m.InC * m.InH * m.InW
	rng := rand.New(rand.NewPCG(15, 15))
	imgs := make([]uint8, images*px)
	for i := range imgs {
		imgs[i] = uint8(rng.IntN(256))
	}
	type cfg struct {
		k     qnet.Kernels
		batch int
	}
	runners := map[cfg]*qnet.Runner{}
	bytes := map[cfg]uint64{}
	var want []int
	for _, k := range kernels {
		for _, b := range batches {
			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			r := m.NewRunnerWith(qnet.RunnerOptions{Kernels: k})
			got := make([]int, images)
			predictAll(r, imgs, px, b, got)
			runtime.ReadMemStats(&ms1)
			runners[cfg{k, b}] = r
			bytes[cfg{k, b}] = ms1.TotalAlloc - ms0.TotalAlloc
			if want == nil {
				want = got
			} else if !slices.Equal(got, want) {
				return nil, fmt.Errorf("kernels %v at batch %d predict differently from %v at batch 1", k, b, kernels[0])
			}
		}
	}
	elapsed, cpu := map[cfg]time.Duration{}, map[cfg]time.Duration{}
	for range max(rounds, 1) {
		for _, b := range batches {
			for _, k := range kernels {
				c := cfg{k, b}
				got := make([]int, images)
				start, cpu0 := time.Now(), threadCPU()
				predictAll(runners[c], imgs, px, b, got)
				elapsed[c] += time.Since(start)
				cpu[c] += threadCPU() - cpu0
			}
		}
	}
	fmt.Fprintf(stdout, "integer engine, %s, one thread, %d images x %d interleaved rounds per configuration:\n", file, images, max(rounds, 1))
	var out []engineBench
	for _, b := range batches {
		base := float64(elapsed[cfg{qnet.KernelsLanes, b}])
		for _, k := range kernels {
			c := cfg{k, b}
			total := float64(images * max(rounds, 1))
			e := engineBench{Kernels: k.String(), Batch: b, RunnerBytes: bytes[c],
				ImagesPerSec: total / elapsed[c].Seconds(), VsLanes: base / float64(elapsed[c])}
			if cpu[c] > 0 {
				e.ImagesPerCPUSec = total / cpu[c].Seconds()
			}
			def := ""
			if runners[c].Kernels() == m.NewRunner().Kernels() {
				def = "  (default)"
			}
			fmt.Fprintf(stdout, "  batch %-3d %-6s %9.0f images/s  x%5.2f vs lanes  (%9.0f images per CPU second)  runner allocated %7d bytes%s\n",
				b, e.Kernels, e.ImagesPerSec, e.VsLanes, e.ImagesPerCPUSec, e.RunnerBytes, def)
			out = append(out, e)
		}
	}
	return out, nil
}

// predictAll predicts every image, b at a time (b = 1: Predict).
func predictAll(r *qnet.Runner, imgs []uint8, px, b int, dst []int) {
	n := len(imgs) / px
	if b == 1 {
		for i := range n {
			dst[i] = r.Predict(imgs[i*px : (i+1)*px])
		}
		return
	}
	for i := 0; i < n; i += b {
		r.PredictBatch(imgs[i*px:(i+b)*px], b, dst[i:i+b])
	}
}
