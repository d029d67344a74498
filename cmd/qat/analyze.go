package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/qatgo/qatgo/train"
)

// cmdAnalyze is `qat analyze`: per-layer SQNR of a trained model quantized after training at
// each bit width, against the float model (PyTorch Numeric Suite / AIMET QuantAnalyzer style).
func cmdAnalyze(args []string, stdout, stderr io.Writer) error {
	def := train.DefaultConfig()
	cfg := train.AnalyzeConfig{Quant: def.Quant}
	fs := newFlagSet("analyze", stderr)
	fs.StringVar(&cfg.From, "from", "", "trained checkpoint (file or run directory), usually a float model")
	bits := fs.String("bits", "2,3,4,8", "bit widths W=A to analyze, comma-separated (2..8)")
	fs.StringVar(&cfg.Quant.Quantizer, "quantizer", "ema", "ema (|w|max weight scales) or lsq (weight steps by --range too)")
	fs.StringVar(&cfg.Quant.Range, "range", "minmax", "calibration ranges: minmax, mse or percentile")
	fs.Float64Var(&cfg.Quant.Percentile, "percentile", 99.99, "percentile of --range percentile")
	fs.BoolVar(&cfg.Quant.PerChannel, "per-channel", cfg.Quant.PerChannel, "per-output-channel weight scales")
	fs.IntVar(&cfg.Quant.LogitBits, "logit-bits", cfg.Quant.LogitBits, "bits of the last layer's output (2..8)")
	fs.IntVar(&cfg.CalibImages, "calib", 500, "training images for the ranges")
	fs.IntVar(&cfg.Images, "images", 500, "test images compared")
	fs.IntVar(&cfg.Batch, "batch", 100, "graph batch size")
	fs.StringVar(&cfg.DataDir, "data", "", dataUsage)
	asJSON := fs.Bool("json", false, "print only a JSON object on stdout (human lines to stderr)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if cfg.From == "" {
		return usagef(fs, "analyze needs --from CHECKPOINT")
	}
	for _, f := range strings.Split(*bits, ",") {
		b, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || b < 2 || b > 8 {
			return usagef(fs, "--bits %q: want comma-separated bit widths in 2..8", *bits)
		}
		cfg.Bits = append(cfg.Bits, b)
	}
	if err := cfg.Validate(); err != nil {
		return invalid(fs, err)
	}
	out := output(*asJSON, stdout, stderr)
	res, err := train.Analyze(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "per-layer SQNR against the float model on %d test images (quantizer %s, %s ranges from %d training images; logits at %d bits)\n",
		res.Images, res.Quantizer, res.Range, res.Calib, cfg.Quant.LogitBits)
	fmt.Fprintf(out, "  %-8s %5s %18s %24s\n", "layer", "W=A", "model SQNR (dB)", "solo logits SQNR (dB)")
	db := func(v *float64) string {
		if v == nil {
			return "exact"
		}
		return fmt.Sprintf("%.1f", *v)
	}
	for _, r := range res.Rows {
		fmt.Fprintf(out, "  %-8s %5d %18s %24s\n", r.Layer, r.Bits, db(r.SQNR), db(r.SoloSQNR))
	}
	fmt.Fprintf(out, "  model SQNR: the layer's output with every layer at that width; solo: the logits with only that layer at it (others W8A8)\n")
	fmt.Fprintf(out, "accuracy on those images: float %.2f%%", 100*res.FloatAcc)
	for _, b := range cfg.Bits {
		fmt.Fprintf(out, ", W%dA%d %.2f%%", b, b, 100*res.Accuracy[b])
	}
	fmt.Fprintln(out)
	if *asJSON {
		return printJSON(stdout, res)
	}
	return nil
}

func init() {
	helps["qat analyze"] = help{
		synopsis: "qat analyze --from CHECKPOINT [flags]\n\nPer-layer SQNR of post-training quantization against the float model at each bit width\n(W=A), and each layer's solo sensitivity: the logits' SQNR with only that layer at the width.",
		examples: []string{
			"qat analyze --from runs/float --bits 2,3,4,8",
			"qat analyze --from runs/float --bits 2,3 --range mse --json",
		},
	}
}
