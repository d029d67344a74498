package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/qatgo/qatgo/export"
	"github.com/qatgo/qatgo/export/qnet"
	"github.com/qatgo/qatgo/train"
)

// mainJob is `qat` with no arguments: W8A8 QAT of LeNet-5 on the embedded MNIST, export, and
// evaluation of the integer model on the full test set.
func mainJob(stdout, stderr io.Writer) error {
	cfg := train.DefaultConfig()
	fmt.Fprintf(stdout, "qat: training %s W%dA%d QAT for %d epochs on the embedded MNIST (run directory %s)\n",
		cfg.Arch, cfg.Quant.WBits, cfg.Quant.ABits, cfg.Epochs, cfg.Out)
	res, err := train.Run(cfg, options(false, stdout, stderr))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "fake-quant test accuracy %.2f%% (%.1f s training)\n", 100*res.TestAccuracy, res.TrainSeconds)
	out := filepath.Join(cfg.Out, "model.qat")
	er, err := export.Run(export.Config{From: cfg.Out, Out: out, EvalBatch: cfg.EvalBatch, Progress: progress(false, stderr)})
	if err != nil {
		return err
	}
	printExport(stdout, er)
	return nil
}

func cmdExport(args []string, stdout, stderr io.Writer) error {
	var cfg export.Config
	fs := newFlagSet("export", stderr)
	fs.StringVar(&cfg.From, "from", "", "trained checkpoint (file or run directory)")
	fs.StringVar(&cfg.Out, "out", "", "integer model file to write (e.g. model.qat)")
	fs.StringVar(&cfg.DataDir, "data", "", dataUsage)
	fs.IntVar(&cfg.TestLimit, "test-limit", 0, "compare on the first N test images (0 = all)")
	fs.IntVar(&cfg.EvalBatch, "eval-batch", 100, "simulation batch size (1..4096)")
	fs.StringVar(&cfg.Encoding, "encoding", "auto", "weight storage: auto (smallest per layer), dense, sparse or huffman")
	asJSON := fs.Bool("json", false, "print only a JSON object on stdout (human lines to stderr)")
	quiet := fs.Bool("quiet", false, "no progress bar (drawn only when stderr is a terminal)")
	// ONNX (onnx.go) and C (export_c.go): --from may then also be an integer model file (*.qat).
	format := fs.String("format", "qat", "output: qat (integer model file), onnx (ONNX model file) or c (C99 source for microcontrollers: --out is a directory)")
	var ox onnxFlags
	ox.register(fs)
	cf := addCExportFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *format != "qat" && *format != "onnx" && *format != "c" {
		return usagef(fs, "--format %q is not qat, onnx or c", *format)
	}
	if err := cfg.Validate(); err != nil {
		return invalid(fs, err)
	}
	if *format == "onnx" {
		return exportONNX(fs, cfg, ox, *asJSON, stdout, stderr)
	}
	if err := ox.onlyWithONNX(); err != nil {
		return usagef(fs, "%v", err)
	}
	if *format == "c" {
		return exportC(fs, cfg, cf, *asJSON, stdout, stderr)
	}
	if err := cf.onlyWithC(fs); err != nil {
		return err
	}
	cfg.Progress = progress(*quiet, stderr)
	res, err := export.Run(cfg)
	if err != nil {
		return err
	}
	out := output(*asJSON, stdout, stderr)
	printExport(out, res)
	if *asJSON {
		return printJSON(stdout, res)
	}
	return nil
}

func printExport(w io.Writer, r *export.Result) {
	fmt.Fprintf(w, "wrote %s: %d bytes (float32 parameters: %d bytes, %.1fx smaller)\n", r.Out, r.Bytes, r.Float32Bytes, r.CompressionRatio)
	printSummary(w, r.Summary)
	printStorage(w, r)
	fmt.Fprintf(w, "\nsimulation vs integer engine on %d test images:\n", r.Images)
	fmt.Fprintf(w, "  fake-quant accuracy  %.2f%%\n  integer accuracy     %.2f%%\n  argmax agreement     %.2f%%\n", 100*r.SimAccuracy, 100*r.IntAccuracy, 100*r.Agreement)
	fmt.Fprintf(w, "  %-8s %22s %18s\n", "layer", "max |sim-int| (steps)", "differing values")
	for _, l := range r.Layers {
		fmt.Fprintf(w, "  %-8s %22d %17.4f%%\n", l.Name, l.MaxSteps, 100*l.Differing)
	}
}

func printSummary(w io.Writer, s []qnet.LayerSummary) {
	fmt.Fprintf(w, "  %-3s %-16s %-12s %8s %6s %6s %8s\n", "#", "layer", "out shape", "params", "wbits", "abits", "bytes")
	for _, l := range s {
		shape := fmt.Sprintf("%dx%dx%d", l.OutC, l.OutH, l.OutW)
		wb := "-"
		if l.WeightBits > 0 {
			wb = fmt.Sprint(l.WeightBits)
		}
		fmt.Fprintf(w, "  %-3d %-16s %-12s %8d %6s %6d %8d\n", l.Index, l.Kind, shape, l.Params, wb, l.OutBits, l.Bytes)
	}
}

func cmdSummary(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("summary", stderr)
	asJSON := fs.Bool("json", false, "print only a JSON object on stdout: per layer shape, bits, sparsity, clusters, bytes")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usagef(fs, "summary needs one model file, got %d arguments", fs.NArg())
	}
	path := fs.Arg(0)
	m, err := qnet.ReadFile(path)
	if err != nil {
		return err
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	sum := m.Summary()
	if *asJSON {
		return printJSON(stdout, summaryJSON(path, st.Size(), m, sum))
	}
	fmt.Fprintf(stdout, "%s: %s, input %dx%dx%d uint8, %v rounding\n", path, m.Name, m.InC, m.InH, m.InW, m.Rounding)
	printSummary(stdout, sum)
	return nil
}

