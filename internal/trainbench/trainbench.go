package trainbench

import (
	"fmt"
	"os"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/qatgo/qatgo/autograd"
	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/nn"
	"github.com/qatgo/qatgo/train"
)

// Result is one training-speed measurement.
type Result struct {
	Ops          string  `json:"ops"`
	Mode         string  `json:"mode"`
	Images       int     `json:"images"`
	Seconds      float64 `json:"seconds"`
	ImagesPerSec float64 `json:"images_per_second"`
	EpochSeconds float64 `json:"epoch_seconds"` // extrapolated to 60,000 images
	// EpochCPUSeconds is the process's CPU time (user+system, all threads) for the run,
	// extrapolated to 60,000 images: with EpochSeconds it shows how well both cores are used,
	// and it is less sensitive than wall time to other load on the machine. 0 where
	// getrusage is not available.
	EpochCPUSeconds float64 `json:"epoch_cpu_seconds"`
	PeakRSSMiB      float64 `json:"peak_rss_mib"` // of the process over the whole benchmark
	// RunPeakRSSMiB is the peak RSS during this run alone (the high-water mark is reset
	// before each of its rounds, after returning freed memory to the OS; the largest of its
	// rounds), 0 where Linux's clear_refs is not available.
	RunPeakRSSMiB float64 `json:"run_peak_rss_mib"`
	// TimeVsStockFloat is this run's time over the stock-ops float run's (the baseline).
	TimeVsStockFloat float64 `json:"time_vs_stock_float"`
	// SpeedupVsStock is the stock-ops run's time in the same mode over this run's.
	SpeedupVsStock float64 `json:"speedup_vs_stock"`
	// QATOverhead (QAT runs) is this run's time over the float run's with the same ops,
	// minus 1: the cost of fake quantization.
	QATOverhead float64 `json:"qat_overhead,omitempty"`
	// QATOverheadMedian (QAT runs) is the median over rounds of the same ratio within each
	// round, less sensitive than QATOverhead to a round the machine slowed down in.
	QATOverheadMedian float64 `json:"qat_overhead_median,omitempty"`
	// PairedOverhead and PairedOverheadMedian (QAT runs with qatgo's ops) come from a second
	// phase that trains this run's model and its float twin side by side, one step of each in
	// turn (float, QAT, QAT, float, ...), over the same batches: the QAT/float ratio of the
	// summed step times minus 1, and the median over pairs of steps of the same ratio. On a
	// machine whose speed drifts within seconds (per-step times of one run varying 2x), pairs
	// of adjacent steps cancel the drift that rounds of several steps do not.
	PairedOverhead       float64 `json:"paired_overhead,omitempty"`
	PairedOverheadMedian float64 `json:"paired_overhead_median,omitempty"`
}

// benchRun is one model training on the benchmark's batches.
type benchRun struct {
	gr     *nn.Graph
	b      *data.Batcher
	perm   []int
	opt    train.Optimizer
	params [][]float32
	grads  [][]float32
}

// newBenchRun builds arch with the given ops in the given mode for the benchmark: same seed,
// same batch order for every run.
func newBenchRun(arch string, q nn.Config, ops nn.Ops, mode autograd.Mode, batch int, seed uint64, set *data.Set) (*benchRun, error) {
	m, err := nn.New(arch, q, seed)
	if err != nil {
		return nil, err
	}
	m.Ops = ops
	if err := set.CheckInput(m.InC, m.InH, m.InW); err != nil {
		return nil, err
	}
	if err := set.CheckClasses(m.Classes); err != nil {
		return nil, err
	}
	m.FoldBN = mode != autograd.ModeFloat
	gr, err := m.NewGraph(batch, true)
	if err != nil {
		return nil, err
	}
	r := &benchRun{gr: gr, b: data.NewBatcher(set, batch, true, seed)}
	if r.b.NumBatches() == 0 {
		gr.Close()
		return nil, fmt.Errorf("trainbench: fewer than %d images", batch)
	}
	r.perm = r.b.Epoch(0)
	r.opt, r.params, r.grads = adamFor(gr)
	m.SetMode(mode)
	return r, nil
}

