package export

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/qatgo/qatgo/export/qnet"
	"github.com/qatgo/qatgo/train"
)

// Invariants 2 and 3 on a compressed model: a pruned, clustered W4A8 LeNet-5 exports with its
// zeros and at most k distinct values per layer, every encoding reads back to the same integer
// model, and the integer engine equals the simulation on every activation.
func TestCompressedModelExport(t *testing.T) {
	dir := t.TempDir()
	base := train.DefaultConfig()
	base.Epochs, base.TrainLimit, base.TestLimit, base.Quant.Delay = 1, 1280, 200, 5
	base.Quant.WBits = 4
	base.Out = filepath.Join(dir, "qat")
	if _, err := train.Run(base, train.Options{}); err != nil {
		t.Fatal(err)
	}
	pc := train.DefaultPruneConfig()
	pc.Train = base
	pc.Train.From, pc.Train.Out = base.Out, filepath.Join(dir, "pruned")
	pc.Target, pc.Cycles, pc.RetrainEpochs = 0.9, 2, 1
	if _, err := train.Prune(pc, train.Options{}); err != nil {
		t.Fatal(err)
	}
	cc := train.DefaultClusterConfig()
	cc.Train = base
	cc.Train.From, cc.Train.Out = pc.Train.Out, filepath.Join(dir, "clustered")
	cc.K = 6
	if _, err := train.Cluster(cc, train.Options{}); err != nil {
		t.Fatal(err)
	}
	var sizes []int64
	for _, enc := range []string{"dense", "sparse", "huffman", "auto"} {
		res, err := Run(Config{From: cc.Train.Out, Out: filepath.Join(dir, enc+".qat"), TestLimit: 300, EvalBatch: 100, Encoding: enc})
		if err != nil {
			t.Fatalf("%s: %v", enc, err)
		}
		if res.Agreement != 1 {
			t.Errorf("%s: agreement %.4f", enc, res.Agreement)
		}
		for _, l := range res.Layers {
			if l.MaxSteps != 0 {
				t.Errorf("%s: layer %s differs by %d steps", enc, l.Name, l.MaxSteps)
			}
		}
		for _, c := range res.Compression {
			if c.Clusters != 6 && c.Clusters != 0 || c.Distinct > 6 {
				t.Errorf("%s: %s has %d distinct values, codebook %d", enc, c.Layer, c.Distinct, c.Clusters)
			}
		}
		if res.Sparsity < 0.9 {
			t.Errorf("%s: exported sparsity %.4f < 0.9", enc, res.Sparsity)
		}
		sizes = append(sizes, res.Bytes)
	}
	if !(sizes[2] < sizes[1] && sizes[1] < sizes[0] && sizes[3] <= sizes[2]) {
		t.Errorf("sizes dense %d, sparse %d, huffman %d, auto %d: want huffman < sparse < dense, auto smallest", sizes[0], sizes[1], sizes[2], sizes[3])
	}
	t.Logf("bytes: dense %d, sparse %d, huffman %d, auto %d", sizes[0], sizes[1], sizes[2], sizes[3])

	// CheckCompression refuses a model whose pruned weight came back, or whose codebook grew.
	ck, err := train.LoadCheckpoint(cc.Train.Out)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ck.Model()
	if err != nil {
		t.Fatal(err)
	}
	qm, err := Convert(m)
	if err != nil {
		t.Fatal(err)
	}
	fc := qm.Layers[len(qm.Layers)-2].(*qnet.FullyConnected)
	w := m.Quantized()[2].Weights()
	for i, a := range w.Shared.Assign {
		if a < 0 {
			fc.Weights[i] = 1
			break
		}
	}
	if _, err := CheckCompression(m, qm); err == nil || !strings.Contains(err.Error(), "pruned weight") {
		t.Errorf("revived weight: err = %v", err)
	}
	qm, _ = Convert(m)
	fc = qm.Layers[len(qm.Layers)-2].(*qnet.FullyConnected)
	seen := map[int8]bool{}
	for _, v := range fc.Weights {
		seen[v] = true
	}
	for i, v := range fc.Weights {
		if v != 0 {
			for nv := int8(-7); nv <= 7; nv++ {
				if !seen[nv] {
					fc.Weights[i] = nv
					break
				}
			}
			break
		}
	}
	if _, err := CheckCompression(m, qm); err == nil || !strings.Contains(err.Error(), "distinct") {
		t.Errorf("codebook grew: err = %v", err)
	}
}
