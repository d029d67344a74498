package train

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/qatgo/qatgo/nn"
	"github.com/qatgo/qatgo/train/kmeans"
)

// ClusterConfig is weight sharing with centroid fine-tuning (Deep Compression §3,
// REFERENCES §4): per layer, 1-D k-means over the kept weights, then training of the centroids
// with the assignments fixed.
type ClusterConfig struct {
	// Train configures the fine-tuning: Mode "qat" (cluster-preserving QAT: the centroids are
	// fake-quantized with one scale per layer, so the integer codebook has at most k entries)
	// or "float"; From (required), Epochs (0: no fine-tuning), LR, optimizer, Out.
	Train   Config         `json:"train"`
	K       int            `json:"k"`        // centroids per layer (16 = 4-bit indices)
	LayerK  map[string]int `json:"layer_k"`  // per-layer k overrides
	Init    kmeans.Init    `json:"init"`     // kmeans.InitLinear (default, best in Deep Compression), InitDensity, InitKMeansPP
	MaxIter int            `json:"max_iter"` // k-means iterations (Lloyd) at most, >= 1
}

// DefaultClusterConfig shares 16 centroids per layer, linear init, 1 epoch of QAT fine-tuning.
func DefaultClusterConfig() ClusterConfig {
	t := DefaultConfig()
	t.LR, t.Epochs, t.Quant.Delay, t.Out = 1e-4, 1, 100, "runs/cluster"
	return ClusterConfig{Train: t, K: 16, Init: kmeans.InitLinear, MaxIter: 100}
}

// ClusterLayer reports one layer's codebook.
type ClusterLayer struct {
	Layer    string  `json:"layer"`
	K        int     `json:"k"`
	Nonzero  int     `json:"nonzero"`
	Inertia  float64 `json:"inertia"` // mean squared distance of the kept weights to their centroid
	Centroid int     `json:"centroids"`
}

// ClusterResult summarizes a clustering run.
type ClusterResult struct {
	Layers       []ClusterLayer `json:"layers"`
	ClusteredAcc float64        `json:"clustered_accuracy"` // right after k-means
	TestAccuracy float64        `json:"test_accuracy"`      // after fine-tuning
	Sparsity     float64        `json:"sparsity"`
	Checkpoint   string         `json:"checkpoint"`
}

// Validate checks the clustering settings.
func (c *ClusterConfig) Validate() error {
	if c.Train.From == "" {
		return errors.New("train: clustering needs a trained checkpoint (Train.From)")
	}
	if c.Train.Mode != ModeQAT && c.Train.Mode != ModeFloat {
		return fmt.Errorf("train: clustering fine-tunes in mode qat or float, not %q", c.Train.Mode)
	}
	if c.Train.Resume || c.Train.StopAfter != 0 {
		return errors.New("train: a clustering run cannot be resumed or stopped early (Train.Resume, Train.StopAfter): run it again")
	}
	err := firstErr(
		IntIn("Train.Epochs", c.Train.Epochs, 0, MaxEpochs),
		IntIn("K", c.K, 1, 256),
		IntIn("MaxIter", c.MaxIter, 1, 1_000_000),
	)
	if err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(c.LayerK)) {
		if err := IntIn("LayerK["+name+"]", c.LayerK[name], 1, 256); err != nil {
			return err
		}
	}
	if _, err := kmeans.ParseInit(string(c.Init)); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	// The fine-tuning settings, with the epochs the driver sets.
	tc := c.Train
	tc.Epochs = max(tc.Epochs, 1)
	return prefixed("Train", tc.Validate())
}

// Cluster shares the weights of every quantizable layer of Train.From through a k-entry
// codebook and fine-tunes the centroids. Pruned weights stay zero (assigned to no cluster);
// weights keep their cluster through fine-tuning, QAT and export. The clustered layers use one
// weight scale per layer (per-channel scales would turn one float centroid into a different
// integer per channel).
func Cluster(cfg ClusterConfig, opt Options) (*ClusterResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tc := cfg.Train
	tc.Resume, tc.StopAfter = false, 0
	tc.Quant.PerChannel = false
	layers := map[string]nn.LayerQ{}
	for name, q := range tc.Quant.Layers {
		q.PerChannel = false
		layers[name] = q
	}
	if tc.Quant.Layers != nil {
		tc.Quant.Layers = layers
	}
	fineTune := tc.Epochs > 0
	if !fineTune {
		tc.Epochs = 1
	}
	res := &ClusterResult{}
	prepare := func(m *nn.Model) error {
		if len(m.BatchNorms()) > 0 {
			return fmt.Errorf("train: %s: batch norm folds a different scale into every channel, which breaks shared weights: cluster a model without batch norm", m.Arch)
		}
		for _, name := range slices.Sorted(maps.Keys(cfg.LayerK)) {
			found := false
			for _, l := range m.Quantized() {
				found = found || l.Name() == name
			}
			if !found {
				return fmt.Errorf("train: %s has no layer %q to cluster", m.Arch, name)
			}
		}
		for _, l := range m.Quantized() {
			w := l.Weights()
			if w.Shared != nil {
				return fmt.Errorf("train: %s is already clustered", l.Name())
			}
			k := cfg.K
			if lk, ok := cfg.LayerK[l.Name()]; ok {
				k = lk
			}
			// A kept weight that is exactly 0 belongs to no cluster: prune it (it is zero anyway).
			if w.Mask != nil {
				keep := make([]bool, w.Size())
				for i, v := range w.Data {
					keep[i] = w.Mask[i] != 0 && v != 0
				}
				if err := w.Prune(keep); err != nil {
					return err
				}
			}
			c, assign, err := kmeans.ClusterWeights(w.Data, k, cfg.Init, tc.Seed, cfg.MaxIter)
			if err != nil {
				return fmt.Errorf("train: clustering %s: %w", l.Name(), err)
			}
			var se float64
			nz := 0
			for i, a := range assign {
				if a >= 0 {
					d := float64(w.Data[i] - c[a])
					se += d * d
					nz++
				}
			}
			if err := w.Share(c, assign); err != nil {
				return err
			}
			res.Layers = append(res.Layers, ClusterLayer{Layer: l.Name(), K: k, Centroid: len(c), Nonzero: nz, Inertia: se / math.Max(float64(nz), 1)})
		}
		return nil
	}
	r, err := newRunner(tc, opt, nil, hooks{prepare: prepare, inheritRanges: true})
	if err != nil {
		return nil, err
	}
	defer r.close()
	r.ck.Stage = "cluster"
	if !fineTune && tc.Mode == ModeQAT && !r.keepRanges {
		return nil, fmt.Errorf("train: %s has no activation ranges for these bit widths: fine-tune at least one epoch, or cluster a QAT checkpoint with the same activation bits", tc.From)
	}
	res.Checkpoint = r.ckptPath
	if res.ClusteredAcc, err = r.evaluate(); err != nil {
		return nil, err
	}
	start := time.Now()
	if fineTune {
		out, err := r.loop()
		if err != nil {
			return nil, err
		}
		res.TestAccuracy = out.TestAccuracy
	} else {
		res.TestAccuracy = res.ClusteredAcc
		r.ck.Finished = true
		if err := r.save(); err != nil {
			return nil, err
		}
	}
	r.logf("cluster: %d layers, accuracy %.2f%% after k-means, %.2f%% after fine-tuning (%.0f s)", len(res.Layers), 100*res.ClusteredAcc, 100*res.TestAccuracy, time.Since(start).Seconds())
	res.Sparsity = nn.TotalSparsity(r.model.Sparsity())
	return res, nil
}
