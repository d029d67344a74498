package autograd

import (
	"fmt"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Mask adds y = w ⊙ m, the pruning mask m applied elementwise to the weights w (m in row-major
// order, len(m) = w's size, every m_i exactly 0 or 1). Gradient: dw = dy ⊙ m.
//
// The forward pass selects rather than multiplies: y_i = w_i where m_i = 1 and y_i = +0 where
// m_i = 0, so a pruned weight is exactly zero even if w_i is Inf or NaN, and its gradient is
// exactly zero whatever dy is. Pruned weights therefore neither contribute to the output nor
// move under any optimizer without weight decay (and decay keeps a zero at zero).
//
// The op keeps a reference to mask, not a copy: a caller that prunes more weights between
// steps writes the new zeros into the same slice, and the next run of the graph (forward and
// backward) uses them without rebuilding it. The values are checked when the graph is built and
// again on every run (an error then, never a panic). Do not write the mask while a run is under
// way: the forward and the backward pass could see different masks.
func Mask(w *gorgonia.Node, mask []float32) (*gorgonia.Node, error) {
	if w.Dtype() != tensor.Float32 {
		return nil, fmt.Errorf("autograd: Mask: want float32 weights, got %v", w.Dtype())
	}
	if n := w.Shape().TotalSize(); n != len(mask) {
		return nil, fmt.Errorf("autograd: Mask: %d mask values for weights of shape %v (%d values)", len(mask), w.Shape(), n)
	}
	if err := checkMask(mask); err != nil {
		return nil, err
	}
	return gorgonia.ApplyOp(&maskOp{opBase: sameShapeOp("Mask", 1, 0), mask: mask}, w)
}

// checkMask reports the first mask value that is neither 0 nor 1.
func checkMask(mask []float32) error {
	for i, m := range mask {
		if m != 0 && m != 1 {
			return fmt.Errorf("autograd: Mask: mask[%d] = %g, want 0 or 1", i, m)
		}
	}
	return nil
}

// applyMask writes y_i = x_i where m_i = 1 and +0 where m_i = 0 (the forward pass, and with x =
// dy the backward pass). len(x) = len(y) = len(mask).
func applyMask(y, x, mask []float32) error {
	if len(x) != len(mask) {
		return fmt.Errorf("autograd: Mask: %d values for a mask of %d", len(x), len(mask))
	}
	for i, m := range mask {
		switch m {
		case 1:
			y[i] = x[i]
		case 0:
			y[i] = 0
		default:
			return fmt.Errorf("autograd: Mask: mask[%d] = %g, want 0 or 1", i, m)
		}
	}
	return nil
}

// maskOp is y = w ⊙ mask; it shares mask with its caller.
type maskOp struct {
	opBase
	mask []float32
}

func (op *maskOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a)
}
func (op *maskOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	w, shape, err := floats(vs[0])
	if err != nil {
		return nil, err
	}
	out := newF32(shape)
	if err := applyMask(out.Data().([]float32), w, op.mask); err != nil {
		return nil, err
	}
	return out, nil
}
func (op *maskOp) DiffWRT(int) []bool { return []bool{true} }
func (op *maskOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	dw, err := gorgonia.ApplyOp(&maskOp{opBase: sameShapeOp("MaskGrad", 1, 0), mask: op.mask}, grad)
	return gorgonia.Nodes{dw}, err
}
