package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/export"
	"github.com/qatgo/qatgo/export/onnx"
)

// onnxFlags are `qat export --format onnx`'s own flags.
type onnxFlags struct {
	form        string
	int4, int8w bool
	logits      bool
	layers      bool
	set         map[string]bool
	fs          *flag.FlagSet
}

func (o *onnxFlags) register(fs *flag.FlagSet) {
	o.fs = fs
	fs.StringVar(&o.form, "onnx-form", "qoperator", "ONNX form: qoperator (QLinearConv, uint8 pixels in) or qdq (QuantizeLinear/DequantizeLinear around float Conv/Gemm, float input)")
	fs.BoolVar(&o.int4, "onnx-int4", false, "qdq form: weights of <= 4 bits as INT4 initializers (opset 21)")
	fs.BoolVar(&o.int8w, "onnx-int8-weights", false, "weights as int8 with zero point 0 instead of uint8 w+128 (saturates in ONNX Runtime on x86 without VNNI)")
	fs.BoolVar(&o.logits, "onnx-logits", true, "also output the dequantized float logits")
	fs.BoolVar(&o.layers, "onnx-layer-outputs", false, "also output every layer's codes (for layer-by-layer checks)")
}

// onlyWithONNX refuses the ONNX flags without --format onnx.
func (o *onnxFlags) onlyWithONNX() error {
	var err error
	o.fs.Visit(func(f *flag.Flag) {
		if err == nil && len(f.Name) > 5 && f.Name[:5] == "onnx-" {
			err = fmt.Errorf("--%s needs --format onnx", f.Name)
		}
	})
	return err
}

// exportONNX writes the ONNX model of cfg.From (a checkpoint or a *.qat file) to cfg.Out,
// with the integer engine's accuracy on the test set in its metadata.
func exportONNX(fs *flag.FlagSet, cfg export.Config, o onnxFlags, asJSON bool, stdout, stderr io.Writer) error {
	if cfg.From == "" || cfg.Out == "" {
		return usagef(fs, "--format onnx needs --from CHECKPOINT|MODEL.qat and --out FILE.onnx")
	}
	form, err := onnx.ParseForm(o.form)
	if err != nil {
		return usagef(fs, "%v", err)
	}
	if o.int4 && form != onnx.QDQ {
		return usagef(fs, "--onnx-int4 needs --onnx-form qdq")
	}
	qm, err := export.LoadInteger(cfg.From)
	if err != nil {
		return err
	}
	test, err := data.LoadTest(cfg.DataDir)
	if err != nil {
		return err
	}
	acc, n := export.IntegerAccuracy(qm, test, cfg.TestLimit)
	opt := onnx.Options{Form: form, Int4: o.int4, WeightsInt8: o.int8w, Logits: o.logits, LayerOutputs: o.layers,
		Version: onnx.BuildVersion(), Accuracy: acc, AccuracyImages: n}
	if err := onnx.WriteFile(cfg.Out, qm, opt); err != nil {
		return fmt.Errorf("writing %s: %w", cfg.Out, err)
	}
	fmt.Fprintf(output(asJSON, stdout, stderr), "wrote %s: ONNX %s form, opset %d, IR %d; integer engine accuracy %.2f%% on %d test images (in the metadata)\n",
		cfg.Out, form, onnx.Opset, onnx.IRVersion, 100*acc, n)
	if asJSON {
		return printJSON(stdout, map[string]any{"model_file": cfg.Out, "format": "onnx", "onnx_form": form.String(), "int4": o.int4,
			"opset": onnx.Opset, "ir_version": onnx.IRVersion, "test_accuracy": acc, "images": n})
	}
	return nil
}
