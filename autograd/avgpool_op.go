package autograd

import (
	"fmt"
	"math"

	"github.com/qatgo/qatgo/fakequant"
	"github.com/qatgo/qatgo/internal/f32"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// AvgPool2D adds average pooling over k x k windows with the given stride and no padding to
// x's graph: for x (N,C,H,W), y (N,C,OH,OW) with OH = (H-k)/stride+1 (OW alike).
//
// in is the activation quantizer whose grid x lies on (the output quantizer of the layer
// before, or the model input's; nil for a float-only graph). While in applies no range
// (float mode, calibration, QAT before its delay) the op is the float mean
//
//	y[n,c,oy,ox] = 1/k^2 sum_{i,j < k} x[n,c,oy*stride+i,ox*stride+j].
//
// While it applies the range p = in.Last(), the op computes the integer engine's average pool
// (fakequant equation (17), fakequant.AveragePool) on the codes q = round(x/S) + Z of the
// window and writes the output code's value:
//
//	y = S (AveragePool(rule, sum_{i,j} (q_ij - Z), k^2, Z, QMin, QMax) - Z)
//
// with rule = in.Ctx.Rounding, so the simulation's pooled activations are the engine's codes
// exactly (the output stays on in's grid). The gradient is the mean's, straight through the
// rounding: dx[window] += dy / k^2 (windows overlap when stride < k).
func AvgPool2D(x *gorgonia.Node, k, stride int, in *ActQuantizer) (*gorgonia.Node, error) {
	s := x.Shape()
	if s.Dims() != 4 {
		return nil, fmt.Errorf("autograd: AvgPool2D: want x (N,C,H,W), got %v", s)
	}
	if x.Dtype() != tensor.Float32 {
		return nil, fmt.Errorf("autograd: AvgPool2D: want float32 x, got %v", x.Dtype())
	}
	if k < 1 || k*k > fakequant.MaxPoolWindow || stride < 1 || s[2] < k || s[3] < k {
		return nil, fmt.Errorf("autograd: AvgPool2D: window %d, stride %d on input %v", k, stride, s)
	}
	p := poolGeom{f32.Pool{N: s[0], C: s[1], H: s[2], W: s[3], K: k, Stride: stride}}
	p.OH, p.OW = (p.H-k)/stride+1, (p.W-k)/stride+1
	return gorgonia.ApplyOp(&avgPoolOp{opBase: newOpBase("AvgPool2D", 1), g: p, in: in}, x)
}

type avgPoolOp struct {
	opBase
	g  poolGeom
	in *ActQuantizer
	y  outBuf
}

func (op *avgPoolOp) Type() hm.Type {
	t := gorgonia.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t)
}
func (op *avgPoolOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return op.g.yShape(), nil
}

func (op *avgPoolOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	g := &op.g
	x, s, err := floats(vs[0])
	if err != nil {
		return nil, err
	}
	if !s.Eq(g.xShape()) {
		return nil, fmt.Errorf("autograd: %s: input has shape %v, want %v", op.name, s, g.xShape())
	}
	out, y := op.y.data(g.yShape())
	var p fakequant.Params
	quant := false
	if op.in != nil {
		p, quant = op.in.Last()
	}
	var rule fakequant.Rounding
	if quant {
		rule = op.in.Ctx.Rounding
		if !rule.Valid() {
			return nil, fmt.Errorf("autograd: %s: undefined rounding %d", op.name, uint8(rule))
		}
	}
	f32.SplitItems(g.N, f32.ItemParts(g.N), func(_, lo, hi int) {
		for plane := lo * g.C; plane < hi*g.C; plane++ {
			if quant {
				avgPoolPlaneQ(g, y, x, plane, p, rule)
			} else {
				avgPoolPlane(g, y, x, plane)
			}
		}
	})
	return out, nil
}

