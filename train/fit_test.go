package train

import (
	"context"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/nn"
)

// tinySet is n seeded 1 x 8 x 8 images of 3 classes (a bright row band per class).
func tinySet(t *testing.T, n int, seed uint64) *data.Set {
	rng := rand.New(rand.NewPCG(seed, 1))
	imgs, labels := make([]uint8, n*64), make([]int, n)
	for i := range labels {
		k := rng.IntN(3)
		labels[i] = k
		for j := 0; j < 64; j++ {
			v := rng.IntN(60)
			if j/8 >= 2*k+1 && j/8 < 2*k+3 {
				v += 150
			}
			imgs[i*64+j] = uint8(v)
		}
	}
	s, err := data.FromUint8(imgs, labels, 1, 8, 8)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func tinyModel(t *testing.T) *nn.Model {
	s := &nn.Spec{Name: "tiny", Input: [3]int{1, 8, 8}, Layers: []nn.LayerSpec{nn.Conv(4, 3, 2, 1), nn.ReLU(), nn.Flat(), nn.Dense(3)}}
	m, err := nn.Build(s, nn.DefaultConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// cancelAfter cancels a context when the first epoch line is logged.
type cancelAfter struct{ cancel context.CancelFunc }

func (c cancelAfter) Write(p []byte) (int, error) { c.cancel(); return len(p), nil }

// Fit trains the model in place and returns its history; a cancelled context stops it and
// leaves a checkpoint that rebuilds the model from its recorded spec.
func TestFitHistoryAndCancel(t *testing.T) {
	trainSet, testSet := tinySet(t, 256, 1), tinySet(t, 64, 2)
	cfg := DefaultConfig()
	cfg.Mode, cfg.Epochs, cfg.BatchSize, cfg.Out = "qat", 2, 32, ""
	m := tinyModel(t)
	before := append([]float32(nil), m.Params()[0].Data...)
	got, hist, err := Fit(context.Background(), m, trainSet, testSet, cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got != m || len(hist) != 2 || hist[1].Epoch != 2 || hist[1].Images != 256 {
		t.Fatalf("Fit returned %p (model %p), history %+v", got, m, hist)
	}
	if m.Params()[0].Data[0] == before[0] {
		t.Error("the model's parameters did not change")
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg.Epochs, cfg.Out = 5, t.TempDir()
	m = tinyModel(t)
	_, hist, err = Fit(ctx, m, trainSet, testSet, cfg, Options{Log: cancelAfter{cancel}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Fit: %v", err)
	}
	if len(hist) != 1 {
		t.Fatalf("history after cancellation in epoch 2: %d epochs", len(hist))
	}
	ck, err := LoadCheckpoint(filepath.Join(cfg.Out, CheckpointFile))
	if err != nil {
		t.Fatal(err)
	}
	if ck.Epoch != 1 || ck.Finished || ck.Config.Arch != "tiny" {
		t.Fatalf("checkpoint: epoch %d, finished %v, arch %q", ck.Epoch, ck.Finished, ck.Config.Arch)
	}
	m2, err := ck.Model()
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range m.Params() {
		q := m2.Params()[i]
		for j := range p.Data {
			if p.Data[j] != q.Data[j] {
				t.Fatalf("checkpoint parameter %s[%d] = %v, model %v", q.Name, j, q.Data[j], p.Data[j])
			}
		}
	}

	// Wrong data for the model: refused before training.
	if _, _, err := Fit(context.Background(), tinyModel(t), tinySet(t, 64, 3).Subset(64), func() *data.Set {
		s, _ := data.FromUint8(make([]uint8, 2*64), []int{0, 4}, 1, 8, 8)
		return s
	}(), cfg, Options{}); err == nil {
		t.Error("Fit accepted a 5-class test set for a 3-class model")
	}
}