// step trains batch i (modulo the epoch).
func (r *benchRun) step(i int) error {
	r.b.Fill(r.perm, i%r.b.NumBatches(), r.gr.Input(), r.gr.Targets(), nil)
	if _, err := r.gr.Run(); err != nil {
		return err
	}
	return train.Step(r.gr, r.opt, r.params, r.grads, 1e-3)
}

// Run trains the same batches (same init, same order) in float and in QAT, with
// gorgonia's stock conv and pool ops and with qatgo's, in one process, and reports images/s, the
// extrapolated epoch time and each run's time relative to the stock float run.
//
// The four runs are interleaved in rounds so that a machine whose speed drifts over minutes
// (a shared VM) does not bias one run against another: round r builds each run's graph
// afresh (same seed), takes one untimed batch (buffers are allocated on the first), then
// times batches [r*batches/rounds, (r+1)*batches/rounds) of the same batch order, and a
// run's time is the sum over rounds (at most batches rounds; 1: the runs one after another).
// Then pairedOverhead measures the fast QAT run's overhead over fast float once more, a step of
// each in turn for paired pairs of steps (PairedOverhead; none if paired <= 0); its graphs are
// not part of the RSS figures.
//
// Activations are quantized from the first step (no delay), so QAT's full cost is measured.
//
// Settings out of range are *train.SettingError values (batch and the quantization settings
// as train.Config's BatchSize and Quant).
func Run(arch string, q nn.Config, batch, batches, rounds, paired int, seed uint64, set *data.Set) ([]Result, error) {
	cfg := train.DefaultConfig()
	cfg.Arch, cfg.Quant, cfg.BatchSize = arch, q, batch
	for _, err := range []error{
		cfg.Validate(),
		train.IntIn("Batches", batches, 1, 1_000_000),
		train.IntIn("Rounds", rounds, 1, 1_000_000),
		train.IntIn("Paired", paired, 0, 1_000_000),
	} {
		if err != nil {
			return nil, err
		}
	}
	q.Delay = 0
	rounds = max(1, min(rounds, batches))
	type run struct {
		ops  nn.Ops
		mode autograd.Mode
	}
	runs := []run{{nn.OpsGorgonia, autograd.ModeFloat}, {nn.OpsGorgonia, autograd.ModeTrain}, {nn.OpsFast, autograd.ModeFloat}, {nn.OpsFast, autograd.ModeTrain}}
	secs, cpu, runPeak := make([]float64, len(runs)), make([]float64, len(runs)), make([]float64, len(runs))
	roundSecs := make([][]float64, rounds) // roundSecs[r][k]: run k's time in round r
	peak := PeakRSSMiB()                   // of the process so far: clear_refs resets VmHWM before each round
	hwmReset := true
	for r := range rounds {
		lo, hi := r*batches/rounds, (r+1)*batches/rounds
		roundSecs[r] = make([]float64, len(runs))
		for k, rc := range runs {
			run, err := newBenchRun(arch, q, rc.ops, rc.mode, batch, seed, set)
			if err != nil {
				return nil, err
			}
			peak = max(peak, PeakRSSMiB())
			hwmReset = resetPeakRSS() && hwmReset
			err = run.step(lo) // untimed: the first run of a graph allocates its buffers
			cpu0 := cpuSeconds()
			start := time.Now()
			for i := lo; i < hi && err == nil; i++ {
				err = run.step(i)
			}
			roundSecs[r][k] = time.Since(start).Seconds()
			secs[k] += roundSecs[r][k]
			cpu[k] += cpuSeconds() - cpu0
			run.gr.Close()
			if err != nil {
				return nil, err
			}
			p := PeakRSSMiB()
			runPeak[k] = max(runPeak[k], p)
			peak = max(peak, p)
		}
	}
	out := make([]Result, len(runs))
	for k, rc := range runs {
		n := batches * batch
		r := Result{Ops: string(rc.ops), Mode: rc.mode.String(), Images: n, Seconds: secs[k], ImagesPerSec: float64(n) / secs[k],
			EpochSeconds: 60000 * secs[k] / float64(n), EpochCPUSeconds: 60000 * cpu[k] / float64(n), PeakRSSMiB: peak}
		if hwmReset {
			r.RunPeakRSSMiB = runPeak[k]
		}
		if rc.mode == autograd.ModeTrain {
			r.Mode = "qat"
		}
		out[k] = r
	}
	for i := range out {
		out[i].TimeVsStockFloat = out[i].Seconds / out[0].Seconds
		for _, o := range out {
			if o.Mode == out[i].Mode && o.Ops == string(nn.OpsGorgonia) {
				out[i].SpeedupVsStock = o.Seconds / out[i].Seconds
			}
			if out[i].Mode == "qat" && o.Mode == "float" && o.Ops == out[i].Ops {
				out[i].QATOverhead = out[i].Seconds/o.Seconds - 1
			}
		}
	}
	// Per-round overheads: runs 1 and 3 are QAT, 0 and 2 their float counterparts.
	for _, k := range []int{1, 3} {
		ratios := make([]float64, rounds)
		for r := range rounds {
			ratios[r] = roundSecs[r][k]/roundSecs[r][k-1] - 1
		}
		out[k].QATOverheadMedian = median(ratios)
	}
	if paired <= 0 {
		return out, nil
	}
	total, med, err := pairedOverhead(arch, q, nn.OpsFast, batch, paired, seed, set)
	if err != nil {
		return nil, err
	}
	out[3].PairedOverhead, out[3].PairedOverheadMedian = total, med
	return out, nil
}