// avgPoolPlane is the float mean of one (n, c) plane.
func avgPoolPlane(g *poolGeom, y, x []float32, plane int) {
	in := x[plane*g.H*g.W : (plane+1)*g.H*g.W]
	out := y[plane*g.OH*g.OW : (plane+1)*g.OH*g.OW]
	n := float64(g.K * g.K)
	for oy := 0; oy < g.OH; oy++ {
		for ox := 0; ox < g.OW; ox++ {
			var sum float64
			for ky := 0; ky < g.K; ky++ {
				row := in[(oy*g.Stride+ky)*g.W+ox*g.Stride:][:g.K]
				for _, v := range row {
					sum += float64(v)
				}
			}
			out[oy*g.OW+ox] = float32(sum / n)
		}
	}
}

// avgPoolPlaneQ is the integer average pool of one plane on the grid p: the engine's codes,
// written as their values S (q - Z) (the values fakequant's FakeQuantize and the
// requantization tables write for those codes).
func avgPoolPlaneQ(g *poolGeom, y, x []float32, plane int, p fakequant.Params, rule fakequant.Rounding) {
	in := x[plane*g.H*g.W : (plane+1)*g.H*g.W]
	out := y[plane*g.OH*g.OW : (plane+1)*g.OH*g.OW]
	n := g.K * g.K
	mult, shift := fakequant.MeanMultiplier(n)
	for oy := 0; oy < g.OH; oy++ {
		for ox := 0; ox < g.OW; ox++ {
			var sum int32
			for ky := 0; ky < g.K; ky++ {
				row := in[(oy*g.Stride+ky)*g.W+ox*g.Stride:][:g.K]
				for _, v := range row {
					// The code of a value on the grid; values off it (none, when in's output
					// feeds the pool) go to the nearest code.
					q := min(max(int32(math.Round(float64(v)/p.Scale))+p.ZeroPoint, p.QMin), p.QMax)
					sum += q - p.ZeroPoint
				}
			}
			q := fakequant.RequantizeWith(rule, sum, mult, shift, p.ZeroPoint, p.QMin, p.QMax)
			out[oy*g.OW+ox] = float32(float64(q-p.ZeroPoint) * p.Scale)
		}
	}
}

func (op *avgPoolOp) DiffWRT(int) []bool { return []bool{true} }

func (op *avgPoolOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	dx, err := gorgonia.ApplyOp(&avgPoolGradOp{opBase: newOpBase("AvgPool2DGrad", 1), g: op.g}, grad)
	return gorgonia.Nodes{dx}, err
}

// avgPoolGradOp: dy -> dx, dx[window] += dy / k^2.
type avgPoolGradOp struct {
	opBase
	g  poolGeom
	dx outBuf
}

func (op *avgPoolGradOp) Type() hm.Type {
	t := gorgonia.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t)
}
func (op *avgPoolGradOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return op.g.xShape(), nil
}
func (op *avgPoolGradOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	g := &op.g
	dy, s, err := floats(vs[0])
	if err != nil {
		return nil, err
	}
	if !s.Eq(g.yShape()) {
		return nil, fmt.Errorf("autograd: %s: gradient has shape %v, want %v", op.name, s, g.yShape())
	}
	out, dx := op.dx.data(g.xShape())
	inv := float32(1 / float64(g.K*g.K))
	f32.SplitItems(g.N, f32.ItemParts(g.N), func(_, lo, hi int) {
		for plane := lo * g.C; plane < hi*g.C; plane++ {
			d := dx[plane*g.H*g.W : (plane+1)*g.H*g.W]
			clear(d)
			gy := dy[plane*g.OH*g.OW : (plane+1)*g.OH*g.OW]
			for oy := 0; oy < g.OH; oy++ {
				for ox := 0; ox < g.OW; ox++ {
					v := gy[oy*g.OW+ox] * inv
					for ky := 0; ky < g.K; ky++ {
						row := d[(oy*g.Stride+ky)*g.W+ox*g.Stride:][:g.K]
						for i := range row {
							row[i] += v
						}
					}
				}
			}
		}
	})
	return out, nil
}
