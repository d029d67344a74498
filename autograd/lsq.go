package autograd

import (
	"fmt"
	"github.com/qatgo/qatgo/internal/f32"
	"math"

	"github.com/chewxy/hm"
	"github.com/qatgo/qatgo/fakequant"
	"gorgonia.org/gorgonia"
)

// Learned step sizes (LSQ, Esser et al. 2020; fakequant equations (13) and (14)).
//
// The trained parameter is p = ln S, one value for an activation quantizer and one per channel
// (or one per tensor) for a weight quantizer: Adam's update of p is then a relative change of
// the step, the same at every bit width and for steps of 1e-3 (8-bit weights) or 1 (2-bit
// activations) alike (as TQT, Jain et al. 2019, trains log2 thresholds). Its gradient is LSQ's,
// dL/dp = S dL/dS with dL/dS = g sum dy dFQ/dS, equations (13)-(14).
//
// An activation quantizer with a learned step is an ActQuantizer with Fixed set: it observes
// nothing, and before each run the op writes its range from the step,
// [Min, Max] = fakequant.StepRange(S, Z), with Z the zero point of the range it held (fixed
// when the step was initialized; 0 after a ReLU). Its parameters are therefore
// ChooseParams(Min, Max) as for any other range, and the integer requantization of the
// simulation, the exporter and the checkpoints use the learned step unchanged. A weight
// quantizer with a learned step (WeightQuantizer.LogStep) uses fakequant.StepParams(S)
// instead of |w|max/qmax, clips its STE to the grid, and the exporter reads the same steps.

// LearnedQuantizer is a quantizer whose step is a trained parameter.
type LearnedQuantizer interface {
	Quantizer
	// SetLogStep makes the steps exp(p[i]) the quantizer's (len(p) == NumSteps()).
	SetLogStep(p []float32)
	// NumSteps is the number of steps: 1, or the channel count of a per-channel weight
	// quantizer.
	NumSteps() int
	// StepGrad writes dL/dp for p = ln S into dp, for the input x (shape shape) and output
	// gradient dy of the last Forward: S g sum dy dFQ/dS, fakequant (13)-(14); zero where
	// the last Forward did not quantize.
	StepGrad(dp, x, dy []float32, shape []int)
}

// SetLogStep sets the range to fakequant.StepRange(exp(p[0]), Z) with Z the zero point of
// the present range (0 before any), and marks it seen.
func (q *ActQuantizer) SetLogStep(p []float32) {
	if len(p) != 1 {
		panic(fmt.Sprintf("autograd: ActQuantizer.SetLogStep: %d steps, want 1", len(p)))
	}
	s := math.Exp(float64(p[0]))
	if !(s > 0) || math.IsInf(s, 0) {
		return // a diverged step: keep the last range; the loss reports the divergence
	}
	var z int32
	if q.Seen {
		z = q.Params().ZeroPoint
	} else {
		qmin, qmax := q.Scheme.Range()
		z = min(max(0, qmin), qmax)
	}
	q.Min, q.Max = fakequant.StepRange(s, z, q.Scheme)
	q.Seen = true
}

// NumSteps is 1: one step per activation tensor.
func (q *ActQuantizer) NumSteps() int { return 1 }

// StepGrad is LSQ's gradient of the activation step: N is the number of values of one example
// (shape[1:]), Qp = QMax - Z.
func (q *ActQuantizer) StepGrad(dp, x, dy []float32, shape []int) {
	if !q.active {
		clear(dp)
		return
	}
	p := q.last
	n := len(x)
	if len(shape) > 0 && shape[0] > 0 {
		n /= shape[0]
	}
	sum := stepGradSum(x, dy, p)
	dp[0] = float32(sum * fakequant.LSQGradScale(n, p.QMax-p.ZeroPoint) * p.Scale)
}

// stepGradSum is fakequant.LSQStepGrad over two fixed halves on two goroutines, the halves
// added in order: the same result whatever the scheduling.
func stepGradSum(x, dy []float32, p fakequant.Params) float64 {
	var part [2]float64
	f32.SplitRowsW(len(x), 1, func(w, lo, hi int) {
		part[w] = fakequant.LSQStepGrad(x[lo:hi], dy[lo:hi], p)
	})
	return part[0] + part[1]
}

// SetLogStep makes exp(p[c]) the weight step of channel c (or exp(p[0]) of the tensor); the
// quantizer keeps p (it is the model's parameter storage).
func (q *WeightQuantizer) SetLogStep(p []float32) {
	if len(p) != q.NumSteps() {
		panic(fmt.Sprintf("autograd: WeightQuantizer.SetLogStep: %d steps, want %d", len(p), q.NumSteps()))
	}
	q.LogStep = p
}

