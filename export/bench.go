package export

import (
	"runtime"
	"slices"
	"time"

	"github.com/qatgo/qatgo/autograd"
	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/export/qnet"
	"github.com/qatgo/qatgo/nn"
)

// InferSpeed is one inference-speed measurement.
type InferSpeed struct {
	// Engine is "float-graph", "integer" (the default runner: sparse kernels on layers where
	// they are cheaper) or "integer-dense" (the same file on the dense kernels only).
	Engine       string  `json:"engine"`
	Batch        int     `json:"batch"`
	Images       int     `json:"images"`
	ImagesPerSec float64 `json:"images_per_second"`
}

// BenchInference runs the first n images of s through the model's float forward (its gorgonia
// graph in float mode) and through the integer engine, at batch 1 and 64, on one thread
// (GOMAXPROCS 1 for the duration), in one process.
func BenchInference(m *nn.Model, qm *qnet.Model, s *data.Set, n int) ([]InferSpeed, error) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	old := m.Ctx.Mode
	defer m.SetMode(old)
	m.SetMode(autograd.ModeFloat)
	if err := s.CheckInput(m.InC, m.InH, m.InW); err != nil {
		return nil, err
	}
	n = min(n, s.N)
	var out []InferSpeed
	for _, batch := range []int{1, 64} {
		gr, err := m.NewGraph(batch, false)
		if err != nil {
			return nil, err
		}
		start := time.Now()
		done := 0
		for first := 0; first+batch <= n; first += batch {
			s.FillPadded(gr.Input(), first, batch)
			if _, err := gr.Run(); err != nil {
				return nil, err
			}
			done += batch
		}
		out = append(out, InferSpeed{Engine: "float-graph", Batch: batch, Images: done, ImagesPerSec: float64(done) / time.Since(start).Seconds()})
		gr.Close()
	}
	r := qm.NewRunner()
	out = append(out, benchInteger(r, "integer", s, n)...)
	// A pruned model: the same file on the dense kernels, for the sparse kernels' gain.
	if slices.Contains(r.SparseLayers(), true) {
		out = append(out, benchInteger(qm.NewRunnerWith(qnet.RunnerOptions{Path: qnet.PathDense}), "integer-dense", s, n)...)
	}
	return out, nil
}

// benchInteger times r on the first n images of s at batch 1 and 64.
func benchInteger(r *qnet.Runner, engine string, s *data.Set, n int) []InferSpeed {
	px := s.Rows * s.Cols
	start := time.Now()
	for i := 0; i < n; i++ {
		r.Predict(s.Image(i))
	}
	out := []InferSpeed{{Engine: engine, Batch: 1, Images: n, ImagesPerSec: float64(n) / time.Since(start).Seconds()}}
	dst := make([]int, 64)
	start = time.Now()
	done := 0
	for first := 0; first+64 <= n; first += 64 {
		r.PredictBatch(s.Images[first*px:(first+64)*px], 64, dst)
		done += 64
	}
	return append(out, InferSpeed{Engine: engine, Batch: 64, Images: done, ImagesPerSec: float64(done) / time.Since(start).Seconds()})
}
