package report

import (
	"fmt"
	"image/color"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/qatgo/qatgo/nn"
	"github.com/qatgo/qatgo/train"
)

// Figures returns the pictures the run's files allow, in report order: training (with at
// least one epoch), ranges (with ranges recorded), prune (with prune.jsonl), sensitivity (with
// sensitivity.json), weights (with a checkpoint).
func Figures(r *Run) ([]*Figure, error) {
	var figs []*Figure
	add := func(f *Figure, err error) error {
		if err == nil && f != nil {
			figs = append(figs, f)
		}
		return err
	}
	if err := add(Training(r)); err != nil {
		return nil, err
	}
	if err := add(Ranges(r)); err != nil {
		return nil, err
	}
	if err := add(Prune(r)); err != nil {
		return nil, err
	}
	if err := add(Sensitivity(r)); err != nil {
		return nil, err
	}
	if err := add(Weights(r)); err != nil {
		return nil, err
	}
	return figs, nil
}

func (r *Run) title(what string) string {
	if k := r.Kind(); k != "" {
		return fmt.Sprintf("%s — %s (%s)", what, r.Name, k)
	}
	return fmt.Sprintf("%s — %s", what, r.Name)
}

// epochs returns the metrics records of training epochs (PTQ's calibration record, epoch 0,
// is no epoch).
func (r *Run) epochs() []train.EpochMetrics {
	var ms []train.EpochMetrics
	for _, m := range r.Metrics {
		if m.Epoch > 0 {
			ms = append(ms, m)
		}
	}
	return ms
}

// Training draws the loss and the train and test accuracy per epoch (nil without epochs).
// Prune cycles, where the metrics have them, are marked by vertical lines at their starts.
func Training(r *Run) (*Figure, error) {
	ms := r.epochs()
	if len(ms) == 0 {
		return nil, nil
	}
	loss := newPlot("training loss (mean over the epoch)", "epoch", "cross-entropy")
	acc := newPlot("accuracy", "epoch", "accuracy (%)")
	acc.Y.Tick.Marker = percentTicks{}
	acc.Legend.Top, acc.Legend.Left = false, false
	var lxy, trxy, texy plotter.XYs
	for _, m := range ms {
		e := float64(m.Epoch)
		lxy = append(lxy, plotter.XY{X: e, Y: m.TrainLoss})
		trxy = append(trxy, plotter.XY{X: e, Y: m.TrainAcc})
		texy = append(texy, plotter.XY{X: e, Y: m.TestAccuracy})
	}
	if err := addLine(loss, "train loss", lxy, seriesColor(2), false, true); err != nil {
		return nil, err
	}
	if err := addLine(acc, "train (during the epoch)", trxy, seriesColor(2), true, true); err != nil {
		return nil, err
	}
	if err := addLine(acc, "test (end of epoch)", texy, seriesColor(0), false, true); err != nil {
		return nil, err
	}
	for _, p := range []*plot.Plot{loss, acc} {
		p.X.Tick.Marker = integerTicks{}
		p.X.Min, p.X.Max = float64(ms[0].Epoch)-0.6, p.X.Max+0.2
	}
	loss.Y.Min = 0
	placeLegend(loss, lxy)
	placeLegend(acc, trxy, texy)
	// Mark where prune cycles start.
	if ms[len(ms)-1].Cycle > 0 {
		first := true
		for i := range ms {
			if i == 0 && ms[0].Cycle > 0 || i > 0 && ms[i].Cycle != ms[i-1].Cycle {
				for _, p := range []*plot.Plot{loss, acc} {
					name := ""
					if first && p == loss {
						name = "prune step (new cycle)"
					}
					x := float64(ms[i].Epoch) - 0.5
					if err := addVLine(p, name, x, color.Gray{150}); err != nil {
						return nil, err
					}
				}
				first = false
			}
		}
	}
	f := &Figure{Name: "training", Title: r.title("training curves"), W: 9 * vg.Inch, H: 4 * vg.Inch,
		Caption: "Training loss and accuracy per epoch (metrics.jsonl); the train accuracy is measured during the epoch, the test accuracy after it.",
		Panels:  [][]*plot.Plot{{loss, acc}}}
	return f, nil
}

