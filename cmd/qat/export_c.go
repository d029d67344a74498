package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/qatgo/qatgo/export"
	"github.com/qatgo/qatgo/export/cgen"
)

// cExportFlags are the flags of `qat export --format c`.
type cExportFlags struct {
	name   string
	layout string
}

func addCExportFlags(fs *flag.FlagSet) *cExportFlags {
	f := &cExportFlags{}
	fs.StringVar(&f.name, "c-name", "", "with --format c: C symbol prefix and file name (default: the model's name)")
	fs.StringVar(&f.layout, "c-layout", "auto", "with --format c: weight layout: auto (smallest per layer), dense, sparse, dense-int8, dense-int4, dense-codebook4, sparse-delta8, sparse-tap16")
	return f
}

// onlyWithC refuses the C flags without --format c.
func (f *cExportFlags) onlyWithC(fs *flag.FlagSet) error {
	var err error
	fs.Visit(func(fl *flag.Flag) {
		if err == nil && strings.HasPrefix(fl.Name, "c-") {
			err = usagef(fs, "--%s needs --format c", fl.Name)
		}
	})
	return err
}

// cExportResult is the --json result of `qat export --format c`.
type cExportResult struct {
	From   string             `json:"from"`
	Files  []string           `json:"files"`
	Flash  int                `json:"flash_bytes_estimate"`
	Const  int                `json:"const_bytes"`
	Code   int                `json:"code_bytes_estimate"`
	Arena  int                `json:"arena_bytes"`
	Stages []cgen.StageReport `json:"stages"`
}

// exportC writes <name>.h and <name>.c into cfg.Out for the model in
// cfg.From: an integer model file (.qat) or a trained checkpoint.
func exportC(fs *flag.FlagSet, cfg export.Config, f *cExportFlags, asJSON bool, stdout, stderr io.Writer) error {
	layout, err := cgen.ParseLayout(f.layout)
	if err != nil {
		return usagef(fs, "--c-layout: %v", err)
	}
	qm, err := export.LoadInteger(cfg.From)
	if err != nil {
		return err
	}
	paths, rep, err := cgen.WriteFiles(cfg.Out, qm, cgen.Options{Name: f.name, Layout: layout})
	if err != nil {
		return err
	}
	w := output(asJSON, stdout, stderr)
	fmt.Fprintf(w, "wrote %s and %s (model %s, %v rounding)\n", paths[0], paths[1], qm.Name, qm.Rounding)
	fmt.Fprintf(w, "  %-14s %-7s %-16s %8s %8s %10s %9s\n", "function", "layers", "layout", "weights", "nonzero", "const B", "out B")
	for _, s := range rep.Stages {
		layers := fmt.Sprint(s.Layers[0])
		if len(s.Layers) == 2 {
			layers += fmt.Sprintf("+%d", s.Layers[1])
		}
		layout := s.Layout
		if layout == "" {
			layout = "-"
		}
		fmt.Fprintf(w, "  %-14s %-7s %-16s %8d %8d %10d %9d\n", s.Function, layers, layout, s.Weights, s.Nonzero, s.ConstBytes, s.OutBytes)
	}
	fmt.Fprintf(w, "flash: %d bytes = %d const data + ~%d code (estimate; measure with arm-none-eabi-size)\n", rep.FlashBytes(), rep.ConstBytes, rep.CodeBytesEstimate)
	fmt.Fprintf(w, "RAM:   %d bytes of arena (%s_ARENA_SIZE) + the stack of %s_predict; input %d bytes, output %d bytes (caller's)\n",
		rep.ArenaBytes, strings.ToUpper(rep.Name), rep.Name, rep.InputBytes, rep.OutputBytes)
	if asJSON {
		return printJSON(stdout, cExportResult{From: cfg.From, Files: paths, Flash: rep.FlashBytes(), Const: rep.ConstBytes,
			Code: rep.CodeBytesEstimate, Arena: rep.ArenaBytes, Stages: rep.Stages})
	}
	return nil
}
