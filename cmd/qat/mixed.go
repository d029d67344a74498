package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/qatgo/qatgo/export"
	"github.com/qatgo/qatgo/nn"
)

// cmdMixed is `qat mixed`: automatic per-layer bit widths under a budget in exact file bytes,
// then QAT fine-tuning and export (export.MixedSearch).
func cmdMixed(args []string, stdout, stderr io.Writer) error {
	cfg := export.DefaultMixedConfig()
	fs := newFlagSet("mixed", stderr)
	trainFlags(fs, &cfg.Train)
	// The fine-tuning's quantizer defaults to LSQ with MSE-initialized steps here.
	for name, v := range map[string]string{"quantizer": nn.QuantizerLSQ, "range": nn.RangeMSE} {
		f := fs.Lookup(name)
		f.DefValue = v
		f.Value.Set(v)
	}
	fs.IntVar(&cfg.BudgetBytes, "budget-bytes", 0, "the exported .qat file's size limit in bytes (exact, as qat summary reports it)")
	wch := fs.String("wbits-choices", "2,3,4,8", "weight widths the search may give a layer (comma-separated, 2..8)")
	ksc := fs.String("wstep-scales", "1", "factors on each layer's initial LSQ weight steps offered with every width (e.g. 1,1.25,1.5: wider steps, more zeros, smaller Huffman-coded files)")
	ach := fs.String("abits-choices", "8", "activation widths the search may give a layer (they cost no file bytes: the smallest within --act-tolerance is taken)")
	fs.Float64Var(&cfg.ActTolerance, "act-tolerance", cfg.ActTolerance, "held-out accuracy (fraction) a narrower activation width may lose against the widest")
	fs.Float64Var(&cfg.Margin, "margin", cfg.Margin, "fraction of the budget left free at the search for the fine-tuning's change of entropy-coded sizes")
	fs.IntVar(&cfg.Retries, "retries", cfg.Retries, "smaller frontier points fine-tuned in turn if the file outgrows the budget")
	fs.IntVar(&cfg.SensImages, "heldout", cfg.SensImages, "last N training images on which sensitivities and the frontier are measured")
	fs.StringVar(&cfg.Encoding, "encoding", cfg.Encoding, "weight storage of the file: auto, dense, sparse or huffman")
	asJSON := fs.Bool("json", false, "print only a JSON object on stdout (human lines to stderr)")
	quiet := fs.Bool("quiet", false, "no progress bars (drawn only when stderr is a terminal)")
	if err := parse(fs, args); err != nil {
		return err
	}
	var bad error
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "mode", "wbits", "abits", "layer-bits", "resume", "stop-after":
			if bad == nil {
				bad = usagef(fs, "--%s does not apply to qat mixed: the search sets the bits (see --wbits-choices, --abits-choices) and fine-tunes in QAT", f.Name)
			}
		}
	})
	if bad != nil {
		return bad
	}
	if cfg.Train.From == "" {
		return usagef(fs, "mixed needs --from FLOAT_CHECKPOINT")
	}
	if cfg.BudgetBytes <= 0 {
		return usagef(fs, "mixed needs --budget-bytes N (N >= 1)")
	}
	for _, c := range []struct {
		flag string
		s    string
		dst  *[]int
	}{{"wbits-choices", *wch, &cfg.WBitsChoices}, {"abits-choices", *ach, &cfg.ABitsChoices}} {
		*c.dst = nil
		for _, f := range strings.Split(c.s, ",") {
			b, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || b < 2 || b > 8 {
				return usagef(fs, "--%s %q: want comma-separated bit widths in 2..8", c.flag, c.s)
			}
			*c.dst = append(*c.dst, b)
		}
	}
	cfg.WStepScales = nil
	for _, f := range strings.Split(*ksc, ",") {
		k, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil {
			return usagef(fs, "--wstep-scales %q: want comma-separated factors", *ksc)
		}
		cfg.WStepScales = append(cfg.WStepScales, k)
	}
	inheritPerChannel(&cfg.Train.Quant)
	cfg.From, cfg.Out, cfg.CalibImages = cfg.Train.From, cfg.Train.Out, cfg.Train.CalibImages
	if err := cfg.Validate(); err != nil {
		return invalid(fs, err)
	}
	out := output(*asJSON, stdout, stderr)
	res, err := export.MixedSearch(cfg, options(*quiet, out, stderr))
	if res != nil {
		printMixed(out, res)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, res)
	}
	return nil
}