// addVLine draws a vertical line across p's current Y range (set Y.Min/Max before).
func addVLine(p *plot.Plot, name string, x float64, c color.Color) error {
	l, err := plotter.NewLine(plotter.XYs{{X: x, Y: p.Y.Min}, {X: x, Y: p.Y.Max}})
	if err != nil {
		return err
	}
	l.Color, l.Width, l.Dashes = c, vg.Points(1), []vg.Length{vg.Points(2), vg.Points(2)}
	p.Add(l)
	if name != "" {
		p.Legend.Add(name, l)
	}
	return nil
}

// Ranges draws the activation range [min, max] of every quantized layer after each epoch:
// the EMA observers' trajectories in QAT, the calibrated min/max in PTQ (nil without ranges).
func Ranges(r *Run) (*Figure, error) {
	var layers []string
	series := map[string]*[2]plotter.XYs{}
	for _, m := range r.Metrics {
		for _, q := range m.Ranges {
			s, ok := series[q.Layer]
			if !ok {
				s = &[2]plotter.XYs{}
				series[q.Layer] = s
				layers = append(layers, q.Layer)
			}
			s[0] = append(s[0], plotter.XY{X: float64(m.Epoch), Y: q.Min})
			s[1] = append(s[1], plotter.XY{X: float64(m.Epoch), Y: q.Max})
		}
	}
	if len(layers) == 0 {
		return nil, nil
	}
	if len(series[layers[0]][1]) == 1 {
		return rangeBars(r, layers, series)
	}
	xl := "epoch"
	if r.Checkpoint != nil && r.Checkpoint.Config.Mode == "ptq" {
		xl = "epoch (0: PTQ calibration)"
	}
	p := newPlot("activation range of each quantized layer's output (solid: max, dashed: min)", xl, "range end (float)")
	var all []plotter.XYs
	for i, name := range layers {
		s := series[name]
		all = append(all, s[0], s[1])
		if err := addLine(p, name, s[1], seriesColor(i), false, true); err != nil {
			return nil, err
		}
		if err := addLine(p, "", s[0], seriesColor(i), true, true); err != nil {
			return nil, err
		}
	}
	p.X.Tick.Marker = integerTicks{}
	p.X.Min, p.X.Max = p.X.Min-0.2, p.X.Max+0.2
	placeLegend(p, all...)
	return &Figure{Name: "ranges", Title: r.title("activation ranges"), W: 9 * vg.Inch, H: 4.5 * vg.Inch,
		Caption: "The tracked activation range [min, max] of every quantized layer after each epoch (EMA observers in QAT, min/max calibration in PTQ), from metrics.jsonl.",
		Panels:  [][]*plot.Plot{{p}}}, nil
}

// rangeBars draws one record's ranges (a PTQ calibration) as one bar [min, max] per layer.
func rangeBars(r *Run, layers []string, series map[string]*[2]plotter.XYs) (*Figure, error) {
	when := "after PTQ calibration"
	if e := series[layers[0]][1][0].X; e > 0 {
		when = fmt.Sprintf("after epoch %g", e)
	}
	p := newPlot("activation range of each quantized layer's output "+when, "", "range (float)")
	w := 0.35
	for i, name := range layers {
		s := series[name]
		lo, hi := s[0][0].Y, s[1][0].Y
		x := float64(i)
		poly, err := plotter.NewPolygon(plotter.XYs{{X: x - w, Y: lo}, {X: x + w, Y: lo}, {X: x + w, Y: hi}, {X: x - w, Y: hi}})
		if err != nil {
			return nil, err
		}
		poly.Color, poly.LineStyle.Width = seriesColor(i), 0
		p.Add(poly)
		lb, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: x, Y: hi}, {X: x, Y: lo}},
			Labels: []string{fmt.Sprintf("%.3g", hi), fmt.Sprintf("%.3g", lo)}})
		if err != nil {
			return nil, err
		}
		for j := range lb.TextStyle {
			lb.TextStyle[j].XAlign = draw.XCenter
			lb.TextStyle[j].Font.Size = vg.Points(9)
		}
		lb.TextStyle[0].YAlign, lb.TextStyle[1].YAlign = draw.YBottom, draw.YTop
		p.Add(lb)
	}
	p.NominalX(layers...)
	span := p.Y.Max - p.Y.Min
	p.Y.Min, p.Y.Max = p.Y.Min-0.08*span, p.Y.Max+0.08*span
	return &Figure{Name: "ranges", Title: r.title("activation ranges"), W: 9 * vg.Inch, H: 4.5 * vg.Inch,
		Caption: "The tracked activation range [min, max] of every quantized layer's output " + when + " (the run's only record in metrics.jsonl).",
		Panels:  [][]*plot.Plot{{p}}}, nil
}

