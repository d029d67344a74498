package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/qatgo/qatgo/export"
	"github.com/qatgo/qatgo/nn"
	"github.com/qatgo/qatgo/report"
	"github.com/qatgo/qatgo/train"
)

// cmdCompress is the whole Deep Compression pipeline: prune -> cluster -> export.
func cmdCompress(args []string, stdout, stderr io.Writer) error {
	cfg := export.DefaultPipelineConfig()
	// --config is read first, so that flags given with it override the file.
	pre := flag.NewFlagSet("qat compress", flag.ContinueOnError)
	pre.SetOutput(io.Discard)
	file := pre.String("config", "", "")
	pre.Parse(filterFlag(args, "config"))
	fs := newFlagSet("compress", stderr)
	if *file != "" {
		b, err := readConfig(*file)
		if err != nil {
			return err
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cfg); err != nil {
			return usagef(fs, "--config %s: %v", *file, err)
		}
	}
	fs.String("config", "", "pipeline configuration `file` (JSON, as printed by --print-config); flags override it")
	fs.StringVar(&cfg.From, "from", cfg.From, "trained checkpoint to compress (file or run directory)")
	fs.StringVar(&cfg.Out, "out", cfg.Out, "pipeline directory: prune/, cluster/, model.qat")
	arch := fs.String("model", cfg.Prune.Train.Arch, "model: lenet5, lenet300-100 or a spec `file` ending in .json (must match --from)")
	fs.Float64Var(&cfg.Prune.Target, "target", cfg.Prune.Target, "pruned fraction")
	fs.Var(&cfg.Prune.Policy, "policy", "pruning policy: global, layer or quality")
	fs.Var(layerValues[float64]{&cfg.Prune.LayerTargets, parseFloat}, "layer-target", "per-layer pruned fractions, e.g. conv1=0.5")
	fs.Var(&cfg.Prune.Schedule, "prune-schedule", "cycles or gradual (Zhu-Gupta cubic during one training)")
	fs.IntVar(&cfg.Prune.Cycles, "cycles", cfg.Prune.Cycles, "prune-retrain cycles")
	fs.IntVar(&cfg.Prune.RetrainEpochs, "retrain-epochs", cfg.Prune.RetrainEpochs, "retraining epochs per cycle")
	fs.Float64Var(&cfg.Prune.Train.LR, "prune-lr", cfg.Prune.Train.LR, "retraining learning rate")
	fs.Var(&cfg.Prune.Train.Mode, "prune-mode", "retrain pruned models in qat or float")
	fs.IntVar(&cfg.Cluster.K, "k", cfg.Cluster.K, "centroids per layer")
	fs.Var(layerValues[int]{&cfg.Cluster.LayerK, parseInt}, "layer-k", "per-layer centroid counts, e.g. conv1=64")
	fs.Var(&cfg.Cluster.Init, "init", "k-means initialization: linear, density or kmeans++")
	fs.IntVar(&cfg.Cluster.Train.Epochs, "cluster-epochs", cfg.Cluster.Train.Epochs, "epochs of centroid fine-tuning (cluster-preserving QAT)")
	fs.Float64Var(&cfg.Cluster.Train.LR, "cluster-lr", cfg.Cluster.Train.LR, "centroid fine-tuning learning rate")
	wbits := fs.Int("wbits", cfg.Prune.Train.Quant.WBits, "weight bits (2..8)")
	abits := fs.Int("abits", cfg.Prune.Train.Quant.ABits, "activation bits (2..8)")
	var mixed nn.Config // --layer-bits, e.g. from qat mixed's choice
	fs.Var(layerBits{&mixed}, "layer-bits", "per-layer bits of both stages, e.g. fc1=2:8,conv1=8:8 (NAME=WBITS:ABITS; mixed precision)")
	quantizer := fs.String("quantizer", cfg.Prune.Train.Quant.Quantizer, "scales of both stages: ema or lsq (learned step sizes)")
	rangeMethod := fs.String("range", cfg.Prune.Train.Quant.Range, "initial lsq steps: minmax, mse or percentile")
	rounding := cfg.Prune.Train.Quant.Rounding
	fs.Var(&rounding, "rounding", "requantization rounding of both stages: single or double (TFLite's default)")
	augment := fs.Int("augment", cfg.Prune.Train.Augment, "shift training images randomly by up to N pixels")
	seed := fs.Uint64("seed", cfg.Prune.Train.Seed, "random seed")
	fs.BoolVar(&cfg.SkipPrune, "skip-prune", cfg.SkipPrune, "leave out the pruning stage")
	fs.BoolVar(&cfg.SkipCluster, "skip-cluster", cfg.SkipCluster, "leave out the clustering stage")
	fs.StringVar(&cfg.Encoding, "encoding", cfg.Encoding, "final weight storage: auto, dense, sparse or huffman")
	fs.StringVar(&cfg.DataDir, "data", cfg.DataDir, dataUsage)
	trainLimit := fs.Int("train-limit", cfg.Prune.Train.TrainLimit, "use only the first N training images (0 = all)")
	fs.IntVar(&cfg.TestLimit, "test-limit", cfg.TestLimit, "evaluate on the first N test images (0 = all)")
	printConfig := fs.Bool("print-config", false, "print the configuration as JSON and exit")
	asJSON := fs.Bool("json", false, "print only a JSON object on stdout (human lines to stderr)")
	quiet := fs.Bool("quiet", false, "no progress bars (drawn only when stderr is a terminal)")
	plotOn := plotFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	// Settings shared by both training stages: a flag given sets both; otherwise each stage
	// keeps its own value (from the defaults or the --config file).
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, t := range []*train.Config{&cfg.Prune.Train, &cfg.Cluster.Train} {
		if set["model"] {
			t.Arch = *arch
		}
		if set["wbits"] {
			t.Quant.WBits = *wbits
		}
		if set["abits"] {
			t.Quant.ABits = *abits
		}
		if set["rounding"] {
			t.Quant.Rounding = rounding
		}
		if set["layer-bits"] {
			t.Quant.Layers = map[string]nn.LayerQ{}
			for name, q := range mixed.Layers {
				q.PerChannel = t.Quant.PerChannel
				t.Quant.Layers[name] = q
			}
		}
		if set["quantizer"] {
			t.Quant.Quantizer = *quantizer
		}
		if set["range"] {
			t.Quant.Range = *rangeMethod
		}
		if set["augment"] {
			t.Augment = *augment
		}
		if set["seed"] {
			t.Seed = *seed
		}
		if set["train-limit"] {
			t.TrainLimit = *trainLimit
		}
		if set["data"] {
			t.DataDir = cfg.DataDir
		}
		if set["test-limit"] {
			t.TestLimit = cfg.TestLimit
		}
	}
	if *printConfig {
		b, err := json.MarshalIndent(cfg, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	if err := cfg.Validate(); err != nil {
		return invalid(fs, err)
	}
	out := output(*asJSON, stdout, stderr)
	res, err := export.Pipeline(cfg, options(*quiet, out, stderr))
	if err != nil {
		return err
	}
	if res.Prune != nil {
		printPrune(out, cfg.Prune.Train.Arch, res.Prune)
	}
	if res.Cluster != nil {
		printCluster(out, res.Cluster)
	}
	fmt.Fprintln(out)
	printExport(out, res.Final)
	printStages(out, cfg.Prune.Train.Arch, res)
	autoPlot(*plotOn, stderr, cfg.Out, report.EvalOptions{DataDir: cfg.DataDir, TestLimit: cfg.TestLimit})
	if *asJSON {
		return printJSON(stdout, res)
	}
	return nil
}

// deepCompression are Deep Compression's totals (REFERENCES §4) to print beside ours.
var deepCompression = map[string]string{
	"lenet5":       "Deep Compression: error 0.80% -> 0.74%, 1720 KB -> 44 KB (39x); pruning alone 0.77% error, 12x fewer weights",
	"lenet300-100": "Deep Compression: error 1.64% -> 1.58%, 1070 KB -> 27 KB (40x)",
}

func printStages(w io.Writer, arch string, res *export.PipelineResult) {
	fmt.Fprintf(w, "\n%-58s %9s %8s %10s %8s  %s\n", "stage", "accuracy", "error", "bytes", "ratio", "measured")
	for _, s := range res.Stages {
		fmt.Fprintf(w, "%-58s %8.2f%% %7.2f%% %10d %7.1fx  %s\n", s.Name, 100*s.Accuracy, 100*(1-s.Accuracy), s.Bytes, s.Ratio, s.Measured)
	}
	if dc, ok := deepCompression[arch]; ok {
		fmt.Fprintln(w, dc)
	}
}

// filterFlag returns the -name/--name flag (and its value) from args, for a first parse.
func filterFlag(args []string, name string) []string {
	for i, a := range args {
		if a == "-"+name || a == "--"+name {
			if i+1 < len(args) {
				return []string{a, args[i+1]}
			}
			return nil
		}
		if strings.HasPrefix(a, "-"+name+"=") || strings.HasPrefix(a, "--"+name+"=") {
			return []string{a}
		}
	}
	return nil
}

// maxConfigBytes bounds a --config file.
const maxConfigBytes = 1 << 20

// readConfig reads a --config file of at most maxConfigBytes.
func readConfig(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxConfigBytes {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, maxConfigBytes)
	}
	return b, nil
}
