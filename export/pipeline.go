package export

import (
	"errors"
	"fmt"

	"path/filepath"

	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/export/qnet"
	"github.com/qatgo/qatgo/train"
)

// PipelineConfig is Deep Compression end to end, from a trained checkpoint to a Huffman-coded
// integer file: prune (prune-retrain cycles, in QAT by default) -> cluster (k-means weight
// sharing and cluster-preserving QAT fine-tuning) -> export. Each stage writes its own run
// directory under Out (prune/, cluster/) and its integer file; the final file is
// Out/model.qat.
type PipelineConfig struct {
	From string `json:"from"` // the trained checkpoint to compress (float, QAT or PTQ)
	Out  string `json:"out"`  // the pipeline's directory
	// Prune and Cluster configure the stages; their Train.From and Train.Out are set by the
	// pipeline. SkipPrune or SkipCluster leave a stage out.
	Prune       train.PruneConfig   `json:"prune"`
	Cluster     train.ClusterConfig `json:"cluster"`
	SkipPrune   bool                `json:"skip_prune"`
	SkipCluster bool                `json:"skip_cluster"`
	Encoding    string              `json:"encoding"` // the final file's weight storage (see Config.Encoding)
	DataDir     string              `json:"data_dir"`
	TestLimit   int                 `json:"test_limit"`
}

// DefaultPipelineConfig compresses LeNet-5: 95% of the weights pruned in 5 QAT cycles of 2
// epochs, then 16 centroids per layer and 2 epochs of cluster-preserving QAT, W8A8, images
// shifted by up to 2 pixels.
func DefaultPipelineConfig() PipelineConfig {
	p := train.DefaultPruneConfig()
	p.Target, p.Train.Augment = 0.95, 2
	c := train.DefaultClusterConfig()
	c.Train.Augment, c.Train.Epochs = 2, 2
	return PipelineConfig{Out: "runs/compress", Prune: p, Cluster: c, Encoding: "auto"}
}

// Stage is one row of the pipeline's table.
type Stage struct {
	Name     string  `json:"stage"`
	Accuracy float64 `json:"test_accuracy"` // integer engine on the file, except for the input
	Sparsity float64 `json:"sparsity"`
	Bytes    int64   `json:"bytes"`
	Ratio    float64 `json:"compression_ratio"` // float32 bytes / Bytes
	File     string  `json:"model_file,omitempty"`
	// Measured says how Accuracy was measured.
	Measured string `json:"measured"`
}

// PipelineResult is the pipeline's report; its last stage is the deployed file.
type PipelineResult struct {
	Stages           []Stage              `json:"stages"`
	Prune            *train.PruneResult   `json:"prune,omitempty"`
	Cluster          *train.ClusterResult `json:"cluster,omitempty"`
	Final            *Result              `json:"export"`
	Bytes            int64                `json:"bytes"`
	CompressionRatio float64              `json:"compression_ratio"`
	TestAccuracy     float64              `json:"test_accuracy"`
}

// Validate checks every setting of the pipeline, the stages' included (their SettingErrors
// are prefixed with "Prune." or "Cluster."), so a pipeline that would fail at a later stage is
// refused before epochs are spent on an earlier one.
func (cfg *PipelineConfig) Validate() error {
	if cfg.From == "" || cfg.Out == "" {
		return errors.New("export: the pipeline needs a trained checkpoint and an output directory (From, Out)")
	}
	if _, err := ParseEncoding(cfg.Encoding); err != nil {
		return err
	}
	if err := train.IntIn("TestLimit", cfg.TestLimit, 0, data.MaxCount); err != nil {
		return err
	}
	if cfg.SkipPrune && cfg.SkipCluster {
		// Only the export stage: nothing of the stages' settings is used.
		return nil
	}
	pc, cc := cfg.Prune, cfg.Cluster
	pc.Train.From, cc.Train.From = cfg.From, cfg.From
	if !cfg.SkipPrune {
		if err := pc.Validate(); err != nil {
			return fmt.Errorf("pruning: %w", prefixed("Prune", err))
		}
	}
	if !cfg.SkipCluster {
		if err := cc.Validate(); err != nil {
			return fmt.Errorf("clustering: %w", prefixed("Cluster", err))
		}
		if arch := cc.Train.Arch; arch == "lenet5-bn" {
			return fmt.Errorf("clustering: %s has batch norm, which breaks shared weights: compress a model without it", arch)
		}
	}
	return nil
}

// prefixed prefixes the setting of a *train.SettingError (other errors unchanged).
func prefixed(prefix string, err error) error {
	var se *train.SettingError
	if errors.As(err, &se) {
		return &train.SettingError{Setting: prefix + "." + se.Setting, Value: se.Value, Allowed: se.Allowed}
	}
	return err
}

