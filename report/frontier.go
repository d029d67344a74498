package report

import (
	"fmt"
	"image/color"
	"math"
	"path/filepath"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/export/qnet"
)

// Point is one model on the accuracy-vs-bytes plane.
type Point struct {
	Run      string  `json:"run"`
	Label    string  `json:"label"`
	File     string  `json:"file,omitempty"`
	Bytes    int64   `json:"bytes"`
	Accuracy float64 `json:"test_accuracy"`
	Images   int     `json:"images,omitempty"` // test images of the integer evaluation
	// Measured says where the accuracy comes from.
	Measured string `json:"measured"`
}

// EvalOptions say on which test images the integer model files are evaluated.
type EvalOptions struct {
	DataDir   string // MNIST idx directory ("": the copy shipped in the GoMNIST module)
	TestLimit int    // the first N test images (0: all)
}

// Points places the runs on the accuracy-vs-bytes plane: every integer model file (*.qat) at
// its file size, with its accuracy measured here by the integer engine on the test set; a
// float run without one at its float32 parameter bytes (4 per parameter) with the run's last
// test accuracy. Quantized runs without a model file are left out, with a note saying so.
func Points(runs []*Run, opt EvalOptions) ([]Point, []string, error) {
	var pts []Point
	var notes []string
	var test *data.Set
	for _, r := range runs {
		label := r.Name
		if k := r.Kind(); k != "" {
			label += ": " + k
		}
		for _, mf := range r.Models {
			if test == nil {
				_, t, err := data.Load(opt.DataDir)
				if err != nil {
					return nil, nil, err
				}
				if opt.TestLimit > 0 {
					t = t.Subset(opt.TestLimit)
				}
				test = t
			}
			acc, err := Accuracy(mf.Model, test)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", mf.Path, err)
			}
			l := label
			if len(r.Models) > 1 || r.Checkpoint == nil {
				l = r.Name + "/" + filepath.Base(mf.Path)
			}
			if mf.Bytes <= 0 {
				continue
			}
			pts = append(pts, Point{Run: r.Dir, Label: l, File: mf.Path, Bytes: mf.Bytes, Accuracy: acc, Images: test.N,
				Measured: "integer engine on the file"})
		}
		if len(r.Models) > 0 || r.Checkpoint == nil {
			continue
		}
		acc, ok := r.LastAccuracy()
		switch {
		case !ok:
			notes = append(notes, fmt.Sprintf("%s: no evaluation recorded, left out of the frontier", r.Dir))
		case r.Checkpoint.Config.Mode == "float":
			pts = append(pts, Point{Run: r.Dir, Label: label, Bytes: int64(4 * r.Model.NumWeights()), Accuracy: acc,
				Measured: "float32 parameter bytes; the run's last test evaluation"})
		default:
			notes = append(notes, fmt.Sprintf("%s: no .qat file (qat export --from %s --out %s), left out of the frontier",
				r.Dir, r.Dir, filepath.Join(r.Dir, "model.qat")))
		}
	}
	return pts, notes, nil
}

// Accuracy is the fraction of the test images the integer model classifies correctly.
func Accuracy(m *qnet.Model, test *data.Set) (float64, error) {
	if err := m.Validate(); err != nil {
		return 0, err
	}
	if err := test.CheckInput(m.InC, m.InH, m.InW); err != nil {
		return 0, err
	}
	if test.N == 0 {
		return 0, fmt.Errorf("no test images")
	}
	pred := make([]int, test.N)
	m.NewRunner().PredictBatch(test.Images[:test.N*test.ImageSize()], test.N, pred)
	correct := 0
	for i, p := range pred {
		if p == int(test.Labels[i]) {
			correct++
		}
	}
	return float64(correct) / float64(test.N), nil
}

// Pareto returns the points no other point beats in both bytes and accuracy, by bytes.
func Pareto(pts []Point) []Point {
	s := append([]Point(nil), pts...)
	sort.SliceStable(s, func(i, j int) bool {
		if s[i].Bytes != s[j].Bytes {
			return s[i].Bytes < s[j].Bytes
		}
		return s[i].Accuracy > s[j].Accuracy
	})
	var out []Point
	best := math.Inf(-1)
	for _, p := range s {
		if p.Accuracy > best {
			out = append(out, p)
			best = p.Accuracy
		}
	}
	return out
}

