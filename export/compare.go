package export

import (
	"fmt"
	"io"
	"math"
	"time"

	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/export/qnet"
	"github.com/qatgo/qatgo/fakequant"
	"github.com/qatgo/qatgo/nn"
	"github.com/qatgo/qatgo/train"
	"github.com/schollz/progressbar/v3"
)

// Report is the fidelity of an integer model against its fake-quant simulation.
type Report struct {
	Images      int           `json:"images"`
	SimAccuracy float64       `json:"sim_accuracy"`
	IntAccuracy float64       `json:"int_accuracy"`
	Agreement   float64       `json:"agreement"` // fraction of images with equal predictions
	Layers      []LayerReport `json:"layers"`
}

// LayerReport compares one layer's activations.
type LayerReport struct {
	Name string `json:"name"`
	// MaxSteps is the largest |q_sim - q_int| over all activations, in quantization steps.
	MaxSteps int `json:"max_steps"`
	// Differing is the fraction of activations that differ at all.
	Differing float64 `json:"differing"`
}

// Compare evaluates the simulation (m in frozen eval mode, graph batch `batch`) and the integer
// model on the first limit images of s (all if limit <= 0). With progress non-nil it draws a
// progress bar there.
func Compare(m *nn.Model, qm *qnet.Model, s *data.Set, limit, batch int, progress io.Writer) (*Report, error) {
	defer evalMode(m)()
	gr, err := m.NewGraph(batch, false)
	if err != nil {
		return nil, err
	}
	defer gr.Close()

	// Map the simulation's layers to the integer layers (Flatten has no integer twin) and
	// find the output grid of each.
	type probe struct {
		name   string
		sim    int // index into m.Layers
		params fakequant.Params
		count  int64
		diff   int64
		max    int
	}
	var probes []*probe
	in := m.InQ.Params()
	for i, l := range m.Layers {
		if _, ok := l.(*nn.Flatten); ok {
			continue
		}
		if q, ok := l.(nn.Quantized); ok {
			in = q.Quant().Out.Params()
		}
		probes = append(probes, &probe{name: l.Name(), sim: i, params: in})
	}
	if len(probes) != len(qm.Layers) {
		return nil, fmt.Errorf("export: model has %d integer layers, simulation %d", len(qm.Layers), len(probes))
	}

	if err := s.CheckInput(m.InC, m.InH, m.InW); err != nil {
		return nil, err
	}
	if err := s.CheckLabels(m.Classes); err != nil {
		return nil, err
	}
	n := s.N
	if limit > 0 && limit < n {
		n = limit
	}
	var bar *progressbar.ProgressBar
	if progress != nil {
		bar = progressbar.NewOptions(n, progressbar.OptionSetWriter(progress),
			progressbar.OptionSetDescription("simulation vs integer"), progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(250*time.Millisecond),
			progressbar.OptionSetWidth(20), progressbar.OptionOnCompletion(func() { fmt.Fprintln(progress) }))
	}
	run := qm.NewRunner()
	simOK, intOK, agree := 0, 0, 0
	k := m.Classes
	err = train.ForEachBatch(gr, s, limit, func(first, cnt int) error {
		logits := gr.LogitsData()
		for i := 0; i < cnt; i++ {
			trace := run.Trace(s.Image(first + i))
			for li, p := range probes {
				out := trace[li]
				sim := gr.OutputData(p.sim)[i*len(out) : (i+1)*len(out)]
				for j, v := range sim {
					qs := int(math.Round(float64(v)/p.params.Scale)) + int(p.params.ZeroPoint)
					d := qs - int(out[j])
					if d < 0 {
						d = -d
					}
					if d != 0 {
						p.diff++
					}
					p.max = max(p.max, d)
				}
				p.count += int64(len(out))
			}
			label := int(s.Labels[first+i])
			sp := train.Argmax(logits[i*k : (i+1)*k])
			ip := qnet.Argmax(trace[len(trace)-1])
			if sp == label {
				simOK++
			}
			if ip == label {
				intOK++
			}
			if sp == ip {
				agree++
			}
		}
		if bar != nil {
			bar.Add(cnt)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rep := &Report{Images: n}
	rep.SimAccuracy = float64(simOK) / float64(n)
	rep.IntAccuracy = float64(intOK) / float64(n)
	rep.Agreement = float64(agree) / float64(n)
	for _, p := range probes {
		rep.Layers = append(rep.Layers, LayerReport{Name: p.name, MaxSteps: p.max, Differing: float64(p.diff) / float64(max(p.count, 1))})
	}
	return rep, nil
}
