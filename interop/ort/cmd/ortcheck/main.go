package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/export"
	"github.com/qatgo/qatgo/export/onnx"
	"github.com/qatgo/qatgo/interop/ort"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "ortcheck: %v\n", err)
		if err == flag.ErrHelp {
			os.Exit(2)
		}
		if _, usage := err.(usageError); usage {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

type usageError struct{ error }

type report struct {
	Form      string          `json:"form"`
	Int4      bool            `json:"int4"`
	Int8      bool            `json:"int8_weights"`
	ORT       string          `json:"ort"`
	Optimized []string        `json:"ort_ops,omitempty"`
	Result    *ort.Comparison `json:"result"`
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ortcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "integer model file (*.qat) or trained checkpoint")
	form := fs.String("form", "both", "ONNX form: qoperator, qdq or both")
	int4 := fs.Bool("int4", false, "qdq form: weights of <= 4 bits as INT4 initializers")
	int8w := fs.Bool("int8-weights", false, "weights as int8 with zero point 0 (default: uint8 w+128)")
	limit := fs.Int("limit", 0, "first N test images (0 = all 10,000)")
	dataDir := fs.String("data", "", "MNIST idx directory (default: the embedded copy)")
	dir := fs.String("ort-dir", "", "interop/ort directory with node_modules (default: this source's)")
	keep := fs.String("keep", "", "also write the exported model(s) here as PREFIX-FORM.onnx and the graph ORT runs as PREFIX-FORM.ort.onnx")
	asJSON := fs.Bool("json", false, "print one JSON object per form as the last lines")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 || *from == "" {
		return usageError{fmt.Errorf("usage: ortcheck --from MODEL.qat|CHECKPOINT [--form qoperator|qdq|both] [--int4] [--limit N] [--json]")}
	}
	if *limit < 0 {
		return usageError{fmt.Errorf("--limit must be >= 0")}
	}
	var forms []onnx.Form
	if *form == "both" {
		forms = []onnx.Form{onnx.QOperator, onnx.QDQ}
	} else {
		f, err := onnx.ParseForm(*form)
		if err != nil {
			return usageError{err}
		}
		forms = []onnx.Form{f}
	}
	if *int4 && (len(forms) != 1 || forms[0] != onnx.QDQ) {
		return usageError{fmt.Errorf("--int4 needs --form qdq")}
	}
	qm, err := export.LoadInteger(*from)
	if err != nil {
		return err
	}
	_, test, err := data.Load(*dataDir)
	if err != nil {
		return err
	}
	acc, n := export.IntegerAccuracy(qm, test, *limit)
	for _, f := range forms {
		opt := ort.CheckOptions{Dir: *dir, ImagesDir: *dataDir, Limit: *limit,
			ONNX: onnx.Options{Form: f, Int4: *int4, WeightsInt8: *int8w, Version: onnx.BuildVersion(), Accuracy: acc, AccuracyImages: n}}
		if *keep != "" {
			opt.Keep = fmt.Sprintf("%s-%s.onnx", *keep, f)
			opt.Optimized = fmt.Sprintf("%s-%s.ort.onnx", *keep, f)
		}
		c, r, err := ort.Check(qm, test, opt)
		if err != nil {
			return err
		}
		rep := report{Form: f.String(), Int4: *int4, Int8: *int8w, ORT: r.Version, Result: c}
		if opt.Optimized != "" {
			if rep.Optimized, err = onnx.OpTypes(opt.Optimized); err != nil {
				return err
			}
		}
		wt := "uint8 weights"
		switch {
		case *int4:
			wt = "int4 weights"
		case *int8w:
			wt = "int8 weights"
		}
		fmt.Fprintf(stdout, "%s form, %s (onnxruntime-node %s, CPU, 1 thread) vs qatgo engine on %d test images:\n", f, wt, r.Version, c.Images)
		fmt.Fprintf(stdout, "  argmax agreement   %.2f%% (%d images differ)\n", 100*c.Agreement, c.Disagreeing)
		fmt.Fprintf(stdout, "  engine accuracy    %.2f%%\n  ORT accuracy       %.2f%%\n", 100*c.EngineAccuracy, 100*c.ORTAccuracy)
		fmt.Fprintf(stdout, "  %-8s %12s %12s %10s\n", "layer", "codes", "differing", "max diff")
		for _, l := range c.Layers {
			fmt.Fprintf(stdout, "  %-8s %12d %11.4f%% %10d\n", l.Name, l.Values, 100*l.Share, l.MaxDiff)
		}
		if rep.Optimized != nil {
			fmt.Fprintf(stdout, "  ORT runs: %v (%s)\n", rep.Optimized, opt.Optimized)
		}
		if *asJSON {
			b, err := json.Marshal(rep)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s\n", b)
		}
	}
	return nil
}