// printMixed prints the sensitivities, the frontier and the result.
func printMixed(w io.Writer, res *export.MixedResult) {
	fmt.Fprintf(w, "\nsensitivity on %d held-out training images (float %.2f%%): logits SQNR (dB) / accuracy with only that layer at W b, and its record bytes\n", res.HeldImages, 100*res.FloatHeldAcc)
	for _, l := range res.Layers {
		fmt.Fprintf(w, "  %-6s %7d weights, activations %d bits:", l.Layer, l.Weights, l.ChosenA)
		for i, b := range l.WBits {
			if i < len(l.SoloSQNR) && i < len(l.RecordBytes) && i < len(l.WStepScale) {
				fmt.Fprintf(w, "  %s %s/%.2f%%/%dB", wname(b, l.WStepScale[i]), export.DB(l.SoloSQNR[i]), 100*l.SoloAcc[i], l.RecordBytes[i])
			}
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\nfrontier (post-training quantized, before fine-tuning; bytes exact by the file's storage accounting; search budget %d of %d)\n", res.SearchBytes, res.BudgetBytes)
	fmt.Fprintf(w, "  %-36s %9s %9s %10s %9s\n", "weight bits (layer order)", "est.bytes", "bytes", "SQNR (dB)", "held-out")
	for _, p := range res.Frontier {
		var bits []string
		for _, l := range res.Layers {
			bits = append(bits, fmt.Sprintf("%s=%s", l.Layer, wname(p.WBits[l.Layer], p.WStepScale[l.Layer])[1:]))
		}
		mark := ""
		if p.Chosen {
			mark = "  <- chosen"
		} else if !p.Fits {
			mark = "  (over)"
		}
		fmt.Fprintf(w, "  %-36s %9d %9d %10s %8.2f%%%s\n", strings.Join(bits, ","), p.EstimatedBytes, p.Bytes, export.DB(p.SQNR), 100*p.Accuracy, mark)
	}
	if res.Choice == nil {
		return
	}
	for i, t := range res.Tried[:max(len(res.Tried)-1, 0)] {
		fmt.Fprintf(w, "\nattempt %d: --layer-bits %s, %d bytes before fine-tuning, %d after (over the budget), integer accuracy %.2f%%", i+1, t.LayerBits, t.SearchBytes, t.Bytes, 100*t.TestAccuracy)
	}
	fmt.Fprintf(w, "\nchoice: --layer-bits %s (%d attempt(s))", res.LayerBits, res.Attempts)
	for _, l := range res.Layers {
		if k := res.Choice.WStepScale[l.Layer]; k != 1 {
			fmt.Fprintf(w, "; %s weight steps x%g at the start", l.Layer, k)
		}
	}
	fmt.Fprintln(w)
	if res.Export != nil {
		verdict := "fits"
		if !res.FitsBudget {
			verdict = "does NOT fit"
		}
		fmt.Fprintf(w, "exported %s: %d bytes (%s the budget of %d), %.1fx smaller than float32; integer accuracy %.2f%% on %d test images, simulation agreement %.2f%%\n",
			res.Export.Out, res.Bytes, verdict, res.BudgetBytes, res.Export.CompressionRatio, 100*res.TestAccuracy, res.Export.Images, 100*res.Export.Agreement)
	}
}

func init() {
	for k, v := range map[string]string{
		"BudgetBytes": "budget-bytes", "WBitsChoices": "wbits-choices", "ABitsChoices": "abits-choices",
		"ActTolerance": "act-tolerance", "WStepScales": "wstep-scales", "Margin": "margin", "Retries": "retries", "SensImages": "heldout",
	} {
		settingFlags[k] = v
	}
	helps["qat mixed"] = help{
		synopsis: "qat mixed --from FLOAT_RUN --budget-bytes N [flags]\n\nAutomatic mixed precision: measures each layer's sensitivity to its weight (and activation) width\non held-out training images, chooses per-layer bits whose exported file fits N bytes exactly (by the\nfile's own storage accounting), fine-tunes them with QAT (LSQ by default) and exports OUT/model.qat.\nPrints the per-layer sensitivities, the accuracy/size frontier it measured and the choice; writes\nthem to OUT/mixed.json.",
		groups: []flagList{
			{"search", []string{"from", "budget-bytes", "wbits-choices", "wstep-scales", "abits-choices", "act-tolerance", "margin", "retries", "heldout", "calib", "encoding"}},
			{"quantization of the fine-tuning", []string{"quantizer", "range", "percentile", "per-channel", "logit-bits", "rounding", "ema-decay", "quant-delay"}},
			optimFlags,
			{"model, data and output", []string{"out", "model", "ops", "data", "train-limit", "test-limit", "eval-batch"}},
			outFlags,
		},
		examples: []string{
			"qat mixed --from runs/float --budget-bytes 100000 --out runs/mixed100k",
			"qat mixed --from runs/float --budget-bytes 80000 --wbits-choices 2,3,4 --wstep-scales 1,1.5 --margin 0.025 --out runs/mixed80k",
			"qat mixed --from runs/float --budget-bytes 120000 --wbits-choices 2,3,4 --abits-choices 4,8 --epochs 4 --json",
		},
	}
}

// wname names a weight option: W2, or W2x1.5 with a step scale.
func wname(bits int, scale float64) string {
	if scale == 1 {
		return fmt.Sprintf("W%d", bits)
	}
	return fmt.Sprintf("W%dx%g", bits, scale)
}
