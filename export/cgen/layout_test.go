package cgen

import (
	"math/rand/v2"
	"testing"
)

// decode rebuilds the dense rows x cols weights from w the way the
// generated C reads them: dense index by index, sparse row by row through
// the row offsets and the taps.
func decode(w *weights) []int8 {
	out := make([]int8, w.rows*w.cols)
	if !w.layout.sparse() {
		for i := range out {
			out[i] = w.weightAt(i)
		}
		return out
	}
	for r := range w.rows {
		k := 0
		for e := w.rowPtr[r]; e < w.rowPtr[r+1]; e++ {
			if w.layout == SparseDelta8 {
				k += int(w.delta[e])
			} else {
				k = int(w.tap[e])
			}
			if v := w.weightAt(e); v != 0 || out[r*w.cols+k] == 0 {
				out[r*w.cols+k] += v // fillers add 0
			}
		}
	}
	return out
}

// TestLayouts encodes random weights (dense, pruned to long gaps, clustered,
// 2 to 8 bits, rows of 1 to 700 taps) in every layout the layer admits and
// decodes them back; the automatic choice must be the smallest.
func TestLayouts(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	seen := map[Layout]int{}
	for i := range 300 {
		bits := 2 + rng.IntN(7)
		rows, cols := 1+rng.IntN(20), 1+rng.IntN(700)
		wmax := 1<<(bits-1) - 1
		keep := []float64{1, 0.5, 0.05, 0.003, 0}[i%5]
		book := []int{}
		if i%3 == 0 { // clustered: at most 16 values
			for range 1 + rng.IntN(16) {
				book = append(book, rng.IntN(2*wmax+1)-wmax)
			}
		}
		ws := make([]int8, rows*cols)
		for j := range ws {
			if rng.Float64() >= keep {
				continue
			}
			if len(book) > 0 {
				ws[j] = int8(book[rng.IntN(len(book))])
			} else {
				ws[j] = int8(rng.IntN(2*wmax+1) - wmax)
			}
		}
		if i%7 == 0 {
			ws[len(ws)-1] = int8(wmax) // a tap at the end of the last row
		}
		best := -1
		for _, l := range candidates(ws, bits, cols) {
			w, err := encodeWeights(ws, rows, cols, bits, l)
			if err != nil {
				t.Fatal(err)
			}
			seen[l]++
			got := decode(w)
			for j := range ws {
				if got[j] != ws[j] {
					t.Fatalf("case %d, %v: weight %d decodes to %d, want %d", i, l, j, got[j], ws[j])
				}
			}
			if best < 0 || w.bytes() < best {
				best = w.bytes()
			}
		}
		auto, err := encodeWeights(ws, rows, cols, bits, LayoutAuto)
		if err != nil {
			t.Fatal(err)
		}
		if auto.bytes() != best {
			t.Errorf("case %d: auto picked %v with %d bytes, the smallest has %d", i, auto.layout, auto.bytes(), best)
		}
	}
	for _, l := range []Layout{DenseInt8, DenseInt4, DenseCodebook4, SparseDelta8, SparseTap16} {
		if seen[l] == 0 {
			t.Errorf("layout %v never tried", l)
		}
	}
}

// TestIdentifier checks the C names made from model names.
func TestIdentifier(t *testing.T) {
	for in, want := range map[string]string{"LeNet-5": "lenet_5", "": "model", "5x": "m_5x", "a b.c": "a_b_c"} {
		if got := identifier(in); got != want {
			t.Errorf("identifier(%q) = %q, want %q", in, got, want)
		}
	}
}
