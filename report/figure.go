package report

import (
	"bytes"
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/qatgo/qatgo/export/qnet"
)

// DPI is the resolution of the PNG pictures: a figure of W x H inches is W*DPI x H*DPI pixels.
const DPI = 100

// Formats are the picture formats written for every figure.
var Formats = []string{"png", "svg"}

// Figure is one picture: a grid of panels under a title.
type Figure struct {
	Name    string // file name without extension
	Title   string // drawn above the panels
	Caption string // one line for the report
	Panels  [][]*plot.Plot
	W, H    vg.Length
}

// Pixels is the PNG size of f.
func (f *Figure) Pixels() (w, h int) {
	return int(float64(f.W/vg.Inch)*DPI + 0.5), int(float64(f.H/vg.Inch)*DPI + 0.5)
}

const titleHeight = 28 // points above the panels when the figure has a title

// Render draws f in format "png" or "svg".
func (f *Figure) Render(format string) ([]byte, error) {
	var c vg.CanvasWriterTo
	switch format {
	case "png":
		c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(f.W, f.H), vgimg.UseDPI(DPI))}
	case "svg":
		c = vgsvg.New(f.W, f.H)
	default:
		return nil, fmt.Errorf("report: unknown picture format %q (have png, svg)", format)
	}
	dc := draw.New(c)
	dc.SetColor(color.White)
	dc.Fill(dc.Rectangle.Path())
	rows := len(f.Panels)
	cols := 0
	for _, r := range f.Panels {
		cols = max(cols, len(r))
	}
	grid := make([][]*plot.Plot, rows)
	for i := range grid {
		grid[i] = make([]*plot.Plot, cols)
		copy(grid[i], f.Panels[i])
	}
	t := draw.Tiles{Rows: rows, Cols: cols, PadX: vg.Points(14), PadY: vg.Points(14),
		PadTop: vg.Points(6), PadBottom: vg.Points(6), PadLeft: vg.Points(6), PadRight: vg.Points(10)}
	if f.Title != "" {
		t.PadTop += vg.Points(titleHeight)
		sty := text.Style{Color: color.Black, Font: font.From(plot.DefaultFont, 15), XAlign: draw.XCenter, YAlign: draw.YTop, Handler: plot.DefaultTextHandler}
		dc.FillText(sty, vg.Point{X: dc.Center().X, Y: dc.Max.Y - vg.Points(8)}, f.Title)
	}
	for i, row := range plot.Align(grid, t, dc) {
		for j, cv := range row {
			if grid[i][j] != nil {
				grid[i][j].Draw(cv)
			}
		}
	}
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Save writes f as dir/NAME.png and dir/NAME.svg (atomically) and returns the paths.
func (f *Figure) Save(dir string) ([]string, error) {
	var paths []string
	for _, format := range Formats {
		b, err := f.Render(format)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		p := filepath.Join(dir, f.Name+"."+format)
		if err := qnet.WriteAtomic(p, func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
			return nil, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}

// newPlot is a panel with a grid, the given title and axis labels.
func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	p.Legend.TextStyle.Font.Size = vg.Points(9)
	return p
}

// color returns the i-th series color (dark, readable on white).
func seriesColor(i int) color.Color {
	return plotutil.DarkColors[i%len(plotutil.DarkColors)]
}

// line adds a line with points to p and to its legend (if name is not empty).
func addLine(p *plot.Plot, name string, xys plotter.XYs, c color.Color, dashed bool, glyph bool) error {
	l, s, err := plotter.NewLinePoints(xys)
	if err != nil {
		return err
	}
	l.Color, l.Width = c, vg.Points(1.5)
	if dashed {
		l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	}
	s.Color = c
	s.Radius = vg.Points(2)
	if !glyph {
		s.Radius = 0
	}
	p.Add(l, s)
	if name != "" {
		if glyph {
			p.Legend.Add(name, l, s)
		} else {
			p.Legend.Add(name, l)
		}
	}
	return nil
}

// percentTicks labels a fraction axis in percent, with as many decimals as the spacing of the
// labelled ticks needs.
type percentTicks struct{}

func (percentTicks) Ticks(min, max float64) []plot.Tick {
	return relabel(plot.DefaultTicks{}.Ticks(min, max), 100, "")
}

// countTicks labels a count axis with whole numbers.
type countTicks struct{}

func (countTicks) Ticks(min, max float64) []plot.Tick {
	return relabel(plot.DefaultTicks{}.Ticks(min, max), 1, "")
}

// valueTicks labels the given values only (a sweep's levels), in percent.
type valueTicks []float64

func (v valueTicks) Ticks(min, max float64) []plot.Tick {
	var ts []plot.Tick
	for _, x := range v {
		if x >= min && x <= max {
			ts = append(ts, plot.Tick{Value: x, Label: strconv.FormatFloat(100*x, 'f', -1, 64)})
		}
	}
	return ts
}

// relabel writes the labelled ticks' values times scale with the decimals their spacing needs.
func relabel(ts []plot.Tick, scale float64, suffix string) []plot.Tick {
	var labelled []float64
	for _, t := range ts {
		if t.Label != "" {
			labelled = append(labelled, t.Value*scale)
		}
	}
	// The fewest decimals that write every labelled value exactly.
	prec := 0
	for ; prec < 4; prec++ {
		exact := true
		for _, v := range labelled {
			x := v * math.Pow(10, float64(prec))
			exact = exact && math.Abs(x-math.Round(x)) < 1e-6*math.Max(1, math.Abs(x))
		}
		if exact {
			break
		}
	}
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = strconv.FormatFloat(ts[i].Value*scale, 'f', prec, 64) + suffix
		}
	}
	return ts
}

