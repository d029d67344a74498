package report

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/qatgo/qatgo/export/qnet"
	"github.com/qatgo/qatgo/nn"
	"github.com/qatgo/qatgo/train"
)

// PlotsDir is the pictures' directory inside a run directory.
const PlotsDir = "plots"

// ReportFile is the Markdown page inside a run directory.
const ReportFile = "report.md"

// Plot writes the run's pictures into RUN/plots and returns them with the written paths.
func Plot(r *Run) ([]*Figure, []string, error) {
	figs, err := Figures(r)
	if err != nil {
		return nil, nil, err
	}
	if len(figs) == 0 {
		return nil, nil, nil
	}
	dir := filepath.Join(r.Dir, PlotsDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	var paths []string
	for _, f := range figs {
		p, err := f.Save(dir)
		if err != nil {
			return nil, nil, err
		}
		paths = append(paths, p...)
	}
	return figs, paths, nil
}

// PlotFrontier evaluates the runs' models and writes the frontier picture into dir (nothing if
// no run has a point); it returns the points, notes on the runs left out, and the paths.
func PlotFrontier(runs []*Run, dir string, opt EvalOptions) ([]Point, []string, []string, error) {
	pts, notes, err := Points(runs, opt)
	if err != nil {
		return nil, nil, nil, err
	}
	f, err := Frontier(pts)
	if err != nil || f == nil {
		return pts, notes, nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, nil, err
	}
	paths, err := f.Save(dir)
	return pts, notes, paths, err
}

// Write draws the run's pictures and writes RUN/report.md: a results table, the pictures with
// captions, the integer model's layers (the first .qat file's summary), the epochs and, where
// there are two models or more, the accuracy-vs-bytes frontier. Children are runs inside r's
// directory (the stages of a qat compress directory): the page links their own reports (write
// them first) and puts them on the frontier. It returns the page's path.
func Write(r *Run, children []*Run, opt EvalOptions) (string, error) {
	figs, _, err := Plot(r)
	if err != nil {
		return "", err
	}
	pts, notes, frontier, err := PlotFrontier(append([]*Run{r}, children...), filepath.Join(r.Dir, PlotsDir), opt)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	markdown(&b, r, figs, pts, notes, len(frontier) > 0 && len(pts) > 1)
	if len(children) > 0 {
		fmt.Fprintf(&b, "## Stages\n\n")
		for _, c := range children {
			rel, err := filepath.Rel(r.Dir, filepath.Join(c.Dir, ReportFile))
			if err != nil {
				rel = filepath.Join(c.Dir, ReportFile)
			}
			fmt.Fprintf(&b, "- [%s](%s): %s\n", c.Name, filepath.ToSlash(rel), c.Kind())
		}
		fmt.Fprintln(&b)
	}
	path := filepath.Join(r.Dir, ReportFile)
	err = qnet.WriteAtomic(path, func(w io.Writer) error { _, err := w.Write(b.Bytes()); return err })
	return path, err
}

func markdown(w io.Writer, r *Run, figs []*Figure, pts []Point, notes []string, frontier bool) {
	title := r.Name
	if k := r.Kind(); k != "" {
		title += " — " + k
	}
	fmt.Fprintf(w, "# %s\n\n", title)
	fmt.Fprintf(w, "Run directory `%s`", r.Dir)
	if a := r.Arch(); a != "" {
		fmt.Fprintf(w, ", model %s", a)
	}
	fmt.Fprintf(w, ". Pictures: `%s/` (PNG and SVG). Written by `qat report`.\n\n", PlotsDir)

	fmt.Fprintf(w, "## Results\n\n| what | value | from |\n|---|---|---|\n")
	if ck := r.Checkpoint; ck != nil {
		c := ck.Config
		fmt.Fprintf(w, "| configuration | %s, mode %s, W%dA%d, %s, seed %d | checkpoint |\n", c.Arch, c.Mode, c.Quant.WBits, c.Quant.ABits, c.Optimizer, c.Seed)
		limit := "all"
		if c.TrainLimit > 0 {
			limit = fmt.Sprint(c.TrainLimit)
		}
		tl := "all"
		if c.TestLimit > 0 {
			tl = fmt.Sprint(c.TestLimit)
		}
		fmt.Fprintf(w, "| data | training images: %s, test images: %s | checkpoint |\n", limit, tl)
		fmt.Fprintf(w, "| training | %d epochs, %.1f s | checkpoint |\n", ck.Epoch, ck.Seconds)
		if r.Model != nil {
			ls := r.Model.Sparsity()
			fmt.Fprintf(w, "| parameters | %d (%d bytes as float32), %.2f%% of the weights pruned | checkpoint |\n", r.Model.NumWeights(), 4*r.Model.NumWeights(), 100*nn.TotalSparsity(ls))
		}
	}
	if acc, ok := r.LastAccuracy(); ok {
		what := "fake-quant simulation"
		if r.Checkpoint != nil && r.Checkpoint.Config.Mode == "float" {
			what = "float"
		}
		fmt.Fprintf(w, "| test accuracy (last evaluation) | %.2f%% | %s, %s |\n", 100*acc, train.MetricsFile, what)
	}
	if n := len(r.Cycles); n > 0 {
		c := r.Cycles[n-1]
		fmt.Fprintf(w, "| pruning | %d cycles: %.2f%% pruned, test accuracy %.2f%% | %s |\n", c.Cycle, 100*c.Sparsity, 100*c.TestAccuracy, train.PruneFile)
	}
	if s := r.Sensitivity; s != nil {
		var sug []string
		for _, l := range s.Layers {
			sug = append(sug, fmt.Sprintf("%s=%g", l.Layer, l.Suggest))
		}
		fmt.Fprintf(w, "| pruning sensitivity | unpruned %.2f%%; suggested targets %s | %s |\n", 100*s.BaseAccuracy, strings.Join(sug, ","), train.SensitivityFile)
	}
	for _, p := range pts {
		if p.File == "" || filepath.Dir(p.File) != filepath.Clean(r.Dir) {
			continue
		}
		ratio := ""
		if r.Model != nil && p.Bytes > 0 {
			ratio = fmt.Sprintf(", %.1fx smaller than float32", float64(4*r.Model.NumWeights())/float64(p.Bytes))
		}
		fmt.Fprintf(w, "| integer model `%s` | %d bytes%s; test accuracy %.2f%% on %d images | integer engine, run by qat report |\n",
			filepath.Base(p.File), p.Bytes, ratio, 100*p.Accuracy, p.Images)
	}
	fmt.Fprintln(w)
	for _, n := range notes {
		fmt.Fprintf(w, "Note: %s.\n\n", n)
	}

	for _, f := range figs {
		fmt.Fprintf(w, "## %s\n\n![%s](%s/%s.png)\n\n%s ([SVG](%s/%s.svg))\n\n", figureHeading(f.Name), f.Name, PlotsDir, f.Name, f.Caption, PlotsDir, f.Name)
	}
	if frontier {
		fmt.Fprintf(w, "## Accuracy vs file size\n\n![frontier](%s/frontier.png)\n\n", PlotsDir)
		fmt.Fprintf(w, "| model | bytes | test accuracy | measured |\n|---|---|---|---|\n")
		for _, p := range pts {
			fmt.Fprintf(w, "| %s | %d | %.2f%% | %s |\n", p.Label, p.Bytes, 100*p.Accuracy, p.Measured)
		}
		fmt.Fprintln(w)
	}

	if len(r.Models) > 0 {
		mf := r.Models[0]
		m := mf.Model
		fmt.Fprintf(w, "## Integer model `%s`\n\n%s, input %dx%dx%d uint8, %d bytes.\n\n", filepath.Base(mf.Path), m.Name, m.InC, m.InH, m.InW, mf.Bytes)
		fmt.Fprintf(w, "| # | layer | out shape | params | nonzero | weight bits | out bits | encoding | bytes |\n|---|---|---|---|---|---|---|---|---|\n")
		for _, l := range m.Summary() {
			wb, nz, enc := "-", "-", "-"
			if l.WeightBits > 0 {
				wb, nz, enc = fmt.Sprint(l.WeightBits), fmt.Sprint(l.Nonzero), fmt.Sprint(l.Encoding)
			}
			fmt.Fprintf(w, "| %d | %s | %dx%dx%d | %d | %s | %s | %d | %s | %d |\n", l.Index, l.Kind, l.OutC, l.OutH, l.OutW, l.Params, nz, wb, l.OutBits, enc, l.Bytes)
		}
		fmt.Fprintln(w)
	}

	if ms := r.epochs(); len(ms) > 0 {
		fmt.Fprintf(w, "## Epochs\n\n| epoch | cycle | loss | train | test | lr | seconds |\n|---|---|---|---|---|---|---|\n")
		for _, m := range ms {
			fmt.Fprintf(w, "| %d | %d | %.4f | %.2f%% | %.2f%% | %.3g | %.1f |\n", m.Epoch, m.Cycle, m.TrainLoss, 100*m.TrainAcc, 100*m.TestAccuracy, m.LR, m.Seconds)
		}
		fmt.Fprintln(w)
	}
}

func figureHeading(name string) string {
	switch name {
	case "training":
		return "Training curves"
	case "ranges":
		return "Activation ranges"
	case "prune":
		return "Prune-retrain cycles"
	case "sensitivity":
		return "Pruning sensitivity"
	case "weights":
		return "Weight histograms"
	}
	return name
}
