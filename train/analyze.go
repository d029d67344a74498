package train

import (
	"errors"
	"github.com/qatgo/qatgo/train/checkpoint"
	"math"

	"github.com/qatgo/qatgo/autograd"
	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/nn"
)

// AnalyzeConfig is a per-layer quantization analysis of a trained (float) checkpoint: for each
// bit width b, the model is quantized W b A b after training (PTQ: ranges, or LSQ steps, from
// CalibImages training images by Quant's range method, no training) and compared with the
// float model on the first Images test images, layer by layer, as PyTorch's Numeric Suite and
// AIMET's QuantAnalyzer do. A layer the spec keeps in float (nn.LayerSpec.Float) stays float
// in the W b A b models; its solo row quantizes it (Config.Layers), showing what keeping it in
// float saves.
type AnalyzeConfig struct {
	From        string
	Bits        []int
	Quant       nn.Config // Quantizer, Range, Percentile, PerChannel, LogitBits; bits are set per row
	CalibImages int
	Images      int
	DataDir     string
	Batch       int
}

// SQNRRow is one layer at one bit width.
type SQNRRow struct {
	Layer string `json:"layer"`
	Bits  int    `json:"bits"`
	// SQNR is 10 log10(sum f^2 / sum (f - q)^2) of the layer's output q in the model quantized
	// W b A b (logits at LogitBits) against the float model's f, in dB; null when q == f.
	SQNR *float64 `json:"sqnr_db"`
	// SoloSQNR is the SQNR of the logits when only this layer is at W b A b and every other at
	// W8A8: the layer's sensitivity to its bit width (for per-layer bit allocation).
	SoloSQNR *float64 `json:"solo_logits_sqnr_db"`
}

// AnalyzeResult is the analysis: one row per layer and bit width, and the test accuracy of each
// fully quantized model on the analysis images.
type AnalyzeResult struct {
	From      string          `json:"from"`
	Quantizer string          `json:"quantizer"`
	Range     string          `json:"range"`
	Images    int             `json:"images"`
	Calib     int             `json:"calib_images"`
	Rows      []SQNRRow       `json:"rows"`
	Accuracy  map[int]float64 `json:"accuracy"` // bits -> accuracy of the W b A b model
	FloatAcc  float64         `json:"float_accuracy"`
	Layers    []string        `json:"layers"`
}

// sqnrAcc accumulates sum f^2 and sum (f - q)^2.
type sqnrAcc struct{ sig, noise float64 }

func (a *sqnrAcc) add(f, q []float32) {
	for i, v := range f {
		d := float64(v) - float64(q[i])
		a.sig += float64(v) * float64(v)
		a.noise += d * d
	}
}

func (a sqnrAcc) db() *float64 {
	if a.noise == 0 {
		return nil
	}
	v := 10 * math.Log10(a.sig/a.noise)
	return &v
}

// Validate checks the configuration before any work is done: a checkpoint, bit widths in
// 2..8, image counts and batch size within bounds, and the quantization settings.
func (c *AnalyzeConfig) Validate() error {
	if c.From == "" {
		return errors.New("train: analyze needs a trained checkpoint (From)")
	}
	if len(c.Bits) == 0 {
		return &SettingError{"Bits", c.Bits, "one or more bit widths in 2..8"}
	}
	for _, b := range c.Bits {
		if err := IntIn("Bits", b, 2, 8); err != nil {
			return err
		}
	}
	return firstErr(
		IntIn("CalibImages", c.CalibImages, 1, data.MaxCount),
		IntIn("Images", c.Images, 1, data.MaxCount),
		IntIn("Batch", c.Batch, 1, MaxBatch),
		validateQuant("Quant", &c.Quant),
	)
}

