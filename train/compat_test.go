package train

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"testing"

	"github.com/qatgo/qatgo/nn"
)

// testdata/e25f9eb-prune.qck.gz is a checkpoint written by qat built from main at e25f9eb, before
// Mode, Optimizer, Schedule and Ops became typed values and the model state moved to package
// train/checkpoint:
//
//	qat train --model lenet300-100 --mode float --epochs 1 --train-limit 256 --test-limit 100 --out float
//	qat prune --from float --model lenet300-100 --mode qat --target 0.995 --cycles 1 --retrain-epochs 1 \
//	    --train-limit 128 --test-limit 100 --optimizer sgd --schedule step --ops gorgonia \
//	    --wbits 4 --abits 6 --out prune
//
// (gzip -9 of prune/checkpoint.qck; testdata/e25f9eb-prune-metrics.jsonl is prune/metrics.jsonl).
// It must still load, with the same settings, into a model whose masks are those of the run.
func TestOldCheckpointLoads(t *testing.T) {
	f, err := os.Open("testdata/e25f9eb-prune.qck.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	ck, err := DecodeCheckpoint(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := ck.Config
	if c.Arch != "lenet300-100" || c.Mode != ModeQAT || c.Optimizer != OptSGD || c.Schedule != ScheduleStep || c.Ops != nn.OpsGorgonia ||
		c.Quant.WBits != 4 || c.Quant.ABits != 6 || ck.Stage != "prune" || ck.Opt.Kind != OptSGD || !ck.Finished {
		t.Fatalf("old checkpoint decodes as %+v, stage %q, optimizer state %q, finished %v", c, ck.Stage, ck.Opt.Kind, ck.Finished)
	}
	m, err := ck.Model()
	if err != nil {
		t.Fatal(err)
	}
	if m.Ops != nn.OpsGorgonia {
		t.Errorf("rebuilt model uses ops %q", m.Ops)
	}
	// The run pruned 99.5% of all weights (one global threshold): count the masks' zeros.
	pruned, total := 0, 0
	for _, l := range m.Quantized() {
		w := l.Weights()
		if w.Mask == nil {
			t.Fatalf("%s has no mask", w.Name)
		}
		for i, keep := range w.Mask {
			total++
			if keep == 0 {
				pruned++
				if w.Data[i] != 0 {
					t.Fatalf("%s: pruned weight %d is %v", w.Name, i, w.Data[i])
				}
			}
		}
	}
	if s := float64(pruned) / float64(total); s < 0.994 || s > 0.996 {
		t.Errorf("old checkpoint's masks prune %d of %d weights (%.4f), the run pruned 0.995", pruned, total, s)
	}
	// Re-encoding keeps every setting's string.
	var buf bytes.Buffer
	if err := EncodeCheckpoint(&buf, ck); err != nil {
		t.Fatal(err)
	}
	again, err := DecodeCheckpoint(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if again.Config.Mode != c.Mode || again.Config.Optimizer != c.Optimizer || again.Config.Schedule != c.Schedule || again.Config.Ops != c.Ops {
		t.Errorf("re-encoded settings %+v, want %+v", again.Config, c)
	}

	// The run's metrics decode into today's EpochMetrics, every key known.
	mf, err := os.Open("testdata/e25f9eb-prune-metrics.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer mf.Close()
	sc := bufio.NewScanner(mf)
	lines := 0
	for sc.Scan() {
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		var em EpochMetrics
		if err := dec.Decode(&em); err != nil {
			t.Fatalf("metrics line %d: %v", lines+1, err)
		}
		if em.Epoch != 1 || em.Cycle != 1 || em.Images != 128 || len(em.Ranges) != 3 || em.Ranges[0].Layer != "fc1" {
			t.Errorf("metrics line %d decodes as %+v", lines+1, em)
		}
		lines++
	}
	if lines != 1 {
		t.Errorf("%d metrics lines, want 1", lines)
	}
}
