package nn

import (
	"fmt"
	"strings"
)

// Spec describes a sequential model: its input shape and its layers in order. It is the one
// description of an architecture: built-in networks are specs shipped with the module
// (BuiltinSpec), a program writes a Spec literal (or uses the layer constructors Conv, ConvBN,
// Dense, MaxPool, AvgPool, ReLU, ReLU6, Flat), and the CLI reads one from a JSON file
// (ParseSpec). Build turns it into a Model of the existing layer types (Conv2D, Linear,
// MaxPool2D, AvgPool2D, Flatten).
//
// JSON form (see README, "Model spec files"):
//
//	{"name": "tiny", "input": [3, 16, 16],
//	 "layers": [{"type": "conv2d", "out": 8, "kernel": 3, "stride": 2, "pad": 1},
//	            {"type": "relu"}, {"type": "flatten"}, {"type": "linear", "out": 4}]}
type Spec struct {
	// Name names the model (checkpoints, reports, the exported model). A custom spec may not
	// take the name of a built-in network.
	Name string `json:"name"`
	// Input is the image shape C, H, W; images are uint8 pixels, seen by the model as p/255.
	Input [3]int `json:"input"`
	// Normalize, when set, folds x = (p/255 - Mean)/Std into the first layer, which must be a
	// conv2d without padding or batch norm (the fold is exact only there).
	Normalize *Normalize  `json:"normalize,omitempty"`
	Layers    []LayerSpec `json:"layers"`
}

// Normalize is an input normalization (x - Mean)/Std of the pixels p/255.
type Normalize struct {
	Mean float64 `json:"mean"`
	Std  float64 `json:"std"`
}

// LayerSpec is one layer of a Spec.
//
//	type       fields                                   layer
//	conv2d     out, kernel, stride (1), pad (0), batch_norm   Conv2D (input channels from the shape)
//	linear     out                                      Linear (inputs from the shape; needs a flat input)
//	maxpool2d  kernel, stride (= kernel)                MaxPool2D, no padding
//	relu       -                                        fused into the conv2d or linear before it
//	relu6      -                                        fused into the conv2d or linear before it
//	flatten    -                                        Flatten (CHW order)
//	avgpool2d  kernel, stride (= kernel)                AvgPool2D, no padding (kernel <= 64)
//
// Quant, on a conv2d or linear layer, sets its weight and activation bits and per-channel
// weight scales in place of the model-wide defaults of Config (Config.Layers still overrides
// both, for mixed precision from the command line), or keeps the layer in float
// ({"float": true}, LayerSpec.Float): QAT then puts no fake quantization on its weights, bias
// or output, as is common for the first or last layer. The quantized exports refuse a model
// with a float layer.
type LayerSpec struct {
	Type      string     `json:"type"`
	Name      string     `json:"name,omitempty"`
	Out       int        `json:"out,omitempty"`
	Kernel    int        `json:"kernel,omitempty"`
	Stride    int        `json:"stride,omitempty"`
	Pad       int        `json:"pad,omitempty"`
	BatchNorm bool       `json:"batch_norm,omitempty"`
	Quant     *SpecQuant `json:"quant,omitempty"`
}

// SpecQuant is a layer's own quantization in a Spec. Zero fields take the model-wide value.
// Float keeps the layer unquantized and excludes the other fields.
type SpecQuant struct {
	WBits      int   `json:"w_bits,omitempty"`
	ABits      int   `json:"a_bits,omitempty"`
	PerChannel *bool `json:"per_channel,omitempty"`
	Float      bool  `json:"float,omitempty"`
}

// Layer types of a Spec.
const (
	TypeConv2D    = "conv2d"
	TypeLinear    = "linear"
	TypeMaxPool2D = "maxpool2d"
	TypeAvgPool2D = "avgpool2d"
	TypeReLU      = "relu"
	TypeReLU6     = "relu6"
	TypeFlatten   = "flatten"
)

// Conv is a conv2d layer spec: out channels, a k x k kernel, the stride and zero padding.
func Conv(out, k, stride, pad int) LayerSpec {
	return LayerSpec{Type: TypeConv2D, Out: out, Kernel: k, Stride: stride, Pad: pad}
}

// ConvBN is Conv followed by batch normalization (the conv then has no bias).
func ConvBN(out, k, stride, pad int) LayerSpec {
	l := Conv(out, k, stride, pad)
	l.BatchNorm = true
	return l
}

// Dense is a linear (fully connected) layer spec with out outputs.
func Dense(out int) LayerSpec { return LayerSpec{Type: TypeLinear, Out: out} }

// AvgPool is a k x k average-pool layer spec with the given stride.
func AvgPool(k, stride int) LayerSpec {
	return LayerSpec{Type: TypeAvgPool2D, Kernel: k, Stride: stride}
}

