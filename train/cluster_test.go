package train

import (
	"testing"
)

// Clustering a pruned model: every layer ends with at most k distinct nonzero values, the
// pruned weights stay zero, and both survive a further QAT run from the checkpoint.
func TestClusterKeepsPruningAndCodebook(t *testing.T) {
	pc := tinyPrune(t, trained(t))
	pc.Cycles, pc.Target = 1, 0.8
	if _, err := Prune(pc, Options{}); err != nil {
		t.Fatal(err)
	}
	pruned, _ := nonzero(t, pc.Train.Out)
	cfg := DefaultClusterConfig()
	cfg.Train = tinyConfig(t)
	cfg.Train.From, cfg.Train.Epochs, cfg.Train.LR = pc.Train.Out, 1, 1e-4
	cfg.K, cfg.LayerK = 8, map[string]int{"conv1": 4}
	res, err := Cluster(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Layers) != 4 {
		t.Fatalf("%d clustered layers, want 4", len(res.Layers))
	}
	check := func(dir string) {
		t.Helper()
		counts, m := nonzero(t, dir)
		for _, l := range m.Quantized() {
			w := l.Weights()
			if w.Shared == nil {
				t.Fatalf("%s: %s lost its codebook", dir, l.Name())
			}
			if counts[l.Name()] != pruned[l.Name()] {
				t.Fatalf("%s: %s has %d nonzero weights, %d after pruning", dir, l.Name(), counts[l.Name()], pruned[l.Name()])
			}
			k := 8
			if l.Name() == "conv1" {
				k = 4
			}
			distinct := map[float32]bool{}
			for _, v := range w.Data {
				if v != 0 {
					distinct[v] = true
				}
			}
			if len(distinct) > k {
				t.Fatalf("%s: %s has %d distinct nonzero values, k = %d", dir, l.Name(), len(distinct), k)
			}
			if l.Quant().Config.PerChannel {
				t.Fatalf("%s: clustered layer %s has per-channel weight scales", dir, l.Name())
			}
		}
	}
	check(cfg.Train.Out)
	q := tinyConfig(t)
	q.From, q.Epochs, q.Quant.PerChannel = cfg.Train.Out, 1, false
	if _, err := Run(q, Options{}); err != nil {
		t.Fatal(err)
	}
	check(q.Out)
}

func TestClusterConfigErrors(t *testing.T) {
	for name, mod := range map[string]func(*ClusterConfig){
		"no from": func(c *ClusterConfig) { c.Train.From = "" },
		"k 0":     func(c *ClusterConfig) { c.K = 0 },
		"k 300":   func(c *ClusterConfig) { c.K = 300 },
		"init":    func(c *ClusterConfig) { c.Init = "random" },
		"ptq":     func(c *ClusterConfig) { c.Train.Mode = "ptq" },
		"layer k": func(c *ClusterConfig) { c.LayerK = map[string]int{"fc1": 0} },
	} {
		cfg := DefaultClusterConfig()
		cfg.Train.From = "x"
		mod(&cfg)
		if err := cfg.Validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