// Prune draws a prune-retrain run (nil without prune.jsonl): the pruned fraction overall and
// per layer per cycle, the test accuracy per cycle right after pruning and after retraining,
// and the final kept fraction per layer beside Han et al.'s.
func Prune(r *Run) (*Figure, error) {
	cs := r.Cycles
	if len(cs) == 0 {
		return nil, nil
	}
	sp := newPlot("pruned fraction", "cycle (0: before pruning)", "pruned weights (%)")
	sp.Y.Tick.Marker = percentTicks{}
	var total plotter.XYs
	for _, c := range cs {
		total = append(total, plotter.XY{X: float64(c.Cycle), Y: c.Sparsity})
	}
	if err := addLine(sp, "all layers", total, color.Black, false, true); err != nil {
		return nil, err
	}
	spSeries := []plotter.XYs{total}
	layers := cs[len(cs)-1].Layers
	for i, l := range layers {
		var xy plotter.XYs
		for _, c := range cs {
			for _, cl := range c.Layers {
				if cl.Layer == l.Layer && cl.Weights > 0 {
					xy = append(xy, plotter.XY{X: float64(c.Cycle), Y: 1 - cl.Kept()})
				}
			}
		}
		if err := addLine(sp, l.Layer, xy, seriesColor(i), true, false); err != nil {
			return nil, err
		}
		spSeries = append(spSeries, xy)
	}
	sp.Y.Min, sp.Y.Max = 0, 1

	acc := newPlot("test accuracy", "cycle (0: before pruning)", "accuracy (%)")
	acc.Y.Tick.Marker = percentTicks{}
	var after, before plotter.XYs
	for _, c := range cs {
		after = append(after, plotter.XY{X: float64(c.Cycle), Y: c.TestAccuracy})
		if c.PrunedAcc != nil {
			before = append(before, plotter.XY{X: float64(c.Cycle), Y: *c.PrunedAcc})
		}
	}
	if err := addLine(acc, "after retraining", after, seriesColor(0), false, true); err != nil {
		return nil, err
	}
	if len(before) > 0 {
		s, err := plotter.NewScatter(before)
		if err != nil {
			return nil, err
		}
		s.Color, s.Shape, s.Radius = seriesColor(1), draw.CrossGlyph{}, vg.Points(4)
		acc.Add(s)
		acc.Legend.Add("right after pruning", s)
	}
	for _, p := range []*plot.Plot{sp, acc} {
		p.X.Tick.Marker = integerTicks{}
		p.X.Min, p.X.Max = -0.3, float64(cs[len(cs)-1].Cycle)+0.3
	}
	placeLegend(sp, spSeries...)
	placeLegend(acc, after, before)

	kept := newPlot("kept weights per layer (final)", "", "kept (%)")
	kept.Y.Tick.Marker = percentTicks{}
	var ours, han plotter.Values
	var names []string
	hk := train.HanKept[r.Arch()]
	for _, l := range layers {
		names = append(names, l.Layer)
		ours = append(ours, l.Kept())
		han = append(han, hk[l.Layer])
	}
	w := vg.Points(16)
	b1, err := plotter.NewBarChart(ours, w)
	if err != nil {
		return nil, err
	}
	b1.Color, b1.LineStyle.Width, b1.Offset = seriesColor(2), 0, -w/2
	kept.Add(b1)
	kept.Legend.Add(fmt.Sprintf("this run (%.1f%% pruned)", 100*cs[len(cs)-1].Sparsity), b1)
	if hk != nil {
		b2, err := plotter.NewBarChart(han, w)
		if err != nil {
			return nil, err
		}
		b2.Color, b2.LineStyle.Width, b2.Offset = color.Gray{170}, 0, w/2
		kept.Add(b2)
		kept.Legend.Add(fmt.Sprintf("Han et al. 2015 (%.0f%% pruned)", 100*train.HanSparsity), b2)
	}
	kept.NominalX(names...)
	kept.Y.Min, kept.Y.Max = 0, 1.15*math.Max(1e-3, math.Max(maxOf(ours), maxOf(han)))
	return &Figure{Name: "prune", Title: r.title("prune-retrain cycles"), W: 12 * vg.Inch, H: 4 * vg.Inch,
		Caption: "Pruned fraction and test accuracy per prune-retrain cycle (prune.jsonl), and the final kept fraction per layer beside Han et al.'s (Deep Compression, Tables 1 and 2).",
		Panels:  [][]*plot.Plot{{sp, acc, kept}}}, nil
}