// summaryLayer is one layer of `qat summary --json`.
type summaryLayer struct {
	Index      int     `json:"index"`
	Kind       string  `json:"kind"`
	OutShape   [3]int  `json:"out_shape"` // channels, height, width
	Params     int     `json:"params"`    // weights plus biases
	MACs       int     `json:"macs"`      // multiply-adds per image
	WeightBits int     `json:"wbits"`     // 0: no weights
	OutBits    int     `json:"abits"`     // bits of the output codes
	Weights    int     `json:"weights"`
	Nonzero    int     `json:"nonzero"`
	Sparsity   float64 `json:"sparsity"` // fraction of the weights that are zero
	Clusters   int     `json:"clusters"` // distinct nonzero weight values (a codebook's size)
	Encoding   string  `json:"encoding,omitempty"`
	Bytes      int     `json:"bytes"` // the layer's record as Encode writes it
}

func summaryJSON(path string, size int64, m *qnet.Model, sum []qnet.LayerSummary) map[string]any {
	st, _ := qnet.Storage(m, qnet.EncodeOptions{})
	layers := make([]summaryLayer, len(sum))
	for i, l := range sum {
		s := summaryLayer{Index: l.Index, Kind: l.Kind.String(), OutShape: [3]int{l.OutC, l.OutH, l.OutW}, Params: l.Params, MACs: l.MACs,
			WeightBits: l.WeightBits, OutBits: l.OutBits, Nonzero: l.Nonzero, Bytes: l.Bytes}
		if st != nil && i < len(st.Layers) {
			s.Weights, s.Clusters = st.Layers[i].Weights, st.Layers[i].Codebook
		}
		if s.Weights > 0 {
			s.Sparsity = 1 - float64(s.Nonzero)/float64(s.Weights)
			s.Encoding = l.Encoding.String()
		}
		layers[i] = s
	}
	return map[string]any{"model_file": path, "file_bytes": size, "name": m.Name, "rounding": m.Rounding.String(),
		"input_shape": [3]int{m.InC, m.InH, m.InW}, "layers": layers}
}

// printStorage prints the file's storage per weighted layer in the form of Deep Compression's
// Table 3: weights, kept fraction, bits per stored weight (codebook index or value) and per
// sparse position before and after Huffman coding, and the compression rate against float32.
func printStorage(w io.Writer, r *export.Result) {
	fmt.Fprintf(w, "\nstorage (Deep Compression Table 3 form; bits per nonzero weight):\n")
	fmt.Fprintf(w, "  %-6s %8s %7s %8s %8s %6s %15s %15s %9s %8s\n", "layer", "weights", "kept", "nonzero", "encoding", "k", "weight bits", "index bits", "bytes", "rate")
	fmt.Fprintf(w, "  %-6s %8s %7s %8s %8s %6s %15s %15s %9s %8s\n", "", "", "", "", "", "", "before  after", "before  after", "", "")
	i := 0
	var weights, nonzero int
	for _, st := range r.Storage.Layers {
		if st.Weights == 0 {
			continue
		}
		name := fmt.Sprint(st.Index)
		var c export.LayerCompression
		if i < len(r.Compression) {
			c = r.Compression[i]
			name = c.Layer
		}
		i++
		nz := max(st.Nonzero, 1)
		per := func(bits int) float64 { return float64(bits) / float64(nz) }
		k := "-"
		if st.Codebook > 0 && st.Encoding == qnet.EncodingHuffman {
			k = fmt.Sprint(st.Codebook)
		}
		// Float32 bytes of the layer: weights and one bias per output channel.
		f32 := 4 * (st.Weights + len(layerBias(r.Int.Layers[st.Index])))
		fmt.Fprintf(w, "  %-6s %8d %6.2f%% %8d %8s %6s %7.2f %7.2f %7.2f %7.2f %9d %7.1fx\n",
			name, st.Weights, 100*float64(st.Nonzero)/float64(st.Weights), st.Nonzero, st.Encoding, k,
			per(st.IndexBits*st.Entries), per(st.IndexStreamBits), per(st.GapBits*st.Entries), per(st.PositionBits),
			st.Bytes, float64(f32)/float64(st.Bytes))
		weights += st.Weights
		nonzero += st.Nonzero
	}
	fmt.Fprintf(w, "  %-6s %8d %6.2f%% %8d %74d %7.1fx   (file: header, layers, checksum)\n", "total", weights, 100*float64(nonzero)/float64(max(weights, 1)), nonzero, r.Bytes, r.CompressionRatio)
	for _, c := range r.Compression {
		if c.Kept != c.Weights || c.Clusters > 0 {
			fmt.Fprintf(w, "  %s: %d of %d weights kept by the mask, %d nonzero in the file", c.Layer, c.Kept, c.Weights, c.Nonzero)
			if c.Clusters > 0 {
				fmt.Fprintf(w, ", %d distinct values from a codebook of %d", c.Distinct, c.Clusters)
			}
			fmt.Fprintln(w)
		}
	}
}

func layerBias(l qnet.Layer) []int32 {
	switch t := l.(type) {
	case *qnet.Conv2D:
		return t.Bias
	case *qnet.FullyConnected:
		return t.Bias
	}
	return nil
}