// MaxPool is a k x k max-pool layer spec with the given stride.
func MaxPool(k, stride int) LayerSpec {
	return LayerSpec{Type: TypeMaxPool2D, Kernel: k, Stride: stride}
}

// ReLU is a ReLU, fused into the conv2d or linear layer before it.
func ReLU() LayerSpec { return LayerSpec{Type: TypeReLU} }

// ReLU6 is min(max(x, 0), 6), fused into the conv2d or linear layer before it.
func ReLU6() LayerSpec { return LayerSpec{Type: TypeReLU6} }

// Flat is a flatten layer spec.
func Flat() LayerSpec { return LayerSpec{Type: TypeFlatten} }

// Named returns l with the given name.
func (l LayerSpec) Named(name string) LayerSpec { l.Name = name; return l }

// Quantized returns l with its own weight bits, activation bits and per-channel choice.
func (l LayerSpec) Quantized(wbits, abits int, perChannel bool) LayerSpec {
	l.Quant = &SpecQuant{WBits: wbits, ABits: abits, PerChannel: &perChannel}
	return l
}

// Float returns l kept in float: no fake quantization of its weights, bias or output in QAT
// (a model with a float layer trains and evaluates, but has no integer export).
func (l LayerSpec) Float() LayerSpec {
	l.Quant = &SpecQuant{Float: true}
	return l
}

// Limits on a spec, so that a spec file cannot make the builder allocate without bound.
const (
	MaxSpecLayers   = 256
	MaxSpecDim      = 4096    // input H, W; conv and linear outputs
	MaxSpecChannels = 4096    // input C
	MaxSpecKernel   = 64      // conv and pool kernel, stride, padding
	MaxSpecClasses  = 256     // outputs of the last layer (labels are bytes)
	MaxSpecWeights  = 1 << 27 // all parameters of the model together
	MaxSpecValues   = 1 << 24 // values of one image's input or of any layer's output
)

// Build builds the model a spec describes, with seeded He initialization. Shapes are checked
// layer by layer; an error names the layer (by index, type and name).
func Build(s *Spec, cfg Config, seed uint64) (*Model, error) {
	layers, specQ, err := s.layers()
	if err != nil {
		return nil, err
	}
	m, err := newModelQ(s.Name, s.Input[0], s.Input[1], s.Input[2], layers, cfg, seed, specQ)
	if err != nil {
		return nil, err
	}
	m.Spec = s.clone()
	return m, nil
}

// Check validates the spec without building the model: field ranges, shapes through every
// layer and the parameter count.
func (s *Spec) Check() error {
	_, _, err := s.layers()
	return err
}

func (s *Spec) clone() *Spec {
	c := *s
	if s.Normalize != nil {
		n := *s.Normalize
		c.Normalize = &n
	}
	c.Layers = make([]LayerSpec, len(s.Layers))
	for i, l := range s.Layers {
		c.Layers[i] = l
		if l.Quant != nil {
			q := *l.Quant
			if q.PerChannel != nil {
				p := *q.PerChannel
				q.PerChannel = &p
			}
			c.Layers[i].Quant = &q
		}
	}
	return &c
}

// layerError names a layer of the spec in an error.
func layerError(i int, l LayerSpec, format string, args ...any) error {
	name := ""
	if l.Name != "" {
		name = " " + l.Name
	}
	return fmt.Errorf("nn: spec layer %d (%s%s): %s", i+1, l.Type, name, fmt.Sprintf(format, args...))
}

