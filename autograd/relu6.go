package autograd

import (
	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
)

// ReLU6 adds y = min(max(x, 0), 6); dx = dy where 0 < x < 6, else 0.
func ReLU6(x *gorgonia.Node) (*gorgonia.Node, error) {
	return gorgonia.ApplyOp(&relu6Op{opBase: sameShapeOp("ReLU6", 1, 0)}, x)
}

type relu6Op struct {
	opBase
	y outBuf
}

func (op *relu6Op) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a)
}
func (op *relu6Op) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	x, shape, err := floats(vs[0])
	if err != nil {
		return nil, err
	}
	out, y := op.y.data(shape)
	for i, v := range x {
		y[i] = min(max(v, 0), 6)
	}
	return out, nil
}
func (op *relu6Op) DiffWRT(int) []bool { return []bool{true} }
func (op *relu6Op) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	dx, err := gorgonia.ApplyOp(&relu6GradOp{opBase: sameShapeOp("ReLU6Grad", 2, 0)}, inputs[0], grad)
	return gorgonia.Nodes{dx}, err
}

type relu6GradOp struct {
	opBase
	dx outBuf
}

func (op *relu6GradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a, a)
}
func (op *relu6GradOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	x, shape, err := floats(vs[0])
	if err != nil {
		return nil, err
	}
	dy, _, err := floats(vs[1])
	if err != nil {
		return nil, err
	}
	out, dx := op.dx.data(shape)
	for i, v := range x {
		if v > 0 && v < 6 {
			dx[i] = dy[i]
		} else {
			dx[i] = 0
		}
	}
	return out, nil
}