// Analyze runs the analysis.
func Analyze(cfg AnalyzeConfig) (*AnalyzeResult, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ck, err := LoadCheckpoint(cfg.From)
	if err != nil {
		return nil, err
	}
	trainSet, testSet, err := data.Load(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	n := min(cfg.Images, testSet.N)
	build := func(q nn.Config) (*nn.Model, *nn.Graph, error) {
		if err := q.Validate(); err != nil {
			return nil, nil, err
		}
		m, err := ck.Config.newModel(q, 0)
		if err != nil {
			return nil, nil, err
		}
		if err := checkpoint.Restore(m, ck.Params, nil); err != nil {
			return nil, nil, err
		}
		if err := checkpoint.RestoreBN(m, ck.BN); err != nil {
			return nil, nil, err
		}
		if err := checkpoint.RestoreCompression(m, ck.Compression); err != nil {
			return nil, nil, err
		}
		m.FoldBN = true // the float reference folds too: the same function (export tests)
		m.Ops, _ = nn.ParseOps(string(ck.Config.Ops))
		gr, err := m.NewGraph(cfg.Batch, false)
		if err != nil {
			return nil, nil, err
		}
		return m, gr, nil
	}
	ref, rg, err := build(withBits(cfg.Quant, 8, "", 0, false))
	if err != nil {
		return nil, err
	}
	defer rg.Close()
	for _, s := range []*data.Set{trainSet, testSet} {
		if err := s.CheckInput(ref.InC, ref.InH, ref.InW); err != nil {
			return nil, err
		}
		if err := s.CheckClasses(ref.Classes); err != nil {
			return nil, err
		}
	}
	ref.SetMode(autograd.ModeFloat)
	var qidx []int
	res := &AnalyzeResult{From: cfg.From, Quantizer: cfg.Quant.Quantizer, Range: cfg.Quant.RangeMethod(), Images: n, Calib: min(cfg.CalibImages, trainSet.N), Accuracy: map[int]float64{}}
	if res.Quantizer == "" {
		res.Quantizer = nn.QuantizerEMA
	}
	for i, l := range ref.Layers {
		if _, ok := l.(nn.Quantized); ok {
			qidx = append(qidx, i)
			res.Layers = append(res.Layers, l.Name())
		}
	}
	// quantized compares a quantized configuration with the float model on the n images; it
	// returns the per-layer accumulators and the quantized model's correct predictions.
	quantized := func(q nn.Config) ([]sqnrAcc, int, int, error) {
		m, gr, err := build(q)
		if err != nil {
			return nil, 0, 0, err
		}
		defer gr.Close()
		if err := Calibrate(gr, trainSet, cfg.CalibImages); err != nil {
			return nil, 0, 0, err
		}
		m.SetMode(autograd.ModeEval)
		acc := make([]sqnrAcc, len(qidx))
		okQ, okF := 0, 0
		k := m.Classes
		for first := 0; first < n; first += cfg.Batch {
			cnt := min(cfg.Batch, n-first)
			testSet.FillPadded(gr.Input(), first, cnt)
			testSet.FillPadded(rg.Input(), first, cnt)
			if _, err := gr.Run(); err != nil {
				return nil, 0, 0, err
			}
			if _, err := rg.Run(); err != nil {
				return nil, 0, 0, err
			}
			for j, li := range qidx {
				f, qv := rg.OutputData(li), gr.OutputData(li)
				per := len(f) / cfg.Batch
				acc[j].add(f[:cnt*per], qv[:cnt*per])
			}
			lq, lf := gr.LogitsData(), rg.LogitsData()
			for i := range cnt {
				label := int(testSet.Labels[first+i])
				if Argmax(lq[i*k:(i+1)*k]) == label {
					okQ++
				}
				if Argmax(lf[i*k:(i+1)*k]) == label {
					okF++
				}
			}
		}
		return acc, okQ, okF, nil
	}
	for _, b := range cfg.Bits {
		acc, okQ, okF, err := quantized(withBits(cfg.Quant, b, "", 0, false))
		if err != nil {
			return nil, err
		}
		res.Accuracy[b] = float64(okQ) / float64(n)
		res.FloatAcc = float64(okF) / float64(n)
		for j, name := range res.Layers {
			solo, _, _, err := quantized(withBits(cfg.Quant, 8, name, b, j == len(res.Layers)-1))
			if err != nil {
				return nil, err
			}
			res.Rows = append(res.Rows, SQNRRow{Layer: name, Bits: b, SQNR: acc[j].db(), SoloSQNR: solo[len(solo)-1].db()})
		}
	}
	return res, nil
}

// withBits returns q at W b A b (logits at q.LogitBits), with layer solo (if not "") at
// W soloBits A soloBits instead (its output at the logit bits if it is the last layer, last).
func withBits(q nn.Config, b int, solo string, soloBits int, last bool) nn.Config {
	q.WBits, q.ABits, q.Layers, q.Delay = b, b, nil, 0
	if q.LogitBits == 0 {
		q.LogitBits = 8
	}
	if q.Decay == 0 {
		q.Decay = 0.99
	}
	if solo != "" {
		a := soloBits
		if last {
			a = q.LogitBits
		}
		q.Layers = map[string]nn.LayerQ{solo: {WBits: soloBits, ABits: a, PerChannel: q.PerChannel}}
	}
	return q
}
