package main

import (
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/qatgo/qatgo/report"
)

// cmdPlot is `qat plot RUN_DIR...`: the pictures of each run into RUN_DIR/plots, and the
// accuracy-vs-bytes frontier of all of them.
func cmdPlot(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("plot", stderr)
	out := fs.String("out", "", "directory of the frontier picture (default: RUN_DIR/plots for one directory; with several, no frontier without --out)")
	var eval report.EvalOptions
	evalFlags(fs, &eval)
	dirs, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(dirs) == 0 {
		return usagef(fs, "plot needs at least one run directory")
	}
	runs, err := loadRuns(dirs)
	if err != nil {
		return err
	}
	for _, r := range runs {
		figs, _, err := report.Plot(r)
		if err != nil {
			return fmt.Errorf("%s: %w", r.Dir, err)
		}
		printFigures(stdout, r, figs)
	}
	dir := *out
	if dir == "" {
		if len(dirs) > 1 {
			fmt.Fprintf(stdout, "no frontier of the %d runs: give --out DIR for it\n", len(runs))
			return nil
		}
		dir = filepath.Join(dirs[0], report.PlotsDir)
	}
	pts, notes, paths, err := report.PlotFrontier(runs, dir, eval)
	if err != nil {
		return err
	}
	for _, n := range notes {
		fmt.Fprintf(stdout, "note: %s\n", n)
	}
	if len(pts) > 1 && len(paths) > 0 {
		fmt.Fprintf(stdout, "frontier of %d models: %s\n", len(pts), strings.Join(paths, ", "))
		for _, p := range pts {
			fmt.Fprintf(stdout, "  %-50s %9d bytes %7.2f%%  (%s)\n", p.Label, p.Bytes, 100*p.Accuracy, p.Measured)
		}
	}
	return nil
}

func evalFlags(fs *flag.FlagSet, e *report.EvalOptions) {
	fs.StringVar(&e.DataDir, "data", "", "idx `dir`ectory for evaluating .qat files (README: Your own model and data; default: the MNIST shipped in the GoMNIST module)")
	fs.IntVar(&e.TestLimit, "test-limit", 0, "evaluate .qat files on the first N test images (0 = all)")
}

// parseInterleaved parses flags given before, between or after the positional arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// loadRuns expands and reads the run directories.
func loadRuns(dirs []string) ([]*report.Run, error) {
	all, err := report.Expand(dirs)
	if err != nil {
		return nil, err
	}
	var runs []*report.Run
	for _, d := range all {
		r, err := report.Load(d)
		if err != nil {
			return nil, err
		}
		runs = append(runs, r)
	}
	return runs, nil
}

func printFigures(w io.Writer, r *report.Run, figs []*report.Figure) {
	if len(figs) == 0 {
		if len(r.Models) == 0 { // a directory of model files only has its place on the frontier
			fmt.Fprintf(w, "%s: nothing to draw\n", r.Dir)
		}
		return
	}
	var names []string
	for _, f := range figs {
		names = append(names, f.Name)
	}
	fmt.Fprintf(w, "%s: %s (.png, .svg) in %s\n", r.Dir, strings.Join(names, ", "), filepath.Join(r.Dir, report.PlotsDir))
}

// plotFlag registers --plot on the training commands.
func plotFlag(fs *flag.FlagSet) *bool {
	return fs.Bool("plot", true, "draw pictures into the run directory's plots/ at the end (--plot=false: none)")
}

// autoPlot draws the pictures of the run directory dir at the end of a command (and the
// frontier of its stages for a compress directory). A failure is reported on stderr and does
// not fail the command, whose results are already written.
func autoPlot(on bool, stderr io.Writer, dir string, eval report.EvalOptions) {
	if !on {
		return
	}
	if err := plotRuns(stderr, dir, eval); err != nil {
		fmt.Fprintf(stderr, "qat: drawing pictures of %s: %v\n", dir, err)
	}
}

func plotRuns(stderr io.Writer, dir string, eval report.EvalOptions) error {
	runs, err := loadRuns([]string{dir})
	if err != nil {
		return err
	}
	for _, r := range runs {
		figs, _, err := report.Plot(r)
		if err != nil {
			return err
		}
		printFigures(stderr, r, figs)
	}
	if len(runs) < 2 {
		return nil
	}
	_, _, paths, err := report.PlotFrontier(runs, filepath.Join(dir, report.PlotsDir), eval)
	if err == nil && len(paths) > 0 {
		fmt.Fprintf(stderr, "frontier: %s\n", strings.Join(paths, ", "))
	}
	return err
}

func init() {
	helps["qat plot"] = help{
		synopsis: "qat plot [flags] RUN_DIR...\n\nDraw PNG and SVG pictures of each run into RUN_DIR/plots (training curves, activation ranges,\nprune cycles, sensitivity, weight histograms) and the accuracy-vs-bytes frontier of the runs'\nmodels. A qat compress directory stands for its stages.",
		examples: []string{
			"qat plot runs/qat",
			"qat plot runs/float runs/ptq8 runs/w8a8 runs/w4a4 runs/compress --out runs/frontier",
		},
	}
	helps["qat report"] = help{
		synopsis: "qat report [flags] RUN_DIR\n\nWrite RUN_DIR/report.md: a results table, the pictures of qat plot (redrawn into RUN_DIR/plots),\nthe integer model's layers and the epochs. For a qat compress directory, one page per stage and\none for the pipeline with the accuracy-vs-bytes frontier.",
		examples: []string{"qat report runs/qat", "qat report runs/compress --test-limit 2000"},
	}
}