// Pipeline runs the stages in order. Progress bars go to opt.Progress, one line per stage and
// epoch to opt.Log.
func Pipeline(cfg PipelineConfig, opt train.Options) (*PipelineResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ck, err := train.LoadCheckpoint(cfg.From)
	if err != nil {
		return nil, err
	}
	pc, cc := cfg.Prune, cfg.Cluster
	lastMode := ck.Config.Mode
	if !cfg.SkipPrune {
		lastMode = pc.Train.Mode
	}
	if !cfg.SkipCluster {
		lastMode = cc.Train.Mode
	}
	if lastMode == "float" {
		return nil, errors.New("the last training stage runs in float, so the model to export has no activation ranges: use QAT for it")
	}
	logf := func(format string, args ...any) {
		if opt.Log != nil {
			fmt.Fprintf(opt.Log, format+"\n", args...)
		}
	}
	res := &PipelineResult{}
	in := Stage{Name: "input (" + string(ck.Config.Mode) + ")", Measured: "its run's last evaluation"}
	if n := len(ck.Metrics); n > 0 {
		in.Accuracy = ck.Metrics[n-1].TestAccuracy
	}
	m, err := ck.Model()
	if err != nil {
		return nil, err
	}
	// The pipeline ends in a quantized export: refuse a float layer before any training.
	if err := CheckQuantizable(m); err != nil {
		return nil, err
	}
	f32 := int64(4 * m.NumWeights())
	in.Bytes, in.Ratio = f32, 1
	res.Stages = append(res.Stages, in)
	exportStage := func(name, from, file, encoding string) (*Result, error) {
		r, err := Run(Config{From: from, Out: file, DataDir: cfg.DataDir, TestLimit: cfg.TestLimit, EvalBatch: 100, Encoding: encoding, Progress: opt.Progress})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		if r.Agreement != 1 {
			return nil, fmt.Errorf("%s: the integer engine agrees with the simulation on only %.2f%% of the test images", name, 100*r.Agreement)
		}
		res.Stages = append(res.Stages, Stage{Name: name, Accuracy: r.IntAccuracy, Sparsity: r.Sparsity, Bytes: r.Bytes, Ratio: r.CompressionRatio, File: file, Measured: "integer engine, file"})
		logf("%s: %s, %d bytes (%.1fx), integer accuracy %.2f%%", name, file, r.Bytes, r.CompressionRatio, 100*r.IntAccuracy)
		return r, nil
	}
	from := cfg.From
	if !cfg.SkipPrune {
		pc := cfg.Prune
		pc.Train.From, pc.Train.Out = from, filepath.Join(cfg.Out, "prune")
		logf("stage 1: pruning %s to %.0f%% (%s policy, %d cycles of %d epochs, %s)", from, 100*pc.Target, pc.Policy, pc.Cycles, pc.RetrainEpochs, pc.Train.Mode)
		if res.Prune, err = train.Prune(pc, opt); err != nil {
			return nil, fmt.Errorf("pruning: %w", err)
		}
		from = pc.Train.Out
		if pc.Train.Mode != "float" {
			if _, err := exportStage("pruned + quantized (no clustering)", from, filepath.Join(from, "model.qat"), "auto"); err != nil {
				return nil, err
			}
		}
	}
	if !cfg.SkipCluster {
		cc := cfg.Cluster
		cc.Train.From, cc.Train.Out = from, filepath.Join(cfg.Out, "cluster")
		logf("stage 2: clustering %s with k = %d (%s init), %d epochs of %s fine-tuning", from, cc.K, cc.Init, cc.Train.Epochs, cc.Train.Mode)
		if res.Cluster, err = train.Cluster(cc, opt); err != nil {
			return nil, fmt.Errorf("clustering: %w", err)
		}
		from = cc.Train.Out
	}
	final, err := exportStage("final: "+stageName(cfg), from, filepath.Join(cfg.Out, "model.qat"), cfg.Encoding)
	if err != nil {
		return nil, err
	}
	if !cfg.SkipCluster {
		// The same model stored without its codebook and entropy coding (values at WeightBits).
		st, err := qnet.Storage(final.Int, qnet.EncodeOptions{Encoding: qnet.EncodingSparse})
		if err != nil {
			return nil, err
		}
		last := res.Stages[len(res.Stages)-1]
		noHuff := Stage{Name: fmt.Sprintf("same model, sparse %d-bit values (no codebook, no Huffman)", cfg.Cluster.Train.Quant.WBits), Accuracy: last.Accuracy, Sparsity: last.Sparsity,
			Bytes: int64(st.FileBytes), Ratio: float64(f32) / float64(st.FileBytes), Measured: "same model as the final file (storage size)"}
		res.Stages = append(res.Stages[:len(res.Stages)-1], noHuff, last)
	}
	res.Final, res.Bytes, res.CompressionRatio, res.TestAccuracy = final, final.Bytes, final.CompressionRatio, final.IntAccuracy
	return res, nil
}

func stageName(cfg PipelineConfig) string {
	switch {
	case !cfg.SkipCluster:
		return "clustered + quantized + Huffman"
	case !cfg.SkipPrune:
		return "pruned + quantized"
	}
	return "quantized"
}