func maxOf(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, x)
	}
	return m
}

// Sensitivity draws the test accuracy with one layer pruned at a time against its pruned
// fraction (nil without sensitivity.json), with the unpruned accuracy and the tolerance.
func Sensitivity(r *Run) (*Figure, error) {
	s := r.Sensitivity
	if s == nil || len(s.Layers) == 0 {
		return nil, nil
	}
	p := newPlot("test accuracy with only this layer pruned (no retraining)", "pruned fraction of the layer (%)", "accuracy (%)")
	p.X.Tick.Marker = percentTicks{}
	p.Y.Tick.Marker = percentTicks{}
	xmin, xmax := math.Inf(1), math.Inf(-1)
	var all []plotter.XYs
	if len(s.Layers[0].Sparsity) <= 12 {
		p.X.Tick.Marker = valueTicks(s.Layers[0].Sparsity)
	}
	for i, row := range s.Layers {
		var xy plotter.XYs
		for j := range row.Sparsity {
			xy = append(xy, plotter.XY{X: row.Sparsity[j], Y: row.Accuracy[j]})
			xmin, xmax = math.Min(xmin, row.Sparsity[j]), math.Max(xmax, row.Sparsity[j])
		}
		all = append(all, xy)
		name := fmt.Sprintf("%s (%d weights; suggest %.0f%%)", row.Layer, row.Weights, 100*row.Suggest)
		if err := addLine(p, name, xy, seriesColor(i), false, true); err != nil {
			return nil, err
		}
	}
	for _, h := range []struct {
		y    float64
		name string
		c    color.Color
	}{
		{s.BaseAccuracy, fmt.Sprintf("unpruned %.2f%%", 100*s.BaseAccuracy), color.Black},
		{s.BaseAccuracy - s.Tolerance, fmt.Sprintf("tolerance (-%.2f points)", 100*s.Tolerance), color.Gray{140}},
	} {
		l, err := plotter.NewLine(plotter.XYs{{X: xmin, Y: h.y}, {X: xmax, Y: h.y}})
		if err != nil {
			return nil, err
		}
		l.Color, l.Dashes = h.c, []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(l)
		p.Legend.Add(h.name, l)
		all = append(all, plotter.XYs{{X: xmin, Y: h.y}, {X: xmax, Y: h.y}})
	}
	placeLegend(p, all...)
	return &Figure{Name: "sensitivity", Title: r.title("pruning sensitivity"), W: 9 * vg.Inch, H: 5 * vg.Inch,
		Caption: "Test accuracy with one layer pruned by magnitude at a time, without retraining (sensitivity.json, from qat sensitivity); 'suggest' is the largest swept fraction within the tolerance.",
		Panels:  [][]*plot.Plot{{p}}}, nil
}

// histBins is the number of histogram bins over a layer's weight range.
const histBins = 80