// Frontier draws test accuracy against model bytes (log scale) for the points, with the
// Pareto frontier as a line (nil with fewer than two points).
func Frontier(pts []Point) (*Figure, error) {
	if len(pts) < 2 {
		return nil, nil
	}
	p := newPlot("test accuracy vs model bytes (top left is better)", "model bytes (log scale)", "test accuracy (%)")
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = bytesTicks{}
	p.Y.Tick.Marker = percentTicks{}
	p.Legend.Top, p.Legend.Left = false, false
	front := Pareto(pts)
	if len(front) > 1 {
		var xy plotter.XYs
		for _, q := range front {
			xy = append(xy, plotter.XY{X: float64(q.Bytes), Y: q.Accuracy})
		}
		l, err := plotter.NewLine(xy)
		if err != nil {
			return nil, err
		}
		l.Color, l.Width, l.Dashes = color.Gray{120}, vg.Points(1), []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(l)
		p.Legend.Add("Pareto frontier", l)
	}
	ymin, ymax := math.Inf(1), math.Inf(-1)
	xmin, xmax := math.Inf(1), math.Inf(-1)
	for _, q := range pts {
		ymin, ymax = math.Min(ymin, q.Accuracy), math.Max(ymax, q.Accuracy)
		xmin, xmax = math.Min(xmin, float64(q.Bytes)), math.Max(xmax, float64(q.Bytes))
	}
	// Room for the labels right of the points, and above and below them.
	span := math.Max(ymax-ymin, 0.01)
	p.Y.Min, p.Y.Max = ymin-0.15*span, ymax+0.15*span
	p.X.Min, p.X.Max = xmin/1.6, xmax*6
	// Labels in the points' colors, right of them; a label that would overlap one placed
	// before (higher accuracy first) moves down a line.
	decades := math.Log10(p.X.Max / p.X.Min)
	line := 0.045 * (p.Y.Max - p.Y.Min)
	order := make([]int, len(pts))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return pts[order[a]].Accuracy > pts[order[b]].Accuracy })
	var placed []plotter.XY
	lb := &plotter.Labels{Offset: vg.Point{X: vg.Points(7)}}
	for _, i := range order {
		q := pts[i]
		c := seriesColor(i)
		s, err := plotter.NewScatter(plotter.XYs{{X: float64(q.Bytes), Y: q.Accuracy}})
		if err != nil {
			return nil, err
		}
		s.Color, s.Shape, s.Radius = c, draw.CircleGlyph{}, vg.Points(4)
		p.Add(s)
		at := plotter.XY{X: float64(q.Bytes), Y: q.Accuracy}
		for moved := true; moved; {
			moved = false
			for _, o := range placed {
				if math.Abs(math.Log10(at.X/o.X)) < 0.4*decades && math.Abs(at.Y-o.Y) < 0.99*line {
					at.Y, moved = o.Y-line, true
				}
			}
		}
		placed = append(placed, at)
		lb.XYs = append(lb.XYs, at)
		lb.Labels = append(lb.Labels, fmt.Sprintf("%s (%s, %.2f%%)", q.Label, humanBytes(q.Bytes), 100*q.Accuracy))
		sty := p.Title.TextStyle
		sty.Font.Size, sty.Color, sty.XAlign, sty.YAlign = vg.Points(8.5), c, draw.XLeft, draw.YCenter
		lb.TextStyle = append(lb.TextStyle, sty)
	}
	p.Add(lb)
	p.Y.Min = math.Min(p.Y.Min, placed[len(placed)-1].Y-line)
	return &Figure{Name: "frontier", Title: fmt.Sprintf("accuracy vs model size — %d models", len(pts)), W: 10 * vg.Inch, H: 5.5 * vg.Inch,
		Caption: "Test accuracy against model bytes: integer model files (.qat) evaluated by the integer engine; float runs at 4 bytes per parameter with their last evaluation. The dashed line joins the Pareto-optimal models.",
		Panels:  [][]*plot.Plot{{p}}}, nil
}

// bytesTicks labels a log axis of bytes at 1, 2 and 5 times powers of ten.
type bytesTicks struct{}

func (bytesTicks) Ticks(min, max float64) []plot.Tick {
	var ts []plot.Tick
	for e := math.Floor(math.Log10(min)); e <= math.Ceil(math.Log10(max)); e++ {
		for _, m := range []float64{1, 2, 5} {
			v := m * math.Pow(10, e)
			if v < min || v > max {
				continue
			}
			ts = append(ts, plot.Tick{Value: v, Label: humanBytes(int64(v))})
		}
	}
	return ts
}

// humanBytes writes n as B, KB or MB (powers of 1000, as Deep Compression's tables).
func humanBytes(n int64) string {
	switch {
	case n >= 1_000_000:
		return fmt.Sprintf("%.3g MB", float64(n)/1e6)
	case n >= 1000:
		return fmt.Sprintf("%.3g KB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}
