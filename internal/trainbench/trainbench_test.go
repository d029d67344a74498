package trainbench

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/nn"
)

// near reports whether a and b agree to a relative 1e-9 (the results are ratios of sums of
// float64 times; the checks below come at them from another side than the code's expressions).
func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b)) }

// TestRunBookkeeping: the interleaved benchmark's figures agree with what the test measures
// itself (the wall time around the call bounds the timed runs) and with each other (a rate
// times the time it takes for an epoch of 60,000 images is 60,000; the baseline's ratios are
// 1; the fast QAT run's ratios chain: its time over stock float is stock QAT's over stock
// float divided by its speedup over stock QAT), and the QAT runs carry a per-round median and
// the fast QAT run the paired phase (a smoke test of the bookkeeping, not of speed).
func TestRunBookkeeping(t *testing.T) {
	set, _, err := data.Load("")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	rs, err := Run("lenet5", nn.DefaultConfig(), 16, 3, 2, 3, 1, set.Subset(64))
	wall := time.Since(start).Seconds()
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 4 {
		t.Fatalf("%d results, want 4", len(rs))
	}
	want := []struct{ ops, mode string }{{"gorgonia", "float"}, {"gorgonia", "qat"}, {"fast", "float"}, {"fast", "qat"}}
	sum := 0.0
	for k, r := range rs {
		if r.Ops != want[k].ops || r.Mode != want[k].mode {
			t.Fatalf("run %d is %s %s, want %s %s", k, r.Ops, r.Mode, want[k].ops, want[k].mode)
		}
		// 3 batches of 16 images.
		if r.Images != 48 || !(r.Seconds > 0) || !near(r.ImagesPerSec*r.Seconds, 48) || !near(r.ImagesPerSec*r.EpochSeconds, 60000) {
			t.Fatalf("%+v: want 48 images, a positive time, a rate and an epoch time that agree with it", r)
		}
		if r.PeakRSSMiB <= 0 || r.RunPeakRSSMiB > r.PeakRSSMiB {
			t.Errorf("%+v: peak RSS of the process missing or below a run's", r)
		}
		sum += r.Seconds
	}
	if sum > wall {
		t.Errorf("the runs' times add up to %v s, more than the %v s the call took", sum, wall)
	}
	if rs[0].TimeVsStockFloat != 1 || rs[0].SpeedupVsStock != 1 || rs[1].SpeedupVsStock != 1 {
		t.Errorf("the stock runs are not their own baselines: %+v", rs[:2])
	}
	if !near(rs[3].TimeVsStockFloat*rs[3].SpeedupVsStock, rs[1].TimeVsStockFloat) {
		t.Errorf("fast qat: x%v of stock float and x%v faster than stock qat (x%v of stock float) disagree",
			rs[3].TimeVsStockFloat, rs[3].SpeedupVsStock, rs[1].TimeVsStockFloat)
	}
	if !near((1+rs[3].QATOverhead)*rs[2].TimeVsStockFloat, rs[3].TimeVsStockFloat) || rs[0].QATOverhead != 0 || rs[2].QATOverhead != 0 {
		t.Errorf("fake-quant overhead not of the fast qat run over the fast float run: %+v", rs)
	}
	if rs[1].QATOverheadMedian == 0 || rs[3].QATOverheadMedian == 0 || rs[0].QATOverheadMedian != 0 {
		t.Fatalf("per-round medians missing or on a float run: %+v", rs)
	}
	if rs[3].PairedOverhead == 0 || rs[3].PairedOverheadMedian == 0 || rs[1].PairedOverhead != 0 || rs[2].PairedOverhead != 0 {
		t.Fatalf("paired overhead missing on fast qat or present elsewhere: %+v", rs)
	}
}

// TestRunSettings: settings out of range are refused before anything runs.
func TestRunSettings(t *testing.T) {
	set := &data.Set{}
	for _, c := range []struct {
		batch, batches, rounds, paired int
		want                           string
	}{{0, 1, 1, 0, "BatchSize"}, {16, 0, 1, 0, "Batches"}, {16, 1, 0, 0, "Rounds"}, {16, 1, 1, -1, "Paired"}} {
		_, err := Run("lenet5", nn.DefaultConfig(), c.batch, c.batches, c.rounds, c.paired, 1, set)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err = %v, want one naming %s", c, err, c.want)
		}
	}
}
func TestMedian(t *testing.T) {
	for _, c := range []struct {
		xs   []float64
		want float64
	}{{[]float64{3, 1, 2}, 2}, {[]float64{4, 1, 3, 2}, 2.5}, {[]float64{-1}, -1}} {
		if got := median(c.xs); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.xs, got, c.want)
		}
	}
}
