package nn

import (
	"fmt"
	"math/rand/v2"

	"github.com/qatgo/qatgo/autograd"
	"github.com/qatgo/qatgo/fakequant"
)

// Model is a sequential network over C x H x W uint8 images.
type Model struct {
	Arch string
	// Spec is the description the model was built from (Build); the built-in networks are
	// specs too (BuiltinSpec).
	Spec          *Spec
	InC, InH, InW int
	Classes       int
	Layers        []Layer
	Config        Config
	Ctx           *autograd.Context
	// InQ quantizes the model input: raw pixels p/255 on the uint8 grid (scale 1/255, Z 0).
	InQ *autograd.ActQuantizer
	// Ops selects the convolution, pooling and fully connected ops of graphs built from now on.
	Ops Ops
	// FoldBN selects the structure of graphs built from now on: batch norm folded into the
	// weights (QAT, PTQ, export) or applied as its own op (float training).
	FoldBN bool
	// QuantizeBeforePool keeps, in training graphs built from now on, the output quantizer of
	// a layer that a MaxPool2D follows in front of the pool, as evaluation graphs have it. By
	// default (false) it goes after the pool (autograd.FakeQuantPooled): the same forward
	// values on a quarter of the elements for 2x2 windows; the gradients differ only where a
	// window holds several elements with the maximum code.
	QuantizeBeforePool bool
}

// Ops names an implementation of the convolution, max-pool and fully connected ops.
type Ops string

const (
	// OpsFast is qatgo's NCHW conv (im2col + packed AVX2/FMA or pure-Go GEMM, batch split over
	// two goroutines), argmax max pool and Linear on the same GEMM: the default.
	OpsFast Ops = "fast"
	// OpsGorgonia is gorgonia's stock Conv2d, MaxPool2D and Mul(x, Transpose(w)), kept as the
	// reference and baseline.
	OpsGorgonia Ops = "gorgonia"
)

// ParseOps checks an ops name ("" means OpsFast).
func ParseOps(s string) (Ops, error) {
	switch Ops(s) {
	case "", OpsFast:
		return OpsFast, nil
	case OpsGorgonia:
		return OpsGorgonia, nil
	}
	return "", fmt.Errorf("nn: unknown ops %q (have fast, gorgonia)", s)
}

// String returns the ops' name.
func (o Ops) String() string { return string(o) }

// Set parses s into o (flag.Value; "" is OpsFast).
func (o *Ops) Set(s string) error {
	v, err := ParseOps(s)
	if err != nil {
		return err
	}
	*o = v
	return nil
}

// Archs lists the built-in model builders by name: each builds its spec (BuiltinSpec).
var Archs = map[string]func(Config, uint64) (*Model, error){
	"lenet5":       LeNet5,
	"lenet5-bn":    LeNet5BN,
	"lenet300-100": LeNet300100,
}

// New builds the named built-in architecture, or the spec in the JSON file arch names (a path
// ending in .json), with seeded initialization.
func New(arch string, cfg Config, seed uint64) (*Model, error) {
	s, err := ResolveSpec(arch)
	if err != nil {
		return nil, err
	}
	return Build(s, cfg, seed)
}

// LeNet5 is conv 1->20 5x5, maxpool 2, conv 20->50 5x5, maxpool 2, fc 800->500 ReLU, fc 500->10,
// with the input normalization folded into conv1 (specs/lenet5.json).
func LeNet5(cfg Config, seed uint64) (*Model, error) { return buildBuiltin("lenet5", cfg, seed) }

// LeNet5BN is LeNet-5 with batch normalization after both convolutions (which then have no
// bias). It takes p/255 directly: the first batch norm absorbs any input normalization
// (specs/lenet5-bn.json).
func LeNet5BN(cfg Config, seed uint64) (*Model, error) { return buildBuiltin("lenet5-bn", cfg, seed) }

// mnistMean and mnistStd are the MNIST pixel statistics the models normalize by (data.Mean and
// data.Std; nn does not import data, a test checks that they agree).
const (
	mnistMean = 0.1307
	mnistStd  = 0.3081
)

func newBatchNorm(name string, c int) *BatchNorm {
	bn := &BatchNorm{Gamma: newParam(name+".bn.gamma", c), Beta: newParam(name+".bn.beta", c), State: autograd.NewBNState(c)}
	for i := range bn.Gamma.Data {
		bn.Gamma.Data[i] = 1
	}
	return bn
}

// BatchNorms returns the batch-norm stages in layer order.
func (m *Model) BatchNorms() []*BatchNorm {
	var bns []*BatchNorm
	for _, l := range m.Layers {
		if c, ok := l.(*Conv2D); ok && c.BN != nil {
			bns = append(bns, c.BN)
		}
	}
	return bns
}

// SetTraining says whether batch norm normalizes with batch statistics (and updates its
// running ones) or uses the running ones. Only float graphs read it.
func (m *Model) SetTraining(on bool) {
	for _, bn := range m.BatchNorms() {
		bn.State.Training = on
	}
}

// LeNet300100 is the MLP 784-300-100-10 with ReLU. It takes p/255 directly (no normalization
// to fold: the MLP trains well on [0, 1] inputs) (specs/lenet300-100.json).
func LeNet300100(cfg Config, seed uint64) (*Model, error) {
	return buildBuiltin("lenet300-100", cfg, seed)
}

