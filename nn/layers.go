package nn

import (
	"fmt"

	"github.com/qatgo/qatgo/autograd"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Activation is the nonlinearity fused at the end of a Conv2D or Linear layer. In the integer
// engine it is only a clamp.
type Activation int

const (
	ActNone Activation = iota
	ActReLU
	ActReLU6
)

func (a Activation) String() string {
	return [...]string{"none", "relu", "relu6"}[a]
}

// Layer is one stage of a sequential model.
type Layer interface {
	Name() string
	Params() []*Param
	// OutShape returns the output shape (C, H, W; H = W = 1 for flat vectors) for an input shape.
	OutShape(c, h, w int) (int, int, int, error)
	build(b *builder, x *gorgonia.Node) (*gorgonia.Node, error)
}

// Quantized is a layer with weights, a bias and quantizers.
type Quantized interface {
	Layer
	Weights() *Param
	Quant() *LayerQuant
}

// LayerQuant groups a quantizable layer's configuration and quantizers.
type LayerQuant struct {
	Config LayerQ
	In     *autograd.ActQuantizer // quantizer of the layer's input (owned by the previous layer or the model)
	W      *autograd.WeightQuantizer
	B      *autograd.BiasQuantizer
	Out    *autograd.ActQuantizer
	Act    Activation
	// WStep and AStep are the learned ln(step) of the weights (one per channel, or one) and of
	// the output activations (one) under Config.Quantizer "lsq"; nil otherwise. W.LogStep is
	// WStep.Data; the graphs feed both to autograd.FakeQuantLSQ.
	WStep, AStep *Param
}

// BatchNorm is a batch-normalization stage owned by the Conv2D before it: its scale and shift
// parameters and its running statistics.
type BatchNorm struct {
	Gamma, Beta *Param
	State       *autograd.BNState
}

// Conv2D is a 2-D convolution over NCHW input with OIHW weights, a bias and a fused activation.
// With BN set the convolution has no bias of its own: in float training it is followed by
// batch normalization; in quantized graphs BN is folded into the weights and bias with the
// frozen running statistics (Jacob et al. §3.2): w_fold = w gamma/sigma, b_fold =
// beta - mu gamma/sigma, and the folded weights are what is quantized.
type Conv2D struct {
	LayerName         string
	InC, OutC, K      int
	Stride, Pad       int
	W, B              *Param
	Q                 LayerQuant
	FoldNorm          bool    // input is p/255; fold (x-NormMean)/NormStd into W and B
	NormMean, NormStd float64 // used when FoldNorm
	BN                *BatchNorm
}

func (l *Conv2D) Name() string { return l.LayerName }
func (l *Conv2D) Params() []*Param {
	if l.BN != nil {
		return []*Param{l.W, l.BN.Gamma, l.BN.Beta}
	}
	return []*Param{l.W, l.B}
}
func (l *Conv2D) Weights() *Param    { return l.W }
func (l *Conv2D) Quant() *LayerQuant { return &l.Q }

func (l *Conv2D) OutShape(c, h, w int) (int, int, int, error) {
	if c != l.InC {
		return 0, 0, 0, fmt.Errorf("nn: %s: input has %d channels, want %d", l.LayerName, c, l.InC)
	}
	oh := (h+2*l.Pad-l.K)/l.Stride + 1
	ow := (w+2*l.Pad-l.K)/l.Stride + 1
	if oh <= 0 || ow <= 0 {
		return 0, 0, 0, fmt.Errorf("nn: %s: input %dx%d too small for kernel %d", l.LayerName, h, w, l.K)
	}
	return l.OutC, oh, ow, nil
}

// EffectiveWeights returns the float weights the layer quantizes (after the input-normalization
// fold, if any): exactly the values the graph's weight quantizer sees.
func (l *Conv2D) EffectiveWeights() []float32 {
	out := make([]float32, len(l.W.Data))
	switch {
	case l.BN != nil:
		autograd.FoldBNWeightsInto(out, l.W.Data, l.BN.Gamma.Data, l.BN.State)
	case l.FoldNorm:
		autograd.FoldNormWeightsInto(out, l.W.Data, l.NormStd)
	default:
		copy(out, l.W.Data)
	}
	return out
}

// EffectiveBias returns the float bias after the normalization or batch-norm fold, if any.
func (l *Conv2D) EffectiveBias() []float32 {
	out := make([]float32, l.OutC)
	switch {
	case l.BN != nil:
		autograd.FoldBNBiasInto(out, l.BN.Beta.Data, l.BN.Gamma.Data, l.BN.State)
	case l.FoldNorm:
		autograd.FoldNormBiasInto(out, l.B.Data, l.W.Data, l.NormMean, l.NormStd)
	default:
		copy(out, l.B.Data)
	}
	return out
}

func (l *Conv2D) build(b *builder, x *gorgonia.Node) (*gorgonia.Node, error) {
	if l.BN != nil {
		return l.buildBN(b, x)
	}
	// The weight first: graph parameter order (and so optimizer state order) is W, B.
	w, err := b.weight(l.W)
	if err != nil {
		return nil, err
	}
	bias := b.param(l.B)
	if l.FoldNorm {
		if l.Pad != 0 {
			return nil, fmt.Errorf("nn: %s: folding the input normalization needs Pad == 0", l.LayerName)
		}
		if bias, err = autograd.FoldNormBiasNode(bias, w, l.NormMean, l.NormStd); err != nil {
			return nil, err
		}
		if w, err = autograd.FoldNormWeightsNode(w, l.NormStd); err != nil {
			return nil, err
		}
	}
	wq, err := b.fakeQuantW(&l.Q, w)
	if err != nil {
		return nil, err
	}
	y, err := b.conv2d(x, wq, l.K, l.Stride, l.Pad)
	if err != nil {
		return nil, fmt.Errorf("nn: %s: %w", l.LayerName, err)
	}
	return b.finish(&l.Q, x, wq, bias, y)
}

// buildBN builds conv -> batch norm -> act for float graphs, and the folded form conv(x,
// FQ(w_fold)) + FQ(b_fold) -> act -> FQ for quantized graphs.
func (l *Conv2D) buildBN(b *builder, x *gorgonia.Node) (*gorgonia.Node, error) {
	if l.FoldNorm {
		return nil, fmt.Errorf("nn: %s: batch norm and input-normalization folding do not combine", l.LayerName)
	}
	w, err := b.weight(l.W)
	if err != nil {
		return nil, err
	}
	gamma, beta := b.param(l.BN.Gamma), b.param(l.BN.Beta)
	conv := func(w *gorgonia.Node) (*gorgonia.Node, error) {
		y, err := b.conv2d(x, w, l.K, l.Stride, l.Pad)
		if err != nil {
			return nil, fmt.Errorf("nn: %s: %w", l.LayerName, err)
		}
		return y, nil
	}
	if !b.folded {
		y, err := conv(w)
		if err != nil {
			return nil, err
		}
		if y, err = autograd.BatchNorm(y, gamma, beta, l.BN.State); err != nil {
			return nil, err
		}
		if y, err = b.activate(l.Q.Act, y); err != nil {
			return nil, err
		}
		return b.fakeQuantOut(&l.Q, y)
	}
	wf, err := autograd.FoldBNWeightsNode(w, gamma, l.BN.State)
	if err != nil {
		return nil, err
	}
	bf, err := autograd.FoldBNBiasNode(beta, gamma, l.BN.State)
	if err != nil {
		return nil, err
	}
	wq, err := b.fakeQuantW(&l.Q, wf)
	if err != nil {
		return nil, err
	}
	y, err := conv(wq)
	if err != nil {
		return nil, err
	}
	return b.finish(&l.Q, x, wq, bf, y)
}

// activate adds the activation a: ReLU is gorgonia's Rectify with stock ops, autograd.ReLU
// (the same arithmetic, one pass, no allocation) with qatgo's.
func (b *builder) activate(a Activation, y *gorgonia.Node) (*gorgonia.Node, error) {
	switch a {
	case ActReLU:
		if b.stock {
			return gorgonia.Rectify(y)
		}
		return autograd.ReLU(y)
	case ActReLU6:
		return autograd.ReLU6(y)
	}
	return y, nil
}

// finish adds the quantized bias, the activation and the output quantizer. With qatgo's ops a
// ReLU is fused with the bias add (autograd.BiasReLU: the same values in one pass). A float
// layer (LayerQ.Float) gets the bias and activation only.
func (b *builder) finish(q *LayerQuant, x, wq, bias, y *gorgonia.Node) (*gorgonia.Node, error) {
	bq := bias
	var err error
	if !q.Config.Float {
		if bq, err = autograd.FakeQuant(bias, q.B, x, wq); err != nil {
			return nil, err
		}
	}
	if q.Act == ActReLU && !b.stock {
		y, err = autograd.BiasReLU(y, bq)
	} else if y, err = autograd.BiasAdd(y, bq); err == nil {
		y, err = b.activate(q.Act, y)
	}
	if err != nil {
		return nil, err
	}
	if q.Config.Float {
		return y, nil
	}
	if b.poolNext && q.Out != nil {
		// The max pool that follows quantizes its output instead: the same values, with a
		// quarter of the requantization work for 2x2 windows (autograd.FakeQuantPooled).
		b.pooled, b.pooledStep = q.Out, q.AStep
		return y, nil
	}
	return b.fakeQuantOut(q, y)
}

// fakeQuantW adds the weight quantizer of q to w: autograd.FakeQuant, or FakeQuantLSQ with the
// learned steps; nothing for a float layer.
func (b *builder) fakeQuantW(q *LayerQuant, w *gorgonia.Node) (*gorgonia.Node, error) {
	if q.Config.Float {
		return w, nil
	}
	if q.WStep != nil {
		return autograd.FakeQuantLSQ(w, b.param(q.WStep), q.W)
	}
	return autograd.FakeQuant(w, q.W)
}

// fakeQuantOut adds the output quantizer of q to y: autograd.FakeQuant, or FakeQuantLSQ with
// the learned step; nothing for a float layer.
func (b *builder) fakeQuantOut(q *LayerQuant, y *gorgonia.Node) (*gorgonia.Node, error) {
	if q.Config.Float {
		return y, nil
	}
	if q.AStep != nil {
		return autograd.FakeQuantLSQ(y, b.param(q.AStep), q.Out)
	}
	return autograd.FakeQuant(y, q.Out)
}

// Linear is a fully connected layer y = x W^T + b with W of shape (Out, In).
type Linear struct {
	LayerName string
	In, Out   int
	W, B      *Param
	Q         LayerQuant
}

func (l *Linear) Name() string       { return l.LayerName }
func (l *Linear) Params() []*Param   { return []*Param{l.W, l.B} }
func (l *Linear) Weights() *Param    { return l.W }
func (l *Linear) Quant() *LayerQuant { return &l.Q }

func (l *Linear) OutShape(c, h, w int) (int, int, int, error) {
	if c*h*w != l.In {
		return 0, 0, 0, fmt.Errorf("nn: %s: input has %d values, want %d", l.LayerName, c*h*w, l.In)
	}
	return l.Out, 1, 1, nil
}

func (l *Linear) build(b *builder, x *gorgonia.Node) (*gorgonia.Node, error) {
	if x.Shape().Dims() != 2 {
		return nil, fmt.Errorf("nn: %s: input must be flat (N, %d), got %v: add a Flatten", l.LayerName, l.In, x.Shape())
	}
	// The weight first: graph parameter order (and so optimizer state order) is W, B.
	w, err := b.weight(l.W)
	if err != nil {
		return nil, err
	}
	bias := b.param(l.B)
	wq, err := b.fakeQuantW(&l.Q, w)
	if err != nil {
		return nil, err
	}
	y, err := b.linear(x, wq)
	if err != nil {
		return nil, fmt.Errorf("nn: %s: %w", l.LayerName, err)
	}
	return b.finish(&l.Q, x, wq, bias, y)
}

// MaxPool2D takes the maximum over K x K windows with the given stride, no padding.
type MaxPool2D struct {
	LayerName string
	K, Stride int
}

func (l *MaxPool2D) Name() string     { return l.LayerName }
func (l *MaxPool2D) Params() []*Param { return nil }
func (l *MaxPool2D) OutShape(c, h, w int) (int, int, int, error) {
	oh, ow := (h-l.K)/l.Stride+1, (w-l.K)/l.Stride+1
	if oh <= 0 || ow <= 0 {
		return 0, 0, 0, fmt.Errorf("nn: %s: input %dx%d too small for pool %d", l.LayerName, h, w, l.K)
	}
	return c, oh, ow, nil
}
func (l *MaxPool2D) build(b *builder, x *gorgonia.Node) (*gorgonia.Node, error) {
	return b.maxPool2D(x, l.K, l.Stride)
}

// AvgPool2D averages K x K windows with the given stride, no padding. It has no quantizer of
// its own: its output stays on the grid of its input (In, the output quantizer of the layer
// before it, or the model input's), and while In quantizes, the graph computes the integer
// engine's average pool of the codes (autograd.AvgPool2D, fakequant equation (17)); in float
// mode it is the plain mean.
type AvgPool2D struct {
	LayerName string
	K, Stride int
	In        *autograd.ActQuantizer // set by the model builder
}

func (l *AvgPool2D) Name() string     { return l.LayerName }
func (l *AvgPool2D) Params() []*Param { return nil }
func (l *AvgPool2D) OutShape(c, h, w int) (int, int, int, error) {
	oh, ow := (h-l.K)/l.Stride+1, (w-l.K)/l.Stride+1
	if h < l.K || w < l.K || oh <= 0 || ow <= 0 {
		return 0, 0, 0, fmt.Errorf("nn: %s: input %dx%d too small for pool %d", l.LayerName, h, w, l.K)
	}
	return c, oh, ow, nil
}
func (l *AvgPool2D) build(b *builder, x *gorgonia.Node) (*gorgonia.Node, error) {
	y, err := autograd.AvgPool2D(x, l.K, l.Stride, l.In)
	if err != nil {
		return nil, fmt.Errorf("nn: %s: %w", l.LayerName, err)
	}
	return y, nil
}

// Flatten reshapes (N, C, H, W) to (N, C*H*W) in CHW order.
type Flatten struct{ LayerName string }

func (l *Flatten) Name() string                                { return l.LayerName }
func (l *Flatten) Params() []*Param                            { return nil }
func (l *Flatten) OutShape(c, h, w int) (int, int, int, error) { return c * h * w, 1, 1, nil }
func (l *Flatten) build(b *builder, x *gorgonia.Node) (*gorgonia.Node, error) {
	s := x.Shape()
	return gorgonia.Reshape(x, tensor.Shape{s[0], s.TotalSize() / s[0]})
}
