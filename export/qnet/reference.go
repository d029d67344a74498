package qnet

// referenceTrace runs one image through the model with the reference kernels
// only (conv2d.go, fully_connected.go, maxpool.go, avgpool.go) and returns every layer's
// output. It is the executable specification the Runner is tested against;
// it allocates freely. The model must be valid.
func referenceTrace(m *Model, img []uint8) [][]uint8 {
	outs := make([][]uint8, len(m.Layers))
	c, h, w := m.InC, m.InH, m.InW
	cur := img
	z, lo, hi := m.InputZero, int32(0), int32(255)
	for i, l := range m.Layers {
		oc, oh, ow, err := l.OutShape(c, h, w)
		if err != nil {
			panic("qnet: referenceTrace: " + err.Error())
		}
		out := make([]uint8, oc*oh*ow)
		switch l := l.(type) {
		case *Conv2D:
			conv2D(out, cur, l, h, w, m.Rounding)
		case *FullyConnected:
			fullyConnected(out, cur, l, m.Rounding)
		case *MaxPool2D:
			maxPool2D(out, cur, l, c, h, w)
		case *AvgPool2D:
			avgPool2D(out, cur, l, c, h, w, z, lo, hi, m.Rounding)
		}
		z, lo, hi = l.quantized(z, lo, hi)
		outs[i] = out
		cur, c, h, w = out, oc, oh, ow
	}
	return outs
}
