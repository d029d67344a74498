package train

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/qatgo/qatgo/autograd"
	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/nn"
)

// SpeedResult is one training-speed measurement.
type SpeedResult struct {
	Mode            string  `json:"mode"`
	Images          int     `json:"images"`
	Seconds         float64 `json:"seconds"`
	ImagesPerSec    float64 `json:"images_per_second"`
	EpochSeconds    float64 `json:"epoch_seconds"` // extrapolated to 60,000 images
	PeakRSSMiB      float64 `json:"peak_rss_mib"`  // of the process so far
	SlowdownVsFloat float64 `json:"slowdown_vs_float"`
}

// BenchTraining trains the same batches (same init, same order) in float and in QAT with the
// given model configuration in one process and reports images/s, the extrapolated epoch time
// and the slowdown of QAT relative to float.
//
// Activations are quantized from the first step (no delay), so QAT's full cost is measured.
func BenchTraining(arch string, q nn.Config, batch, batches int, seed uint64, set *data.Set) ([]SpeedResult, error) {
	q.Delay = 0
	var out []SpeedResult
	for _, mode := range []autograd.Mode{autograd.ModeFloat, autograd.ModeTrain} {
		m, err := nn.New(arch, q, seed)
		if err != nil {
			return nil, err
		}
		if err := set.CheckShape(m.InH, m.InW); err != nil {
			return nil, err
		}
		m.FoldBN = mode != autograd.ModeFloat
		gr, err := m.NewGraph(batch, true)
		if err != nil {
			return nil, err
		}
		b := data.NewBatcher(set, batch, true, seed)
		if b.NumBatches() == 0 {
			return nil, fmt.Errorf("bench: fewer than %d images", batch)
		}
		perm := b.Epoch(0)
		sizes := make([]int, len(gr.Params))
		params := make([][]float32, len(gr.Params))
		grads := make([][]float32, len(gr.Params))
		for i, p := range gr.Params {
			sizes[i], params[i] = p.Size(), p.Data
		}
		opt, _ := NewOptimizer("adam", 0, 0, sizes)
		m.SetMode(mode)
		start := time.Now()
		for i := 0; i < batches; i++ {
			b.Fill(perm, i%b.NumBatches(), gr.Input(), gr.Targets(), nil)
			if _, err := gr.Run(); err != nil {
				return nil, err
			}
			if err := step(gr, opt, params, grads, 1e-3); err != nil {
				return nil, err
			}
		}
		secs := time.Since(start).Seconds()
		gr.Close()
		n := batches * batch
		r := SpeedResult{Mode: mode.String(), Images: n, Seconds: secs, ImagesPerSec: float64(n) / secs,
			EpochSeconds: 60000 * secs / float64(n), PeakRSSMiB: PeakRSSMiB()}
		if mode == autograd.ModeTrain {
			r.Mode = "qat"
		}
		out = append(out, r)
	}
	for i := range out {
		out[i].SlowdownVsFloat = out[i].Seconds / out[0].Seconds
	}
	return out, nil
}

// PeakRSSMiB returns the process's peak resident set size (VmHWM) in MiB, or 0 where
// /proc is not available.
func PeakRSSMiB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}
