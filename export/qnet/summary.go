package qnet

// LayerSummary describes one layer of a Model, for reports.
type LayerSummary struct {
	Index            int
	Kind             LayerKind
	OutC, OutH, OutW int // output shape
	Params           int // weights plus biases
	MACs             int // multiply-adds per image (Conv2D: output elements x InC*KH*KW)
	WeightBits       int // 0 for layers without weights
	OutBits          int // bits of the output codes (MaxPool2D, AvgPool2D: those of its input)
	Bytes            int // size of the layer's record in the file (as Encode writes it)

	Nonzero  int            // nonzero weights (0 for layers without weights)
	Encoding WeightEncoding // weight encoding Encode picks (EncodingAuto for layers without weights)
	Sparse   bool           // NewRunner computes the layer with a sparse kernel (Runner.SparseLayers)
}

// Summary describes every layer of a valid model. It panics if m is not
// valid (see Validate).
func (m *Model) Summary() []LayerSummary {
	if err := m.Validate(); err != nil {
		panic("qnet: Summary: invalid model: " + err.Error())
	}
	rep, err := Storage(m, EncodeOptions{})
	if err != nil {
		panic("qnet: Summary: " + err.Error())
	}
	out := make([]LayerSummary, len(m.Layers))
	c, h, w := m.InC, m.InH, m.InW
	z, lo, hi := m.InputZero, int32(0), int32(255)
	bits := 8 // raw pixels
	for i, l := range m.Layers {
		h0, w0 := h, w // the layer's input
		c, h, w, _ = l.OutShape(c, h, w)
		s := LayerSummary{Index: i, Kind: l.Kind(), OutC: c, OutH: h, OutW: w, OutBits: bits}
		switch l := l.(type) {
		case *Conv2D:
			s.Params, s.WeightBits, s.OutBits = len(l.Weights)+len(l.Bias), l.WeightBits, l.OutBits
			s.MACs = c * h * w * l.InC * l.KH * l.KW
		case *FullyConnected:
			s.Params, s.WeightBits, s.OutBits = len(l.Weights)+len(l.Bias), l.WeightBits, l.OutBits
			s.MACs = len(l.Weights)
		}
		if KernelsAuto.resolve() == KernelsLanes {
			s.Sparse = autoSparse(l, int64(max(z-lo, hi-z)))
		} else {
			s.Sparse = simdSparse(l, h0, w0, int(max(hi, z)))
		}
		z, lo, hi = l.quantized(z, lo, hi)
		bits = s.OutBits
		st := rep.Layers[i]
		s.Bytes, s.Nonzero, s.Encoding = st.Bytes, st.Nonzero, st.Encoding
		out[i] = s
	}
	return out
}