// pairedOverhead trains arch with ops in float and in QAT side by side (same init, same
// batches), one step of each in turn, the order alternating (float, QAT, QAT, float, ...) so
// that neither mode always runs second with the other's data in the caches. It returns the
// summed QAT step time over the summed float step time, minus 1, and the median over batches
// of the same ratio for that batch's two steps, minus 1. Each model takes one untimed step
// first (buffers are allocated on the first).
func pairedOverhead(arch string, q nn.Config, ops nn.Ops, batch, batches int, seed uint64, set *data.Set) (total, med float64, err error) {
	var runs [2]*benchRun // float, QAT
	for k, mode := range []autograd.Mode{autograd.ModeFloat, autograd.ModeTrain} {
		if runs[k], err = newBenchRun(arch, q, ops, mode, batch, seed, set); err != nil {
			return 0, 0, err
		}
		defer runs[k].gr.Close()
		if err := runs[k].step(0); err != nil {
			return 0, 0, err
		}
	}
	ratios := make([]float64, batches)
	var sums [2]float64
	for i := range batches {
		var secs [2]float64
		for j := range 2 {
			k := j ^ i&1
			start := time.Now()
			if err := runs[k].step(i); err != nil {
				return 0, 0, err
			}
			secs[k] = time.Since(start).Seconds()
		}
		sums[0], sums[1] = sums[0]+secs[0], sums[1]+secs[1]
		ratios[i] = secs[1]/secs[0] - 1
	}
	return sums[1]/sums[0] - 1, median(ratios), nil
}

// median returns the median of xs (the mean of the middle two for an even count); it sorts xs.
func median(xs []float64) float64 {
	sort.Float64s(xs)
	n := len(xs)
	if n%2 == 1 {
		return xs[n/2]
	}
	return (xs[n/2-1] + xs[n/2]) / 2
}

// adamFor returns a fresh Adam optimizer for gr's parameters, the parameter slices and room
// for their gradients: what step needs, for the benchmarks.
func adamFor(gr *nn.Graph) (train.Optimizer, [][]float32, [][]float32) {
	sizes := make([]int, len(gr.Params))
	params := make([][]float32, len(gr.Params))
	for i, p := range gr.Params {
		sizes[i], params[i] = p.Size(), p.Data
	}
	opt, _ := train.NewOptimizer("adam", 0, 0, sizes)
	return opt, params, make([][]float32, len(gr.Params))
}

// resetPeakRSS returns freed memory to the OS and resets the process's peak RSS (VmHWM) to
// its current RSS, so that the next PeakRSSMiB measures what follows; it reports whether
// the reset worked (Linux 4.0+ with /proc mounted).
func resetPeakRSS() bool {
	debug.FreeOSMemory()
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
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