// Weights draws a histogram of every quantized layer's weights (nil without a checkpoint): the
// kept weights in bins, the pruned ones (exactly zero, masked) as a red spike at zero, and
// the codebook's centroids as green lines.
func Weights(r *Run) (*Figure, error) {
	if r.Model == nil {
		return nil, nil
	}
	layers := r.Model.Quantized()
	if len(layers) == 0 {
		return nil, nil
	}
	cols := 2
	if len(layers)%3 == 0 || len(layers) > 4 {
		cols = 3
	}
	rows := (len(layers) + cols - 1) / cols
	panels := make([][]*plot.Plot, rows)
	for i := range panels {
		panels[i] = make([]*plot.Plot, cols)
	}
	for i, l := range layers {
		p, err := weightPanel(l)
		if err != nil {
			return nil, err
		}
		panels[i/cols][i%cols] = p
	}
	return &Figure{Name: "weights", Title: r.title("weight histograms"), W: vg.Length(cols) * 4.5 * vg.Inch, H: (vg.Length(rows)*3.4 + 0.4) * vg.Inch,
		Caption: "Per-layer weight histograms from the checkpoint: kept weights in bins, pruned weights (masked to exactly 0) as the red spike at zero (its height is clipped to the panel; the legend gives the count), cluster centroids as green lines.",
		Panels:  panels}, nil
}

func weightPanel(l nn.Quantized) (*plot.Plot, error) {
	w := l.Weights()
	var kept plotter.Values
	pruned := 0
	for i, v := range w.Data {
		if w.Mask != nil && w.Mask[i] == 0 {
			pruned++
			continue
		}
		kept = append(kept, float64(v))
	}
	p := newPlot(fmt.Sprintf("%s: %d weights", l.Name(), len(w.Data)), "weight value", "count")
	p.Y.Tick.Marker = countTicks{}
	p.Legend.Top = true
	if len(kept) == 0 {
		return p, nil
	}
	lo, hi := slices.Min(kept), slices.Max(kept)
	if lo == hi {
		lo, hi = lo-1e-3, hi+1e-3
	}
	lo, hi = math.Min(lo, 0), math.Max(hi, 0)
	width := (hi - lo) / histBins
	bins := make([]plotter.HistogramBin, histBins)
	for i := range bins {
		bins[i].Min, bins[i].Max = lo+float64(i)*width, lo+float64(i+1)*width
	}
	for _, v := range kept {
		i := min(int((v-lo)/width), histBins-1)
		bins[i].Weight++
	}
	peak := 0.0
	for _, b := range bins {
		peak = math.Max(peak, b.Weight)
	}
	h := &plotter.Histogram{Bins: bins, Width: width, FillColor: color.RGBA{R: 70, G: 110, B: 180, A: 255}, LineStyle: draw.LineStyle{Color: color.RGBA{R: 40, G: 70, B: 130, A: 255}, Width: vg.Points(0.5)}}
	p.Add(h)
	p.Legend.Add(fmt.Sprintf("kept: %d", len(kept)), h)
	top := 1.12 * peak
	if pruned > 0 {
		height := math.Min(float64(pruned), top)
		sw := math.Max(width, (hi-lo)/150)
		poly, err := plotter.NewPolygon(plotter.XYs{{X: -sw / 2, Y: 0}, {X: sw / 2, Y: 0}, {X: sw / 2, Y: height}, {X: -sw / 2, Y: height}})
		if err != nil {
			return nil, err
		}
		poly.Color, poly.LineStyle.Width = color.RGBA{R: 210, G: 30, B: 30, A: 255}, 0
		p.Add(poly)
		clip := ""
		if float64(pruned) > top {
			clip = ", bar clipped"
		}
		p.Legend.Add(fmt.Sprintf("pruned to 0: %d (%.1f%%%s)", pruned, 100*float64(pruned)/float64(len(w.Data)), clip), poly)
	}
	if w.Shared != nil {
		first := true
		for _, c := range w.Shared.Centroids.Data {
			ln, err := plotter.NewLine(plotter.XYs{{X: float64(c), Y: 0}, {X: float64(c), Y: top}})
			if err != nil {
				return nil, err
			}
			ln.Color, ln.Width, ln.Dashes = color.RGBA{G: 150, B: 60, A: 255}, vg.Points(1), []vg.Length{vg.Points(3), vg.Points(2)}
			p.Add(ln)
			if first {
				p.Legend.Add(fmt.Sprintf("centroids: %d", len(w.Shared.Centroids.Data)), ln)
				first = false
			}
		}
	}
	p.Y.Min, p.Y.Max = 0, top*1.25 // room for the legend
	return p, nil
}
