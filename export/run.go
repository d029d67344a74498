package export

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/export/qnet"
	"github.com/qatgo/qatgo/internal/atomicfile"
	"github.com/qatgo/qatgo/train"
)

// Config is one export: a trained checkpoint in, an integer model file out, and the fidelity
// measured on the test set.
type Config struct {
	From      string // checkpoint file or run directory
	Out       string // integer model file (written atomically)
	DataDir   string // MNIST idx directory ("" = the embedded copy)
	TestLimit int    // compare on the first N test images (0 = all 10,000)
	EvalBatch int    // simulation batch size, 1..train.MaxBatch
	// Encoding is the weight storage of every layer: "auto" or "" (the smallest per layer),
	// "dense", "sparse" or "huffman".
	Encoding string
	// Progress receives a progress bar for the comparison (nil: none).
	Progress io.Writer
}

// Result is what an export reports.
type Result struct {
	Model string `json:"arch"`       // the architecture (lenet5, ...)
	Out   string `json:"model_file"` // the integer model file written
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

// Validate checks the export settings.
func (c *Config) Validate() error {
	if c.From == "" || c.Out == "" {
		return errors.New("export needs --from CHECKPOINT and --out FILE")
	}
	if _, err := ParseEncoding(c.Encoding); err != nil {
		return err
	}
	return firstErr(
		train.IntIn("EvalBatch", c.EvalBatch, 1, train.MaxBatch),
		train.IntIn("TestLimit", c.TestLimit, 0, data.MaxCount),
	)
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// Run converts the checkpoint, encodes the file, decodes those bytes again and compares the
// decoded model with the simulation on the test set; only when everything succeeded is the
// file written (atomically), so a failed export leaves no file behind (and an older file at
// cfg.Out untouched). The checkpoint is validated when read: parameters that are not finite
// are refused before anything is converted.
func Run(cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	enc, _ := ParseEncoding(cfg.Encoding)
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
	var file bytes.Buffer
	if err := qnet.EncodeWith(&file, qm, opt); err != nil {
		return nil, fmt.Errorf("encoding %s: %w", cfg.Out, err)
	}
	// Evaluate the file's bytes, not the in-memory model.
	qm, err = qnet.Decode(bytes.NewReader(file.Bytes()))
	if err != nil {
		return nil, err
	}
	// And in the file as read back.
	comp, err := CheckCompression(m, qm)
	if err != nil {
		return nil, err
	}
	if storage.FileBytes != file.Len() {
		return nil, fmt.Errorf("export: %s would have %d bytes, the storage report says %d", cfg.Out, file.Len(), storage.FileBytes)
	}
	test, err := data.LoadTest(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	rep, err := Compare(m, qm, test, cfg.TestLimit, cfg.EvalBatch, cfg.Progress)
	if err != nil {
		return nil, err
	}
	if err := atomicfile.WriteBytes(cfg.Out, file.Bytes()); err != nil {
		return nil, fmt.Errorf("writing %s: %w", cfg.Out, err)
	}
	var weights, nonzero int
	for _, c := range comp {
		weights += c.Weights
		nonzero += c.Nonzero
	}
	size := int64(file.Len())
	f32 := 4 * m.NumWeights()
	return &Result{
		Model: ck.Config.Arch, Out: cfg.Out, Bytes: size, Float32Bytes: f32,
		CompressionRatio: float64(f32) / float64(size), Sparsity: 1 - float64(nonzero)/float64(max(weights, 1)),
		WBits: ck.Config.Quant.WBits, ABits: ck.Config.Quant.ABits, Report: *rep, Compression: comp,
		Storage: storage, Summary: qm.Summary(), Int: qm,
	}, nil
}
