package autograd

import (
	"fmt"
	"math"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// SoftmaxCrossEntropy returns the scalar mean over the batch of the cross entropy between
// softmax(logits) and the target distribution t (one-hot labels):
//
//	loss = -(1/N) sum_n sum_k t[n,k] log softmax(z[n])_k
//
// computed with the max-shifted log-sum-exp in float64. Gradient: dz = (softmax(z) - t) * dl / N;
// targets get none.
func SoftmaxCrossEntropy(logits, targets *gorgonia.Node) (*gorgonia.Node, error) {
	if logits.Shape().Dims() != 2 || !logits.Shape().Eq(targets.Shape()) {
		return nil, fmt.Errorf("autograd: SoftmaxCrossEntropy: logits %v and targets %v must be equal (N, K) shapes", logits.Shape(), targets.Shape())
	}
	return gorgonia.ApplyOp(&softmaxCEOp{opBase: newOpBase("SoftmaxCE", 2)}, logits, targets)
}

type softmaxCEOp struct{ opBase }

func (op *softmaxCEOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	t := gorgonia.TensorType{Dims: 2, Of: a}
	return hm.NewFnType(t, t, a)
}
func (op *softmaxCEOp) InferShape(...gorgonia.DimSizer) (tensor.Shape, error) {
	return tensor.ScalarShape(), nil
}

// softmaxRow writes softmax(z) into p (float64) and returns log-sum-exp(z).
func softmaxRow(p []float64, z []float32) float64 {
	mx := math.Inf(-1)
	for _, v := range z {
		mx = math.Max(mx, float64(v))
	}
	var sum float64
	for k, v := range z {
		p[k] = math.Exp(float64(v) - mx)
		sum += p[k]
	}
	for k := range p {
		p[k] /= sum
	}
	return mx + math.Log(sum)
}

func (op *softmaxCEOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	z, shape, err := floats(vs[0])
	if err != nil {
		return nil, err
	}
	t, _, err := floats(vs[1])
	if err != nil {
		return nil, err
	}
	n, k := shape[0], shape[1]
	p := make([]float64, k)
	var loss float64
	for i := 0; i < n; i++ {
		row := z[i*k : (i+1)*k]
		lse := softmaxRow(p, row)
		for j, tv := range t[i*k : (i+1)*k] {
			if tv != 0 {
				loss -= float64(tv) * (float64(row[j]) - lse)
			}
		}
	}
	return gorgonia.NewF32(float32(loss / float64(n))), nil
}

func (op *softmaxCEOp) DiffWRT(int) []bool { return []bool{true, false} }

func (op *softmaxCEOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	dz, err := gorgonia.ApplyOp(&softmaxCEGradOp{opBase: sameShapeOp("SoftmaxCEGrad", 3, 0)}, inputs[0], inputs[1], grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{dz, nil}, nil
}

type softmaxCEGradOp struct {
	opBase
	dz outBuf
}

func (op *softmaxCEGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	t := gorgonia.TensorType{Dims: 2, Of: a}
	return hm.NewFnType(t, t, a, t)
}
func (op *softmaxCEGradOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	z, shape, err := floats(vs[0])
	if err != nil {
		return nil, err
	}
	t, _, err := floats(vs[1])
	if err != nil {
		return nil, err
	}
	dl, err := scalarF32(vs[2])
	if err != nil {
		return nil, err
	}
	n, k := shape[0], shape[1]
	out, dz := op.dz.data(shape)
	p := make([]float64, k)
	scale := float64(dl) / float64(n)
	for i := 0; i < n; i++ {
		softmaxRow(p, z[i*k:(i+1)*k])
		for j := 0; j < k; j++ {
			dz[i*k+j] = float32((p[j] - float64(t[i*k+j])) * scale)
		}
	}
	return out, nil
}
