package main

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/qatgo/qatgo/report"
	"github.com/qatgo/qatgo/train"
)

// layerValues is a NAME=VALUE,... flag (--layer-target conv1=0.5, --layer-k fc1=32).
type layerValues[T float64 | int] struct {
	m     *map[string]T
	parse func(string) (T, error)
}

func (f layerValues[T]) String() string {
	if f.m == nil || *f.m == nil {
		return ""
	}
	var parts []string
	for k, v := range *f.m {
		parts = append(parts, fmt.Sprintf("%s=%v", k, v))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func (f layerValues[T]) Set(s string) error {
	if *f.m == nil {
		*f.m = map[string]T{}
	}
	for _, item := range strings.Split(s, ",") {
		name, val, ok := strings.Cut(item, "=")
		if !ok || name == "" {
			return fmt.Errorf("%q: want NAME=VALUE", item)
		}
		v, err := f.parse(val)
		if err != nil {
			return fmt.Errorf("%q: %v", item, err)
		}
		(*f.m)[name] = v
	}
	return nil
}

func parseFloat(s string) (float64, error) { return strconv.ParseFloat(s, 64) }
func parseInt(s string) (int, error)       { return strconv.Atoi(s) }

// hanKept are the kept fractions per layer of Han et al. 2015 (Deep Compression Table 1 and 2).
var hanKept = train.HanKept

func pruneFlags(fs *flag.FlagSet, cfg *train.PruneConfig) {
	trainFlags(fs, &cfg.Train)
	fs.Float64Var(&cfg.Target, "target", cfg.Target, "final pruned fraction (overall with --policy global, per layer with --policy layer)")
	fs.Var(&cfg.Policy, "policy", "which weights to prune: global (one magnitude threshold), layer (each layer to --target), quality (|w| <= q*std per layer)")
	fs.Float64Var(&cfg.Quality, "quality", cfg.Quality, "quality parameter q of --policy quality")
	fs.Var(layerValues[float64]{&cfg.LayerTargets, parseFloat}, "layer-target", "per-layer pruned fractions, e.g. conv1=0.5,fc2=0.8")
	fs.Var(&cfg.Schedule, "prune-schedule", "cycles (prune, retrain, repeat) or gradual (Zhu-Gupta cubic during one training)")
	fs.IntVar(&cfg.Cycles, "cycles", cfg.Cycles, "prune-retrain cycles")
	fs.IntVar(&cfg.RetrainEpochs, "retrain-epochs", cfg.RetrainEpochs, "epochs of retraining per cycle")
	fs.IntVar(&cfg.Freq, "prune-freq", cfg.Freq, "gradual: steps between mask updates")
}

func cmdPrune(args []string, stdout, stderr io.Writer) error {
	cfg := train.DefaultPruneConfig()
	fs := newFlagSet("prune", stderr)
	pruneFlags(fs, &cfg)
	asJSON := fs.Bool("json", false, "print only a JSON object on stdout (human lines to stderr)")
	quiet := fs.Bool("quiet", false, "no progress bars (drawn only when stderr is a terminal)")
	plotOn := plotFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	var bad error
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "epochs" {
			bad = usagef(fs, "--epochs does not apply to pruning: use --cycles and --retrain-epochs")
		}
	})
	if bad != nil {
		return bad
	}
	inheritPerChannel(&cfg.Train.Quant)
	if err := cfg.Validate(); err != nil {
		return invalid(fs, err)
	}
	out := output(*asJSON, stdout, stderr)
	res, err := train.Prune(cfg, options(*quiet, out, stderr))
	if err != nil {
		return err
	}
	printPrune(out, cfg.Train.Arch, res)
	autoPlot(*plotOn, stderr, cfg.Train.Out, report.EvalOptions{DataDir: cfg.Train.DataDir, TestLimit: cfg.Train.TestLimit})
	if *asJSON {
		return printJSON(stdout, res)
	}
	return nil
}

// printPrune prints the per-cycle table: kept fraction per layer, overall sparsity, accuracy.
func printPrune(w io.Writer, arch string, res *train.PruneResult) {
	if len(res.Cycles) == 0 {
		return
	}
	layers := res.Cycles[0].Layers
	fmt.Fprintf(w, "\n%-6s %-6s", "cycle", "epoch")
	for _, l := range layers {
		fmt.Fprintf(w, " %8s", l.Layer)
	}
	fmt.Fprintf(w, " %9s %9s %9s\n", "sparsity", "pruned", "retrained")
	for _, c := range res.Cycles {
		fmt.Fprintf(w, "%-6d %-6d", c.Cycle, c.Epoch)
		for _, l := range c.Layers {
			fmt.Fprintf(w, " %7.2f%%", 100*l.Kept())
		}
		pruned := "-"
		if c.PrunedAcc != nil {
			pruned = fmt.Sprintf("%.2f%%", 100**c.PrunedAcc)
		}
		fmt.Fprintf(w, " %8.2f%% %9s %8.2f%%\n", 100*c.Sparsity, pruned, 100*c.TestAccuracy)
	}
	if han, ok := hanKept[arch]; ok {
		fmt.Fprintf(w, "%-13s", "Han et al.")
		for _, l := range layers {
			fmt.Fprintf(w, " %7.0f%%", 100*han[l.Layer])
		}
		fmt.Fprintf(w, " %8.0f%%   (kept fractions per layer; sparsity overall)\n", 92.0)
	}
	fmt.Fprintf(w, "kept per layer above; final sparsity %.2f%%, test accuracy %.2f%%; checkpoint %s\n", 100*res.Sparsity, 100*res.TestAccuracy, res.Checkpoint)
}

