package nn

import (
	"testing"

	"github.com/qatgo/qatgo/autograd"
)

// BenchmarkTrainStep measures one forward+backward pass of LeNet-5 at batch 64, in float and
// in W8A8 QAT; images/s is reported as a metric.
func BenchmarkTrainStep(b *testing.B) {
	for _, mode := range []autograd.Mode{autograd.ModeFloat, autograd.ModeTrain} {
		b.Run(mode.String(), func(b *testing.B) {
			m, err := LeNet5(DefaultConfig(), 1)
			if err != nil {
				b.Fatal(err)
			}
			gr, err := m.NewGraph(64, true)
			if err != nil {
				b.Fatal(err)
			}
			defer gr.Close()
			m.SetMode(mode)
			fillInput(gr, 1)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := gr.Run(); err != nil {
					b.Fatal(err)
				}
				gr.ZeroGrad()
			}
			b.ReportMetric(float64(64*b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}
