package nn

import (
	"fmt"

	"github.com/qatgo/qatgo/autograd"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// builder carries the state of one graph construction.
type builder struct {
	g      *gorgonia.ExprGraph
	folded bool // batch norm folded into the weights (quantized graphs)
	stock  bool // gorgonia's own Conv2d, MaxPool2D, Mul and Rectify instead of qatgo's
	// dataInput is true while the current activation depends on no parameter (the model
	// input): a conv there needs no input gradient.
	dataInput bool
	// poolNext is set while building a layer that a MaxPool2D follows in a training graph: its
	// output quantizer then goes after the pool (pooled, below).
	poolNext bool
	// pooled is the output quantizer that finish left for the next MaxPool2D to apply to its
	// output (autograd.FakeQuantPooled), or nil.
	pooled *autograd.ActQuantizer
	// pooledStep is pooled's learned step (LSQ), or nil: the pool then applies
	// autograd.FakeQuantLSQ to its output (max commutes with the monotone quantizer; a learned
	// step observes no range, so the pre-pool tensor is not needed).
	pooledStep *Param
	nodes      map[*Param]*gorgonia.Node
	order      []*Param
}

// param returns p's node in this graph; its value shares p.Data.
func (b *builder) param(p *Param) *gorgonia.Node {
	if n, ok := b.nodes[p]; ok {
		return n
	}
	t := tensor.New(tensor.WithShape(p.Shape...), tensor.WithBacking(p.Data))
	n := gorgonia.NewTensor(b.g, tensor.Float32, len(p.Shape), gorgonia.WithShape(p.Shape...), gorgonia.WithName(p.Name), gorgonia.WithValue(t))
	b.nodes[p] = n
	b.order = append(b.order, p)
	return n
}

// conv2d adds a convolution of x with w: qatgo's NCHW op (autograd.Conv2D, no input gradient
// when x is the model input) or gorgonia's stock Conv2d.
func (b *builder) conv2d(x, w *gorgonia.Node, k, stride, pad int) (*gorgonia.Node, error) {
	switch {
	case b.stock:
		return gorgonia.Conv2d(x, w, tensor.Shape{k, k}, []int{pad, pad}, []int{stride, stride}, []int{1, 1})
	case b.dataInput:
		return autograd.Conv2DNoInputGrad(x, w, stride, pad)
	}
	return autograd.Conv2D(x, w, stride, pad)
}

// maxPool2D adds a k x k max pool (no padding): autograd.MaxPool2D or gorgonia's MaxPool2D,
// followed by the previous layer's output quantizer if finish left it (b.pooled).
func (b *builder) maxPool2D(x *gorgonia.Node, k, stride int) (*gorgonia.Node, error) {
	var y *gorgonia.Node
	var err error
	if b.stock {
		y, err = gorgonia.MaxPool2D(x, tensor.Shape{k, k}, []int{0, 0}, []int{stride, stride})
	} else {
		y, err = autograd.MaxPool2D(x, k, stride)
	}
	if err != nil || b.pooled == nil {
		return y, err
	}
	q, step := b.pooled, b.pooledStep
	b.pooled, b.pooledStep = nil, nil
	if step != nil {
		return autograd.FakeQuantLSQ(y, b.param(step), q)
	}
	return autograd.FakeQuantPooled(y, x, q)
}

// linear adds y = x w^T for x (N, In) and w (Out, In): qatgo's Sgemm op (autograd.Linear, no
// input gradient when x is the model input) or gorgonia's Mul(x, Transpose(w)).
func (b *builder) linear(x, w *gorgonia.Node) (*gorgonia.Node, error) {
	switch {
	case b.stock:
		wt, err := gorgonia.Transpose(w)
		if err != nil {
			return nil, err
		}
		return gorgonia.Mul(x, wt)
	case b.dataInput:
		return autograd.LinearNoInputGrad(x, w)
	}
	return autograd.Linear(x, w)
}

// Graph is a model compiled for a fixed batch size: forward (and, for training graphs, loss
// and gradients) on a gorgonia tape machine.
type Graph struct {
	Model  *Model
	Batch  int
	G      *gorgonia.ExprGraph
	X      *gorgonia.Node // (Batch, C, H, W) pixels p/255
	T      *gorgonia.Node // (Batch, Classes) one-hot targets (training graphs)
	Logits *gorgonia.Node
	Loss   *gorgonia.Node
	// Outputs[i] is the output node of Layers[i]. In a training graph, a layer that a
	// MaxPool2D follows has its output quantized after the pool (autograd.FakeQuantPooled,
	// the same values after the pool), so its node here holds the unquantized activation.
	Outputs []*gorgonia.Node
	Params  []*Param
	Nodes   []*gorgonia.Node // parameter nodes, aligned with Params

	x, t []float32
	vm   gorgonia.VM
}

// NewGraph compiles m for batches of the given size. With train, the graph also computes the
// loss and the gradients of every parameter.
func (m *Model) NewGraph(batch int, train bool) (*Graph, error) {
	if batch <= 0 {
		return nil, fmt.Errorf("nn: batch size %d must be positive", batch)
	}
	if _, err := ParseOps(string(m.Ops)); err != nil {
		return nil, err
	}
	gr := &Graph{Model: m, Batch: batch, G: gorgonia.NewGraph()}
	b := &builder{g: gr.G, nodes: map[*Param]*gorgonia.Node{}, folded: m.FoldBN, stock: m.Ops == OpsGorgonia, dataInput: true}
	gr.x = make([]float32, batch*m.InC*m.InH*m.InW)
	xt := tensor.New(tensor.WithShape(batch, m.InC, m.InH, m.InW), tensor.WithBacking(gr.x))
	gr.X = gorgonia.NewTensor(gr.G, tensor.Float32, 4, gorgonia.WithShape(batch, m.InC, m.InH, m.InW), gorgonia.WithName("x"), gorgonia.WithValue(xt))
	h, err := autograd.FakeQuant(gr.X, m.InQ)
	if err != nil {
		return nil, err
	}
	for i, l := range m.Layers {
		if train && !m.QuantizeBeforePool && i+1 < len(m.Layers) {
			_, b.poolNext = m.Layers[i+1].(*MaxPool2D)
		} else {
			b.poolNext = false
		}
		if h, err = l.build(b, h); err != nil {
			return nil, fmt.Errorf("nn: building %s: %w", l.Name(), err)
		}
		if len(l.Params()) > 0 {
			b.dataInput = false
		}
		gr.Outputs = append(gr.Outputs, h)
	}
	gr.Logits = h
	if s := h.Shape(); s.Dims() != 2 || s[1] != m.Classes {
		return nil, fmt.Errorf("nn: model output shape %v, want (%d, %d)", s, batch, m.Classes)
	}
	gr.Params = b.order
	for _, p := range gr.Params {
		gr.Nodes = append(gr.Nodes, b.nodes[p])
	}
	if train {
		gr.t = make([]float32, batch*m.Classes)
		tt := tensor.New(tensor.WithShape(batch, m.Classes), tensor.WithBacking(gr.t))
		gr.T = gorgonia.NewTensor(gr.G, tensor.Float32, 2, gorgonia.WithShape(batch, m.Classes), gorgonia.WithName("t"), gorgonia.WithValue(tt))
		if gr.Loss, err = autograd.SoftmaxCrossEntropy(gr.Logits, gr.T); err != nil {
			return nil, err
		}
		if _, err = gorgonia.Grad(gr.Loss, gr.Nodes...); err != nil {
			return nil, fmt.Errorf("nn: gradients: %w", err)
		}
		gr.vm = gorgonia.NewTapeMachine(gr.G, gorgonia.BindDualValues(gr.Nodes...))
	} else {
		gr.vm = gorgonia.NewTapeMachine(gr.G)
	}
	return gr, nil
}

// Input returns the graph's input buffer (Batch*C*H*W values p/255); fill it before Run.
func (gr *Graph) Input() []float32 { return gr.x }

// Targets returns the one-hot target buffer (Batch*Classes) of a training graph.
func (gr *Graph) Targets() []float32 { return gr.t }

// Run executes the graph once on the current input (and targets). For a training graph it
// returns the loss and leaves the gradients in Grad; gradients accumulate across runs until
// ZeroGrad.
func (gr *Graph) Run() (loss float32, err error) {
	defer gr.vm.Reset()
	if err = gr.vm.RunAll(); err != nil {
		return 0, err
	}
	if gr.Loss != nil {
		switch v := gr.Loss.Value().(type) {
		case *gorgonia.F32:
			loss = float32(*v)
		default:
			return 0, fmt.Errorf("nn: loss has type %T", v)
		}
	}
	return loss, nil
}

// Grad returns the gradient buffer of parameter i (aligned with Params).
func (gr *Graph) Grad(i int) ([]float32, error) {
	g, err := gr.Nodes[i].Grad()
	if err != nil {
		return nil, err
	}
	d, ok := g.Data().([]float32)
	if !ok {
		return nil, fmt.Errorf("nn: gradient of %s has type %T", gr.Params[i].Name, g.Data())
	}
	return d, nil
}

// ZeroGrad clears every gradient buffer.
func (gr *Graph) ZeroGrad() error {
	for i := range gr.Nodes {
		d, err := gr.Grad(i)
		if err != nil {
			return err
		}
		clear(d)
	}
	return nil
}

// LogitsData returns the logits of the last Run, (Batch, Classes) row-major.
func (gr *Graph) LogitsData() []float32 { return gr.Logits.Value().Data().([]float32) }

// OutputData returns the output of layer i from the last Run.
func (gr *Graph) OutputData(i int) []float32 { return gr.Outputs[i].Value().Data().([]float32) }

// Close releases the machine.
func (gr *Graph) Close() error { return gr.vm.Close() }