func cmdSensitivity(args []string, stdout, stderr io.Writer) error {
	cfg := train.SensitivityConfig{Tolerance: 0.001, EvalBatch: 100}
	fs := newFlagSet("sensitivity", stderr)
	fs.StringVar(&cfg.From, "from", "", "trained checkpoint (file or run directory)")
	sweep := fs.String("sparsities", "0.5,0.7,0.8,0.9,0.95,0.98", "comma-separated pruned fractions to try per layer")
	fs.Float64Var(&cfg.Tolerance, "tolerance", cfg.Tolerance, "accuracy loss (fraction) allowed for the suggested target")
	fs.StringVar(&cfg.DataDir, "data", "", dataUsage)
	fs.IntVar(&cfg.TestLimit, "test-limit", 0, "evaluate on the first N test images (0 = all)")
	fs.IntVar(&cfg.EvalBatch, "eval-batch", cfg.EvalBatch, "evaluation batch size (1..4096)")
	asJSON := fs.Bool("json", false, "print only a JSON object on stdout (human lines to stderr)")
	quiet := fs.Bool("quiet", false, "no progress bar (drawn only when stderr is a terminal)")
	if err := parse(fs, args); err != nil {
		return err
	}
	for _, s := range strings.Split(*sweep, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil {
			return usagef(fs, "--sparsities: %q is not a number", s)
		}
		cfg.Sparsities = append(cfg.Sparsities, v)
	}
	if err := cfg.Validate(); err != nil {
		return invalid(fs, err)
	}
	base, rows, err := train.Sensitivity(cfg, progress(*quiet, stderr))
	if err != nil {
		return err
	}
	saved, err := train.SaveSensitivity(cfg, base, rows)
	if err != nil {
		return err
	}
	stdout, jsonOut := output(*asJSON, stdout, stderr), stdout
	fmt.Fprintf(stdout, "unpruned test accuracy %.2f%%; accuracy with one layer pruned to each sparsity:\n%-8s %8s", 100*base, "layer", "weights")
	for _, s := range cfg.Sparsities {
		fmt.Fprintf(stdout, " %7.0f%%", 100*s)
	}
	fmt.Fprintf(stdout, " %9s\n", "suggest")
	var suggest []string
	for _, r := range rows {
		fmt.Fprintf(stdout, "%-8s %8d", r.Layer, r.Weights)
		for _, a := range r.Accuracy {
			fmt.Fprintf(stdout, " %7.2f%%", 100*a)
		}
		fmt.Fprintf(stdout, " %8.0f%%\n", 100*r.Suggest)
		suggest = append(suggest, fmt.Sprintf("%s=%g", r.Layer, r.Suggest))
	}
	fmt.Fprintf(stdout, "suggested (loss <= %.2f points per layer alone): --policy layer --layer-target %s\n", 100*cfg.Tolerance, strings.Join(suggest, ","))
	fmt.Fprintf(stdout, "sweep saved in %s (qat plot draws it)\n", saved)
	if *asJSON {
		return printJSON(jsonOut, map[string]any{"checkpoint": cfg.From, "base_accuracy": base, "tolerance": cfg.Tolerance, "layers": rows})
	}
	return nil
}

func clusterFlags(fs *flag.FlagSet, cfg *train.ClusterConfig) {
	trainFlags(fs, &cfg.Train)
	fs.IntVar(&cfg.K, "k", cfg.K, "centroids per layer (16 = 4-bit indices)")
	fs.Var(layerValues[int]{&cfg.LayerK, parseInt}, "layer-k", "per-layer centroid counts, e.g. conv1=64,fc1=16")
	fs.Var(&cfg.Init, "init", "k-means initialization: linear, density or kmeans++")
	fs.IntVar(&cfg.MaxIter, "kmeans-iter", cfg.MaxIter, "k-means iterations at most (>= 1)")
}

func cmdCluster(args []string, stdout, stderr io.Writer) error {
	cfg := train.DefaultClusterConfig()
	fs := newFlagSet("cluster", stderr)
	clusterFlags(fs, &cfg)
	asJSON := fs.Bool("json", false, "print only a JSON object on stdout (human lines to stderr)")
	quiet := fs.Bool("quiet", false, "no progress bars (drawn only when stderr is a terminal)")
	plotOn := plotFlag(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	inheritPerChannel(&cfg.Train.Quant)
	if err := cfg.Validate(); err != nil {
		return invalid(fs, err)
	}
	out := output(*asJSON, stdout, stderr)
	res, err := train.Cluster(cfg, options(*quiet, out, stderr))
	if err != nil {
		return err
	}
	printCluster(out, res)
	autoPlot(*plotOn, stderr, cfg.Train.Out, report.EvalOptions{DataDir: cfg.Train.DataDir, TestLimit: cfg.Train.TestLimit})
	if *asJSON {
		return printJSON(stdout, res)
	}
	return nil
}

func printCluster(w io.Writer, res *train.ClusterResult) {
	fmt.Fprintf(w, "\n%-8s %4s %10s %9s %14s\n", "layer", "k", "centroids", "nonzero", "mean sq. error")
	for _, l := range res.Layers {
		fmt.Fprintf(w, "%-8s %4d %10d %9d %14.3g\n", l.Layer, l.K, l.Centroid, l.Nonzero, l.Inertia)
	}
	fmt.Fprintf(w, "sparsity %.2f%%; test accuracy %.2f%% after k-means, %.2f%% after fine-tuning; checkpoint %s\n",
		100*res.Sparsity, 100*res.ClusteredAcc, 100*res.TestAccuracy, res.Checkpoint)
}
