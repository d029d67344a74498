package nn

import (
	"math"
	"runtime"
	"testing"

	"github.com/qatgo/qatgo/autograd"
)

// A training step gives the same bits for the loss, the logits and every parameter gradient
// with 1, 2, 3 and 4 workers (GOMAXPROCS): the kernels cut elementwise work by the number of
// workers and reductions (conv dW, bias and ReLU-bias gradients) into a fixed number of parts
// added in a fixed order. LeNet-5 in float and QAT, and LeNet-5-BN in float (batch norm's own
// op), at a batch large enough for every op to split its work.
func TestStepBitIdenticalForAnyWorkerCount(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, tc := range []struct {
		arch string
		mode autograd.Mode
	}{{"lenet5", autograd.ModeFloat}, {"lenet5", autograd.ModeTrain}, {"lenet5-bn", autograd.ModeFloat}} {
		var want [][]float32
		for workers := 1; workers <= 4; workers++ {
			runtime.GOMAXPROCS(workers)
			m, err := Archs[tc.arch](DefaultConfig(), 5)
			if err != nil {
				t.Fatal(err)
			}
			m.SetMode(tc.mode)
			gr, err := m.NewGraph(64, true)
			if err != nil {
				t.Fatal(err)
			}
			var got [][]float32
			for step := range 2 {
				fillInput(gr, 7+step)
				loss, err := gr.Run()
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, []float32{loss}, append([]float32(nil), gr.LogitsData()...))
			}
			for i := range gr.Params {
				g, err := gr.Grad(i)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, append([]float32(nil), g...))
			}
			gr.Close()
			if workers == 1 {
				want = got
				continue
			}
			for i := range want {
				for j := range want[i] {
					if math.Float32bits(got[i][j]) != math.Float32bits(want[i][j]) {
						t.Fatalf("%s %v, %d workers: result %d[%d] = %g, with 1 worker %g", tc.arch, tc.mode, workers, i, j, got[i][j], want[i][j])
					}
				}
			}
		}
	}
}
