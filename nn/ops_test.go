package nn

import (
	"math"
	"testing"

	"github.com/qatgo/qatgo/autograd"
)

// qatgo's conv and pool ops compute what gorgonia's stock ops compute: the same loss, logits
// and parameter gradients on LeNet-5 (float and QAT) within float32 tolerance.
func TestFastOpsMatchStock(t *testing.T) {
	for _, mode := range []autograd.Mode{autograd.ModeFloat, autograd.ModeTrain} {
		var losses []float32
		var grads [][][]float32
		for _, ops := range []Ops{OpsGorgonia, OpsFast} {
			m, err := LeNet5(DefaultConfig(), 3)
			if err != nil {
				t.Fatal(err)
			}
			m.Ops = ops
			m.SetMode(mode)
			gr, err := m.NewGraph(8, true)
			if err != nil {
				t.Fatal(err)
			}
			fillInput(gr, 2)
			loss, err := gr.Run()
			if err != nil {
				t.Fatal(err)
			}
			losses = append(losses, loss)
			var gs [][]float32
			for i := range gr.Params {
				g, err := gr.Grad(i)
				if err != nil {
					t.Fatal(err)
				}
				gs = append(gs, append([]float32(nil), g...))
			}
			grads = append(grads, gs)
			gr.Close()
		}
		if d := math.Abs(float64(losses[0] - losses[1])); d > 1e-4*math.Abs(float64(losses[0])) {
			t.Errorf("%v: loss %v (gorgonia) vs %v (fast)", mode, losses[0], losses[1])
		}
		for i := range grads[0] {
			var maxAbs, maxDiff float64
			for j, g := range grads[0][i] {
				maxAbs = math.Max(maxAbs, math.Abs(float64(g)))
				maxDiff = math.Max(maxDiff, math.Abs(float64(g-grads[1][i][j])))
			}
			if maxAbs == 0 || maxDiff > 1e-3*maxAbs {
				t.Errorf("%v: parameter %d gradient differs by %g (max |g| %g)", mode, i, maxDiff, maxAbs)
			}
		}
	}
}
