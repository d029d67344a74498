package export

import (
	"fmt"
	"io"
	"os"

	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/export/qnet"
	"github.com/qatgo/qatgo/train"
)

// Config is one export: a trained checkpoint in, an integer model file out, and the fidelity
// measured on the test set.
type Config struct {
	From      string // checkpoint file or run directory
	Out       string // integer model file (written atomically)
	DataDir   string // MNIST idx directory ("" = the embedded copy)
	TestLimit int    // compare on the first N test images (0 = all 10,000)
	EvalBatch int    // simulation batch size
	// Encoding is the weight storage of every layer: "auto" or "" (the smallest per layer),
	// "dense", "sparse" or "huffman".
	Encoding string
	// Progress receives a progress bar for the comparison (nil: none).
	Progress io.Writer
}

// Result is what an export reports.
type Result struct {
	Model string `json:"model"`
	Out   string `json:"out"`
	Bytes int64  `json:"bytes"`
	// Float32Bytes is the size of the model's parameters in float32, for compression ratios.
	Float32Bytes int `json:"float32_bytes"`
	WBits        int `json:"wbits"`
	ABits        int `json:"abits"`
	// CompressionRatio is Float32Bytes / Bytes.
	CompressionRatio float64 `json:"compression_ratio"`
	// Sparsity is the fraction of integer weights that are zero.
	Sparsity float64 `json:"sparsity"`
	Report
	// Compression says, per weighted layer, what the file kept of pruning and clustering
	// (CheckCompression has verified it).
	Compression []LayerCompression  `json:"compression"`
	Storage     *qnet.StorageReport `json:"-"`
	Summary     []qnet.LayerSummary `json:"-"`
	Int         *qnet.Model         `json:"-"`
}

// ParseEncoding reads a weight encoding name: auto (or ""), dense, sparse, huffman.
func ParseEncoding(s string) (qnet.WeightEncoding, error) {
	for _, e := range []qnet.WeightEncoding{qnet.EncodingAuto, qnet.EncodingDense, qnet.EncodingSparse, qnet.EncodingHuffman} {
		if s == e.String() {
			return e, nil
		}
	}
	if s == "" {
		return qnet.EncodingAuto, nil
	}
	return 0, fmt.Errorf("unknown weight encoding %q (have auto, dense, sparse, huffman)", s)
}

// Run converts the checkpoint, writes the file, reads it back and compares it with the
// simulation on the test set.
func Run(cfg Config) (*Result, error) {
	if cfg.From == "" || cfg.Out == "" {
		return nil, fmt.Errorf("export needs --from CHECKPOINT and --out FILE")
	}
	if cfg.EvalBatch <= 0 {
		cfg.EvalBatch = 100
	}
	enc, err := ParseEncoding(cfg.Encoding)
	if err != nil {
		return nil, err
	}
	ck, err := train.LoadCheckpoint(cfg.From)
	if err != nil {
		return nil, err
	}
	m, err := ck.Model()
	if err != nil {
		return nil, err
	}
	qm, err := Convert(m)
	if err != nil {
		return nil, err
	}
	// What pruning and clustering built must be in the model before anything is written.
	if _, err := CheckCompression(m, qm); err != nil {
		return nil, err
	}
	opt := qnet.EncodeOptions{Encoding: enc}
	storage, err := qnet.Storage(qm, opt)
	if err != nil {
		return nil, err
	}
	if err := qnet.WriteFileWith(cfg.Out, qm, opt); err != nil {
		return nil, fmt.Errorf("writing %s: %w", cfg.Out, err)
	}
	// Evaluate the file itself, not the in-memory model.
	qm, err = qnet.ReadFile(cfg.Out)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(cfg.Out)
	if err != nil {
		return nil, err
	}
	// And in the file as read back.
	comp, err := CheckCompression(m, qm)
	if err != nil {
		return nil, err
	}
	if int64(storage.FileBytes) != st.Size() {
		return nil, fmt.Errorf("export: %s has %d bytes, the storage report says %d", cfg.Out, st.Size(), storage.FileBytes)
	}
	_, test, err := data.Load(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	rep, err := Compare(m, qm, test, cfg.TestLimit, cfg.EvalBatch, cfg.Progress)
	if err != nil {
		return nil, err
	}
	var weights, nonzero int
	for _, c := range comp {
		weights += c.Weights
		nonzero += c.Nonzero
	}
	f32 := 4 * m.NumWeights()
	return &Result{
		Model: ck.Config.Arch, Out: cfg.Out, Bytes: st.Size(), Float32Bytes: f32,
		CompressionRatio: float64(f32) / float64(st.Size()), Sparsity: 1 - float64(nonzero)/float64(max(weights, 1)),
		WBits: ck.Config.Quant.WBits, ABits: ck.Config.Quant.ABits, Report: *rep, Compression: comp,
		Storage: storage, Summary: qm.Summary(), Int: qm,
	}, nil
}