func newModelQ(arch string, c, h, w int, layers []Layer, cfg Config, seed uint64, specQ map[string]SpecQuant) (*Model, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := &Model{Arch: arch, InC: c, InH: h, InW: w, Layers: layers, Config: cfg, Ctx: &autograd.Context{Rounding: cfg.Rounding}}
	m.InQ = &autograd.ActQuantizer{Ctx: m.Ctx, Scheme: fakequant.Scheme{Bits: 8}, Fixed: true, Min: 0, Max: 1, Seen: true}
	rng := rand.New(rand.NewPCG(seed, 0x9a7c0))
	in := m.InQ
	lastQ := -1
	for i, l := range layers {
		if _, ok := l.(Quantized); ok {
			lastQ = i
		}
	}
	cc, hh, ww := c, h, w
	var err error
	for i, l := range layers {
		if cc, hh, ww, err = l.OutShape(cc, hh, ww); err != nil {
			return nil, err
		}
		if avg, ok := l.(*AvgPool2D); ok {
			avg.In = in // the grid of its input: the simulation pools the codes on it
		}
		ql, ok := l.(Quantized)
		if !ok {
			continue
		}
		q := ql.Quant()
		q.Config = specLayerQ(cfg, specQ, l.Name(), i == lastQ)
		var fanIn, out int
		switch t := l.(type) {
		case *Conv2D:
			t.W = newParam(t.LayerName+".w", t.OutC, t.InC, t.K, t.K)
			if t.BN == nil {
				t.B = newParam(t.LayerName+".b", t.OutC)
			}
			fanIn, out = t.InC*t.K*t.K, t.OutC
		case *Linear:
			t.W, t.B = newParam(t.LayerName+".w", t.Out, t.In), newParam(t.LayerName+".b", t.Out)
			fanIn, out = t.In, t.Out
		}
		heNormal(ql.Weights(), fanIn, rng)
		q.In = in
		q.W = &autograd.WeightQuantizer{Ctx: m.Ctx, Scheme: q.Config.WeightScheme(), PerChannel: q.Config.PerChannel, Channels: out}
		q.Out = &autograd.ActQuantizer{Ctx: m.Ctx, Scheme: q.Config.ActScheme(), Decay: cfg.Decay, Delay: cfg.Delay}
		q.B = &autograd.BiasQuantizer{In: q.In, W: q.W}
		q.Out.Acc, q.Out.ReLU6 = q.B, q.Act == ActReLU6
		if cfg.LSQ() && !q.Config.Float {
			q.WStep = newParam(l.Name()+".w.logstep", q.W.NumSteps())
			q.AStep = newParam(l.Name()+".a.logstep", 1)
			q.W.LogStep = q.WStep.Data
			q.Out.Fixed = true // its range comes from the step (autograd.ActQuantizer.SetLogStep)
		}
		in = q.Out
	}
	m.Classes = cc * hh * ww
	for name := range cfg.Layers {
		found := false
		for _, l := range m.Quantized() {
			found = found || l.Name() == name
		}
		if !found {
			return nil, fmt.Errorf("nn: %s has no quantizable layer %q", arch, name)
		}
	}
	return m, nil
}

// FloatLayers returns the names of the layers kept in float (LayerQ.Float), in order.
func (m *Model) FloatLayers() []string {
	var ns []string
	for _, l := range m.Quantized() {
		if l.Quant().Config.Float {
			ns = append(ns, l.Name())
		}
	}
	return ns
}

// Params returns every trainable parameter in layer order.
func (m *Model) Params() []*Param {
	var ps []*Param
	for _, l := range m.Layers {
		ps = append(ps, l.Params()...)
	}
	return ps
}

// Quantized returns the quantizable layers in order.
func (m *Model) Quantized() []Quantized {
	var qs []Quantized
	for _, l := range m.Layers {
		if q, ok := l.(Quantized); ok {
			qs = append(qs, q)
		}
	}
	return qs
}

// SetMode switches every quantizer of the model (and so of all its graphs).
func (m *Model) SetMode(mode autograd.Mode) { m.Ctx.Mode = mode }

// ActQuantizers returns the activation quantizers with range state (input excluded), in order.
func (m *Model) ActQuantizers() []*autograd.ActQuantizer {
	var qs []*autograd.ActQuantizer
	for _, l := range m.Quantized() {
		qs = append(qs, l.Quant().Out)
	}
	return qs
}

// ResetRanges forgets every tracked activation range (before calibration or fresh QAT).
func (m *Model) ResetRanges() {
	for _, q := range m.ActQuantizers() {
		q.Reset()
	}
}

// NumWeights counts the values of all parameters.
func (m *Model) NumWeights() int {
	n := 0
	for _, p := range m.Params() {
		n += p.Size()
	}
	return n
}

// LearnedSteps returns the learned ln(step) parameters (LSQ) in layer order, weights before
// activations; none unless Config.Quantizer is "lsq".
func (m *Model) LearnedSteps() []*Param {
	var ps []*Param
	for _, l := range m.Quantized() {
		if q := l.Quant(); q.WStep != nil {
			ps = append(ps, q.WStep, q.AStep)
		}
	}
	return ps
}

// SyncSteps writes every learned activation step into its quantizer's range (the graphs do it
// on every run; call it after changing the steps outside a graph, e.g. after loading them).
func (m *Model) SyncSteps() {
	for _, l := range m.Quantized() {
		if q := l.Quant(); q.AStep != nil {
			q.Out.SetLogStep(q.AStep.Data)
		}
	}
}