// integerTicks marks only whole numbers (epochs, cycles).
type integerTicks struct{}

func (integerTicks) Ticks(min, max float64) []plot.Tick {
	if !(max-min <= 1000) {
		return plot.DefaultTicks{}.Ticks(min, max)
	}
	var ts []plot.Tick
	step := 1
	for (max-min)/float64(step) > 12 {
		step *= 2
	}
	for v := int(min); float64(v) <= max; v++ {
		if float64(v) < min {
			continue
		}
		if v%step == 0 {
			ts = append(ts, plot.Tick{Value: float64(v), Label: fmt.Sprint(v)})
		} else {
			ts = append(ts, plot.Tick{Value: float64(v)})
		}
	}
	return ts
}

// placeLegend puts p's legend into the corner of the data area that the series cross least
// (top right first), so it hides as little as possible. Call it after the axis ranges are set.
func placeLegend(p *plot.Plot, series ...plotter.XYs) {
	xr, yr := p.X.Max-p.X.Min, p.Y.Max-p.Y.Min
	if !(xr > 0) || !(yr > 0) {
		return
	}
	// Corners: top right, top left, bottom right, bottom left; each 45% wide, 35% high.
	var count [4]int
	hit := func(x, y float64) {
		u, v := (x-p.X.Min)/xr, (y-p.Y.Min)/yr
		for i, c := range [4][2]bool{{true, false}, {true, true}, {false, false}, {false, true}} {
			top, left := c[0], c[1]
			inX := (left && u <= 0.45) || (!left && u >= 0.55)
			inY := (top && v >= 0.65) || (!top && v <= 0.35)
			if inX && inY {
				count[i]++
			}
		}
	}
	for _, xy := range series {
		for i := range xy {
			hit(xy[i].X, xy[i].Y)
			if i+1 < len(xy) {
				for k := 1; k < 20; k++ {
					t := float64(k) / 20
					hit(xy[i].X+t*(xy[i+1].X-xy[i].X), xy[i].Y+t*(xy[i+1].Y-xy[i].Y))
				}
			}
		}
	}
	best := 0
	for i := range count {
		if count[i] < count[best] {
			best = i
		}
	}
	p.Legend.Top, p.Legend.Left = best < 2, best%2 == 1
}
