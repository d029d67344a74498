package synth

import (
	"slices"
	"testing"
)

// The set has the documented shape, every class, and is the same for the same seed only.
func TestSquares(t *testing.T) {
	a, err := Squares(200, 1)
	if err != nil {
		t.Fatal(err)
	}
	if a.N != 200 || a.Classes != Classes || a.Channels != Channels || a.Rows != Height || a.Cols != Width {
		t.Fatalf("shape: N=%d classes=%d channels=%d %dx%d", a.N, a.Classes, a.Channels, a.Rows, a.Cols)
	}
	seen := map[int]int{}
	for _, l := range a.Labels {
		seen[int(l)]++
	}
	if len(seen) != Classes {
		t.Errorf("classes present: %v", seen)
	}
	b, _ := Squares(200, 1)
	c, _ := Squares(200, 2)
	if !slices.Equal(a.Images, b.Images) || slices.Equal(a.Images, c.Images) {
		t.Error("Squares is not a function of its seed")
	}
}
