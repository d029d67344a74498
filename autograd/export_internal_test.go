package autograd

import "gorgonia.org/gorgonia"

// SetFuseSTE switches the hand-over of an activation FakeQuant's STE to a max pool gradient
// (fakeQuantOp.SymDiff) for graphs built afterwards, and returns the previous setting.
func SetFuseSTE(on bool) bool {
	old := fuseSTE
	fuseSTE = on
	return old
}

// FusedSTEs counts the FakeQuant gradients of g that pass their gradient through.
func FusedSTEs(g *gorgonia.ExprGraph) int {
	n := 0
	for _, node := range g.AllNodes() {
		if op, ok := node.Op().(*fakeQuantGradOp); ok && op.pass {
			n++
		}
	}
	return n
}

// SteBounds is steBounds: the float32 interval [lo32, hi32] of the values v with
// lo <= float64(v) <= hi, what the STE compares against.
func SteBounds(lo, hi float64) (float32, float32) { return steBounds(lo, hi) }
