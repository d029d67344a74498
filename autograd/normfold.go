package autograd

import (
	"fmt"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
)

// Input normalization folded into the first layer.
//
// A first layer trained on normalized pixels x = (p/255 - mean)/std computes, with no padding,
//
//	conv(x, w) + b = conv(p/255, w/std) + (b - (mean/std) * sum_{i,kh,kw} w[o,i,kh,kw])
//
// so the graph feeds raw p/255 (exact on the uint8 grid, scale 1/255, zero point 0) and folds
// the normalization into the weights and bias before they are quantized. The export calls the
// same two functions, so the folded values it quantizes are bit-identical to the simulated ones.

// FoldNormWeightsInto writes dst = w / std.
func FoldNormWeightsInto(dst, w []float32, std float64) {
	inv := float32(1 / std)
	for i, v := range w {
		dst[i] = v * inv
	}
}

// FoldNormBiasInto writes dst[o] = b[o] - (mean/std) * sum of filter o of w (len(w)/len(b) values).
func FoldNormBiasInto(dst, b, w []float32, mean, std float64) {
	per := len(w) / len(b)
	k := mean / std
	for o := range b {
		var s float64
		for _, v := range w[o*per : (o+1)*per] {
			s += float64(v)
		}
		dst[o] = float32(float64(b[o]) - k*s)
	}
}

// FoldNormWeightsNode adds wf = w/std to w's graph; dw = dwf/std.
func FoldNormWeightsNode(w *gorgonia.Node, std float64) (*gorgonia.Node, error) {
	return gorgonia.ApplyOp(&normFoldWOp{opBase: sameShapeOp("NormFoldW", 1, 0), std: std}, w)
}

// FoldNormBiasNode adds bf = b - (mean/std) * rowsum(w) to the graph; db = dbf,
// dw[o,...] = -(mean/std) dbf[o].
func FoldNormBiasNode(b, w *gorgonia.Node, mean, std float64) (*gorgonia.Node, error) {
	if b.Shape().Dims() != 1 || w.Shape()[0] != b.Shape()[0] {
		return nil, fmt.Errorf("autograd: FoldNormBiasNode: bias %v does not match weights %v", b.Shape(), w.Shape())
	}
	return gorgonia.ApplyOp(&normFoldBOp{opBase: sameShapeOp("NormFoldB", 2, 0), mean: mean, std: std}, b, w)
}

type normFoldWOp struct {
	opBase
	std float64
}

func (op *normFoldWOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a)
}
func (op *normFoldWOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	w, shape, err := floats(vs[0])
	if err != nil {
		return nil, err
	}
	out := newF32(shape)
	FoldNormWeightsInto(out.Data().([]float32), w, op.std)
	return out, nil
}
func (op *normFoldWOp) DiffWRT(int) []bool { return []bool{true} }
func (op *normFoldWOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	dw, err := gorgonia.ApplyOp(&normFoldWOp{opBase: sameShapeOp("NormFoldWGrad", 1, 0), std: op.std}, grad)
	return gorgonia.Nodes{dw}, err
}

type normFoldBOp struct {
	opBase
	mean, std float64
}

func (op *normFoldBOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(gorgonia.TensorType{Dims: 1, Of: a}, gorgonia.TensorType{Dims: 4, Of: a}, gorgonia.TensorType{Dims: 1, Of: a})
}
func (op *normFoldBOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	b, shape, err := floats(vs[0])
	if err != nil {
		return nil, err
	}
	w, _, err := floats(vs[1])
	if err != nil {
		return nil, err
	}
	out := newF32(shape)
	FoldNormBiasInto(out.Data().([]float32), b, w, op.mean, op.std)
	return out, nil
}
func (op *normFoldBOp) DiffWRT(int) []bool { return []bool{true, true} }
func (op *normFoldBOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	dw, err := gorgonia.ApplyOp(&normFoldBGradOp{opBase: sameShapeOp("NormFoldBGrad", 2, 1), k: op.mean / op.std}, grad, inputs[1])
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{grad, dw}, nil
}

// normFoldBGradOp spreads dbf over the filters: dw[o,...] = -k dbf[o].
type normFoldBGradOp struct {
	opBase
	k float64
}

func (op *normFoldBGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	w := gorgonia.TensorType{Dims: 4, Of: a}
	return hm.NewFnType(gorgonia.TensorType{Dims: 1, Of: a}, w, w)
}
func (op *normFoldBGradOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	db, _, err := floats(vs[0])
	if err != nil {
		return nil, err
	}
	_, wshape, err := floats(vs[1])
	if err != nil {
		return nil, err
	}
	out := newF32(wshape)
	dw := out.Data().([]float32)
	per := len(dw) / len(db)
	for o, g := range db {
		v := float32(-op.k * float64(g))
		for i := o * per; i < (o+1)*per; i++ {
			dw[i] = v
		}
	}
	return out, nil
}
