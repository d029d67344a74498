package nn

import (
	"math"
	"testing"

	"github.com/qatgo/qatgo/autograd"
)

// fillInput writes a deterministic pseudo-image batch and labels.
func fillInput(gr *Graph, seed int) {
	x := gr.Input()
	for i := range x {
		x[i] = float32((i*7+seed*13)%256) / 255
	}
	if t := gr.Targets(); t != nil {
		clear(t)
		for n := 0; n < gr.Batch; n++ {
			t[n*gr.Model.Classes+(n+seed)%gr.Model.Classes] = 1
		}
	}
}

// The parameter nodes of every graph share Param.Data: a change to the slice is seen by the
// next run of every graph, and a run never replaces the backing.
func TestGraphsShareParams(t *testing.T) {
	m, err := LeNet5(DefaultConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := m.NewGraph(4, true)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := m.NewGraph(4, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []autograd.Mode{autograd.ModeFloat, autograd.ModeTrain, autograd.ModeEval} {
		m.SetMode(mode)
		fillInput(tr, 1)
		fillInput(ev, 1)
		loss, err := tr.Run()
		if err != nil {
			t.Fatal(err)
		}
		if math.IsNaN(float64(loss)) || loss <= 0 {
			t.Fatalf("%v: loss %v", mode, loss)
		}
		if _, err := ev.Run(); err != nil {
			t.Fatal(err)
		}
		a := append([]float32(nil), tr.LogitsData()...)
		// Scale fc2 weights by 2 through the shared slice: both graphs must see it.
		for i := range m.Params()[6].Data {
			m.Params()[6].Data[i] *= 2
		}
		if _, err := tr.Run(); err != nil {
			t.Fatal(err)
		}
		if _, err := ev.Run(); err != nil {
			t.Fatal(err)
		}
		changed := false
		for i, v := range tr.LogitsData() {
			if v != a[i] {
				changed = true
			}
			if mode != autograd.ModeTrain && v != ev.LogitsData()[i] {
				t.Fatalf("%v: train and eval graphs disagree at %d: %v vs %v", mode, i, v, ev.LogitsData()[i])
			}
		}
		if !changed {
			t.Fatalf("%v: changing Param.Data did not change the logits", mode)
		}
		g, err := tr.Grad(0)
		if err != nil {
			t.Fatal(err)
		}
		nz := 0
		for _, v := range g {
			if v != 0 {
				nz++
			}
		}
		if nz == 0 {
			t.Fatalf("%v: conv1 gradient is all zero", mode)
		}
		if err := tr.ZeroGrad(); err != nil {
			t.Fatal(err)
		}
	}
}
