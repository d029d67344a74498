package train

import (
	"testing"

	"github.com/qatgo/qatgo/autograd"
	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/nn"
)

// BenchmarkTrainStep times one LeNet-5 training step at batch 64 (forward, backward, Adam) with
// qatgo's fast ops, in float and in QAT W8A8 with activations quantized from the first step:
// the unit `qat bench` extrapolates to an epoch. Profile with -cpuprofile.
func BenchmarkTrainStep(b *testing.B) {
	set, _, err := data.Load("")
	if err != nil {
		b.Fatal(err)
	}
	for _, mode := range []autograd.Mode{autograd.ModeFloat, autograd.ModeTrain} {
		b.Run(mode.String(), func(b *testing.B) {
			q := nn.DefaultConfig()
			q.Delay = 0
			m, err := nn.New("lenet5", q, 1)
			if err != nil {
				b.Fatal(err)
			}
			m.FoldBN = mode != autograd.ModeFloat
			gr, err := m.NewGraph(64, true)
			if err != nil {
				b.Fatal(err)
			}
			defer gr.Close()
			opt, params, grads := adamFor(gr)
			m.SetMode(mode)
			bt := data.NewBatcher(set, 64, true, 1)
			perm := bt.Epoch(0)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				bt.Fill(perm, i%bt.NumBatches(), gr.Input(), gr.Targets(), nil)
				if _, err := gr.Run(); err != nil {
					b.Fatal(err)
				}
				if err := step(gr, opt, params, grads, 1e-3); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(60000/64*b.Elapsed().Seconds()/float64(b.N), "s/epoch")
		})
	}
}

// adamFor returns a fresh Adam optimizer for gr's parameters, the parameter slices and room
// for their gradients: what step needs.
func adamFor(gr *nn.Graph) (Optimizer, [][]float32, [][]float32) {
	sizes := make([]int, len(gr.Params))
	params := make([][]float32, len(gr.Params))
	for i, p := range gr.Params {
		sizes[i], params[i] = p.Size(), p.Data
	}
	opt, _ := NewOptimizer("adam", 0, 0, sizes)
	return opt, params, make([][]float32, len(gr.Params))
}