// layers turns the spec into fresh layers (parameters not yet allocated) and the layers' own
// quantization, checking every shape.
func (s *Spec) layers() ([]Layer, map[string]SpecQuant, error) {
	if s.Name == "" {
		return nil, nil, fmt.Errorf("nn: spec has no name")
	}
	if len(s.Name) > 64 {
		return nil, nil, fmt.Errorf("nn: spec name is %d bytes, at most 64", len(s.Name))
	}
	c, h, w := s.Input[0], s.Input[1], s.Input[2]
	if c < 1 || c > MaxSpecChannels || h < 1 || h > MaxSpecDim || w < 1 || w > MaxSpecDim {
		return nil, nil, fmt.Errorf("nn: spec input %dx%dx%d: want C in 1..%d, H and W in 1..%d", c, h, w, MaxSpecChannels, MaxSpecDim)
	}
	if c*h*w > MaxSpecValues {
		return nil, nil, fmt.Errorf("nn: spec input %dx%dx%d has more than %d values per image", c, h, w, MaxSpecValues)
	}
	if len(s.Layers) == 0 {
		return nil, nil, fmt.Errorf("nn: spec %s has no layers", s.Name)
	}
	if len(s.Layers) > MaxSpecLayers {
		return nil, nil, fmt.Errorf("nn: spec %s has %d layers, at most %d", s.Name, len(s.Layers), MaxSpecLayers)
	}
	if n := s.Normalize; n != nil && !(n.Std > 0 && n.Std < 1e6 && n.Mean > -1e6 && n.Mean < 1e6) {
		return nil, nil, fmt.Errorf("nn: spec normalize: mean %v, std %v: want std > 0 and both finite", n.Mean, n.Std)
	}
	var (
		layers  []Layer
		specQ   = map[string]SpecQuant{}
		names   = map[string]bool{}
		counts  = map[string]int{}
		flat    = false
		weights = 0
		last    Layer // the last conv2d or linear, while no other layer followed it
	)
	for i, ls := range s.Layers {
		name := ls.Name
		if name == "" && ls.Type != TypeReLU && ls.Type != TypeReLU6 {
			if prefix, ok := map[string]string{TypeConv2D: "conv", TypeLinear: "fc", TypeMaxPool2D: "pool", TypeAvgPool2D: "avgpool", TypeFlatten: "flatten"}[ls.Type]; ok {
				counts[prefix]++
				name = fmt.Sprintf("%s%d", prefix, counts[prefix])
			}
		}
		ls.Name = name // errors name the layer
		if len(name) > 64 {
			return nil, nil, layerError(i, ls, "name is %d bytes, at most 64", len(name))
		}
		if name != "" && names[name] {
			return nil, nil, layerError(i, ls, "name %q is used twice", name)
		}
		names[name] = true
		inRange := func(what string, v, lo, hi int) error {
			if v < lo || v > hi {
				return layerError(i, ls, "%s %d out of range %d..%d", what, v, lo, hi)
			}
			return nil
		}
		only := func(allowed ...string) error {
			set := map[string]bool{}
			for _, a := range allowed {
				set[a] = true
			}
			for _, f := range []struct {
				name string
				set  bool
			}{{"out", ls.Out != 0}, {"kernel", ls.Kernel != 0}, {"stride", ls.Stride != 0}, {"pad", ls.Pad != 0}, {"batch_norm", ls.BatchNorm}, {"quant", ls.Quant != nil}} {
				if f.set && !set[f.name] {
					return layerError(i, ls, "has no field %q", f.name)
				}
			}
			return nil
		}
		if ls.Quant != nil {
			q := ls.Quant
			if q.Float && (q.WBits != 0 || q.ABits != 0 || q.PerChannel != nil) {
				return nil, nil, layerError(i, ls, "quant float excludes w_bits, a_bits and per_channel")
			}
			for _, b := range []struct {
				what string
				v    int
			}{{"w_bits", q.WBits}, {"a_bits", q.ABits}} {
				if b.v != 0 && (b.v < 2 || b.v > 8) {
					return nil, nil, layerError(i, ls, "quant %s = %d: bit width must be in 2..8", b.what, b.v)
				}
			}
		}
		var l Layer
		switch ls.Type {
		case TypeConv2D:
			if err := only("out", "kernel", "stride", "pad", "batch_norm", "quant"); err != nil {
				return nil, nil, err
			}
			if flat {
				return nil, nil, layerError(i, ls, "input is flat (after flatten or linear): a conv2d needs C x H x W")
			}
			stride := ls.Stride
			if stride == 0 {
				stride = 1
			}
			for _, e := range []error{inRange("out", ls.Out, 1, MaxSpecDim), inRange("kernel", ls.Kernel, 1, MaxSpecKernel),
				inRange("stride", stride, 1, MaxSpecKernel), inRange("pad", ls.Pad, 0, MaxSpecKernel)} {
				if e != nil {
					return nil, nil, e
				}
			}
			if ls.Pad >= ls.Kernel {
				return nil, nil, layerError(i, ls, "pad %d must be smaller than the kernel %d", ls.Pad, ls.Kernel)
			}
			conv := &Conv2D{LayerName: name, InC: c, OutC: ls.Out, K: ls.Kernel, Stride: stride, Pad: ls.Pad}
			if ls.BatchNorm {
				conv.BN = newBatchNorm(name, ls.Out)
			}
			weights += ls.Out * (c*ls.Kernel*ls.Kernel + 1)
			l = conv
		case TypeLinear:
			if err := only("out", "quant"); err != nil {
				return nil, nil, err
			}
			if !flat {
				return nil, nil, layerError(i, ls, "input is %dx%dx%d: add a flatten before a linear layer", c, h, w)
			}
			if err := inRange("out", ls.Out, 1, MaxSpecDim); err != nil {
				return nil, nil, err
			}
			weights += ls.Out * (c*h*w + 1)
			l = &Linear{LayerName: name, In: c * h * w, Out: ls.Out}
		case TypeMaxPool2D, TypeAvgPool2D:
			if err := only("kernel", "stride"); err != nil {
				return nil, nil, err
			}
			if flat {
				return nil, nil, layerError(i, ls, "input is flat (after flatten or linear): a pool needs C x H x W")
			}
			stride := ls.Stride
			if stride == 0 {
				stride = ls.Kernel
			}
			if err := inRange("kernel", ls.Kernel, 1, MaxSpecKernel); err != nil {
				return nil, nil, err
			}
			if err := inRange("stride", stride, 1, MaxSpecKernel); err != nil {
				return nil, nil, err
			}
			if ls.Type == TypeMaxPool2D {
				l = &MaxPool2D{LayerName: name, K: ls.Kernel, Stride: stride}
			} else {
				l = &AvgPool2D{LayerName: name, K: ls.Kernel, Stride: stride}
			}
		case TypeReLU, TypeReLU6:
			if err := only(); err != nil {
				return nil, nil, err
			}
			if s.Layers[i].Name != "" {
				return nil, nil, layerError(i, ls, "an activation has no name: it is part of the layer before it")
			}
			if last == nil {
				return nil, nil, layerError(i, ls, "must directly follow a conv2d or linear layer (the activation is fused into it)")
			}
			q := last.(Quantized).Quant()
			if q.Act != ActNone {
				return nil, nil, layerError(i, ls, "%s already has the activation %s", last.Name(), q.Act)
			}
			q.Act = ActReLU
			if ls.Type == TypeReLU6 {
				q.Act = ActReLU6
			}
			continue
		case TypeFlatten:
			if err := only(); err != nil {
				return nil, nil, err
			}
			l = &Flatten{LayerName: name}
		case "":
			return nil, nil, layerError(i, ls, "has no type (have conv2d, linear, maxpool2d, avgpool2d, relu, relu6, flatten)")
		default:
			return nil, nil, layerError(i, ls, "unknown type (have conv2d, linear, maxpool2d, avgpool2d, relu, relu6, flatten)")
		}
		if weights > MaxSpecWeights {
			return nil, nil, layerError(i, ls, "the model would have more than %d parameters", MaxSpecWeights)
		}
		var err error
		if c, h, w, err = l.OutShape(c, h, w); err != nil {
			return nil, nil, layerError(i, ls, "%s", strings.TrimPrefix(err.Error(), "nn: "+name+": "))
		}
		if c*h*w > MaxSpecValues {
			return nil, nil, layerError(i, ls, "output %dx%dx%d has more than %d values per image", c, h, w, MaxSpecValues)
		}
		if _, ok := l.(*Flatten); ok {
			flat = true
		}
		if _, ok := l.(*Linear); ok {
			flat = true
		}
		last = nil
		if _, ok := l.(Quantized); ok {
			last = l
			if ls.Quant != nil {
				specQ[name] = *ls.Quant
			}
		}
		layers = append(layers, l)
	}
	if !flat || h != 1 || w != 1 {
		return nil, nil, fmt.Errorf("nn: spec %s: the output is %dx%dx%d: end with a flatten or linear layer giving one score per class", s.Name, c, h, w)
	}
	if c < 2 || c > MaxSpecClasses {
		return nil, nil, fmt.Errorf("nn: spec %s: the output has %d values: want 2..%d classes", s.Name, c, MaxSpecClasses)
	}
	if n := s.Normalize; n != nil {
		first, ok := layers[0].(*Conv2D)
		if !ok || first.Pad != 0 || first.BN != nil {
			return nil, nil, fmt.Errorf("nn: spec %s: normalize folds into the first layer, which must be a conv2d without padding or batch norm", s.Name)
		}
		first.FoldNorm, first.NormMean, first.NormStd = true, n.Mean, n.Std
	}
	if len(Model{Layers: layers}.quantizedNames()) == 0 {
		return nil, nil, fmt.Errorf("nn: spec %s has no conv2d or linear layer", s.Name)
	}
	return layers, specQ, nil
}

func (m Model) quantizedNames() []string {
	var ns []string
	for _, l := range m.Layers {
		if _, ok := l.(Quantized); ok {
			ns = append(ns, l.Name())
		}
	}
	return ns
}

// specLayerQ is the quantization of a layer: Config.Layers if it names the layer, else the
// spec's own values over the model-wide defaults. A float layer keeps the model-wide bits in
// WBits and ABits (nothing applies them).
func specLayerQ(cfg Config, specQ map[string]SpecQuant, name string, last bool) LayerQ {
	if q, ok := cfg.Layers[name]; ok {
		return q
	}
	q := cfg.layerQ(name, last)
	if s, ok := specQ[name]; ok {
		q.Float = s.Float
		if s.WBits != 0 {
			q.WBits = s.WBits
		}
		if s.ABits != 0 {
			q.ABits = s.ABits
		}
		if s.PerChannel != nil {
			q.PerChannel = *s.PerChannel
		}
	}
	return q
}