// NumSteps is the channel count for per-channel weights, else 1.
func (q *WeightQuantizer) NumSteps() int {
	if q.PerChannel {
		return q.Channels
	}
	return 1
}

// stepParams returns the parameters of channel c from the learned steps.
func (q *WeightQuantizer) stepParams(c int) fakequant.Params {
	s := math.Exp(float64(q.LogStep[c%len(q.LogStep)]))
	if !(s > 0) || math.IsInf(s, 0) {
		s = math.SmallestNonzeroFloat64 // diverged; the loss reports it
	}
	return fakequant.StepParams(s, q.Scheme)
}

// StepGrad is LSQ's gradient of the weight steps: N is the number of weights per step,
// Qp = QMax.
func (q *WeightQuantizer) StepGrad(dp, x, dy []float32, _ []int) {
	if !q.active || q.LogStep == nil {
		clear(dp)
		return
	}
	steps := len(dp)
	per := len(x) / steps
	blk := len(x) / q.Channels
	for k := range dp {
		var sum float64
		// A per-tensor step sums its channels in order (each channel has the same params).
		for c := k * per / blk; c < (k+1)*per/blk; c++ {
			sum += fakequant.LSQStepGrad(x[c*blk:(c+1)*blk], dy[c*blk:(c+1)*blk], q.last[c])
		}
		p := q.last[k*per/blk]
		dp[k] = float32(sum * fakequant.LSQGradScale(per, p.QMax) * p.Scale)
	}
}

// FakeQuantLSQ adds y = FQ(x) with the step learned: logStep is a parameter node of
// q.NumSteps() values holding ln S. The gradient of x is q's straight-through estimator
// (clipped to the grid), that of logStep is LSQ's (see LearnedQuantizer.StepGrad).
func FakeQuantLSQ(x, logStep *gorgonia.Node, q LearnedQuantizer) (*gorgonia.Node, error) {
	if s := logStep.Shape(); s.TotalSize() != q.NumSteps() {
		return nil, fmt.Errorf("autograd: FakeQuantLSQ: step %v for %d steps", s, q.NumSteps())
	}
	if logStep.Shape().Dims() != 1 {
		return nil, fmt.Errorf("autograd: FakeQuantLSQ: step of shape %v is not a vector", logStep.Shape())
	}
	return gorgonia.ApplyOp(&lsqOp{opBase: sameShapeOp("FakeQuantLSQ", 2, 0), q: q, dims: x.Shape().Dims()}, x, logStep)
}

type lsqOp struct {
	opBase
	q    LearnedQuantizer
	dims int // of x
	y    outBuf
}

func (op *lsqOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	x, p := gorgonia.TensorType{Dims: op.dims, Of: a}, gorgonia.TensorType{Dims: 1, Of: a}
	return hm.NewFnType(x, p, x)
}

func (op *lsqOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	x, shape, err := floats(vs[0])
	if err != nil {
		return nil, err
	}
	p, _, err := floats(vs[1])
	if err != nil {
		return nil, err
	}
	op.q.SetLogStep(p)
	out, y := op.y.data(shape)
	if err := op.q.Forward(y, x, shape); err != nil {
		return nil, err
	}
	return out, nil
}

func (op *lsqOp) DiffWRT(int) []bool { return []bool{true, true} }

func (op *lsqOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	dx, err := gorgonia.ApplyOp(&fakeQuantGradOp{opBase: sameShapeOp("FakeQuantLSQGrad", 2, 0), q: op.q}, inputs[0], grad)
	if err != nil {
		return nil, err
	}
	dp, err := gorgonia.ApplyOp(&lsqStepGradOp{opBase: sameShapeOp("FakeQuantLSQStepGrad", 3, 1), q: op.q, dims: op.dims}, inputs[0], inputs[1], grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{dx, dp}, nil
}

// lsqStepGradOp computes dL/dp from (x, p, dy); p only gives the output its shape.
type lsqStepGradOp struct {
	opBase
	q    LearnedQuantizer
	dims int // of x
	dp   outBuf
}

func (op *lsqStepGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	x, p := gorgonia.TensorType{Dims: op.dims, Of: a}, gorgonia.TensorType{Dims: 1, Of: a}
	return hm.NewFnType(x, p, x, p)
}
func (op *lsqStepGradOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	x, shape, err := floats(vs[0])
	if err != nil {
		return nil, err
	}
	_, pshape, err := floats(vs[1])
	if err != nil {
		return nil, err
	}
	dy, _, err := floats(vs[2])
	if err != nil {
		return nil, err
	}
	if len(dy) != len(x) {
		return nil, fmt.Errorf("autograd: %s: gradient of %d values for %d", op.name, len(dy), len(x))
	}
	out, dp := op.dp.data(pshape)
	op.q.StepGrad(dp, x, dy, shape)
	return out, nil
}
