package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/qatgo/qatgo/export"
	"github.com/qatgo/qatgo/export/cgen"
	"github.com/qatgo/qatgo/export/qnet"
	"github.com/qatgo/qatgo/train"
)

// cExportFlags are the flags of `qat export --format c`.
type cExportFlags struct {
	format string
	name   string
	layout string
}

func addCExportFlags(fs *flag.FlagSet) *cExportFlags {
	f := &cExportFlags{}
	fs.StringVar(&f.format, "format", "qat", "output: qat (integer model file) or c (C99 source for microcontrollers: --out is a directory)")
	fs.StringVar(&f.name, "c-name", "", "with --format c: C symbol prefix and file name (default: the model's name)")
	fs.StringVar(&f.layout, "c-layout", "auto", "with --format c: weight layout: auto (smallest per layer), dense, sparse, dense-int8, dense-int4, dense-codebook4, sparse-delta8, sparse-tap16")
	return f
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
func exportC(cfg export.Config, f *cExportFlags, asJSON bool, stdout io.Writer) error {
	if cfg.From == "" || cfg.Out == "" {
		return errors.New("export --format c needs --from (checkpoint or .qat file) and --out DIR")
	}
	layout, err := cgen.ParseLayout(f.layout)
	if err != nil {
		return err
	}
	qm, err := loadIntModel(cfg.From)
	if err != nil {
		return err
	}
	paths, rep, err := cgen.WriteFiles(cfg.Out, qm, cgen.Options{Name: f.name, Layout: layout})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s and %s (model %s, %v rounding)\n", paths[0], paths[1], qm.Name, qm.Rounding)
	fmt.Fprintf(stdout, "  %-14s %-7s %-16s %8s %8s %10s %9s\n", "function", "layers", "layout", "weights", "nonzero", "const B", "out B")
	for _, s := range rep.Stages {
		layers := fmt.Sprint(s.Layers[0])
		if len(s.Layers) == 2 {
			layers += fmt.Sprintf("+%d", s.Layers[1])
		}
		layout := s.Layout
		if layout == "" {
			layout = "-"
		}
		fmt.Fprintf(stdout, "  %-14s %-7s %-16s %8d %8d %10d %9d\n", s.Function, layers, layout, s.Weights, s.Nonzero, s.ConstBytes, s.OutBytes)
	}
	fmt.Fprintf(stdout, "flash: %d bytes = %d const data + ~%d code (estimate; measure with arm-none-eabi-size)\n", rep.FlashBytes(), rep.ConstBytes, rep.CodeBytesEstimate)
	fmt.Fprintf(stdout, "RAM:   %d bytes of arena (%s_ARENA_SIZE) + the stack of %s_predict; input %d bytes, output %d bytes (caller's)\n",
		rep.ArenaBytes, strings.ToUpper(rep.Name), rep.Name, rep.InputBytes, rep.OutputBytes)
	if asJSON {
		return printJSON(stdout, cExportResult{From: cfg.From, Files: paths, Flash: rep.FlashBytes(), Const: rep.ConstBytes,
			Code: rep.CodeBytesEstimate, Arena: rep.ArenaBytes, Stages: rep.Stages})
	}
	return nil
}

// loadIntModel reads an integer model file (it starts with qnet.Magic), or
// converts a trained checkpoint (file or run directory) as export does,
// checking what pruning and clustering built.
func loadIntModel(from string) (*qnet.Model, error) {
	if st, err := os.Stat(from); err == nil && st.Mode().IsRegular() {
		fh, err := os.Open(from)
		if err != nil {
			return nil, err
		}
		head := make([]byte, len(qnet.Magic))
		_, err = io.ReadFull(fh, head)
		fh.Close()
		if err == nil && bytes.Equal(head, []byte(qnet.Magic)) {
			return qnet.ReadFile(from)
		}
	}
	ck, err := train.LoadCheckpoint(from)
	if err != nil {
		return nil, err
	}
	m, err := ck.Model()
	if err != nil {
		return nil, err
	}
	qm, err := export.Convert(m)
	if err != nil {
		return nil, err
	}
	if _, err := export.CheckCompression(m, qm); err != nil {
		return nil, err
	}
	return qm, nil
}
