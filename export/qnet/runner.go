package qnet

import "fmt"

// PredictBatch pushes blocks of up to batchBlock images through the layers
// together, so FullyConnected layers read their weights once per block;
// fewer if a block's activations would exceed blockBudget bytes.
const (
	batchBlock  = 16
	blockBudget = 1 << 20
)

// A Runner evaluates a Model on images. It owns the buffers of one inference
// and reuses them, so Forward and Predict do not allocate in steady state.
// A Runner is not safe for concurrent use; give each goroutine its own Runner
// (the Model itself is shared read-only).
//
// A Runner runs the fast path (plan.go), which equals the reference kernels
// (conv2d.go, fully_connected.go, maxpool.go) bit for bit. It keeps its own
// lane-packed copy of the weights (2 to 4 bytes per weight) and activation
// buffers for a block of images.
type Runner struct {
	m      *Model
	plans  []layerPlan
	inLen  int
	outLen int
	block  int        // images per block in PredictBatch
	bufs   [2][]uint8 // ping-pong activations, block images each
	xs     []int16    // centered inputs: im2col of one image, or a block of FullyConnected inputs
}

// NewRunner returns a Runner for m. It panics if m is not valid (see
// Validate); Decode and ReadFile only return valid models. m must not be
// modified while the Runner is in use.
func (m *Model) NewRunner() *Runner {
	if err := m.Validate(); err != nil {
		panic("qnet: NewRunner: invalid model: " + err.Error())
	}
	r := &Runner{m: m, inLen: m.InC * m.InH * m.InW}
	r.plan(0)
	return r
}

// plan prepares every layer; lanes forces the lane count of the fast path
// where feasible (tests), 0 lets each layer choose.
func (r *Runner) plan(lanes int) {
	m := r.m
	r.plans = r.plans[:0]
	c, h, w := m.InC, m.InH, m.InW
	z, lo, hi := m.InputZero, int32(0), int32(255)
	maxAct, maxFC := 0, 0
	for _, l := range m.Layers {
		p := newPlan(l, c, h, w, z, lo, hi, lanes)
		r.plans = append(r.plans, p)
		maxAct = max(maxAct, p.outLen)
		if p.kind == KindFullyConnected {
			maxFC = max(maxFC, p.k)
		}
		c, h, w = p.outC, p.outH, p.outW
		z, lo, hi = l.quantized(z, lo, hi)
	}
	r.outLen = c * h * w
	r.block = min(max(blockBudget/max(maxAct, maxFC), 1), batchBlock)
	maxXs := 0
	for i := range r.plans {
		maxXs = max(maxXs, r.plans[i].scratchLen(r.block))
	}
	r.bufs[0] = make([]uint8, r.block*maxAct)
	r.bufs[1] = make([]uint8, r.block*maxAct)
	r.xs = make([]int16, maxXs)
}

// Model returns the model the Runner evaluates.
func (r *Runner) Model() *Model { return r.m }

// Forward runs one image (InC*InH*InW bytes, CHW) through the model and
// returns the last layer's output, the quantized logits. The returned slice
// belongs to the Runner and is overwritten by its next call.
// It panics if len(img) is not InC*InH*InW.
func (r *Runner) Forward(img []uint8) []uint8 {
	r.checkLen("Forward", len(img), 1)
	out := r.forward(img, 1, nil)
	return out[:r.outLen:r.outLen]
}

// Predict returns the index of the largest logit of img (the lowest index
// among equal ones). It panics if len(img) is not InC*InH*InW.
func (r *Runner) Predict(img []uint8) int {
	return Argmax(r.Forward(img))
}

// Trace runs one image and returns a copy of every layer's output, in layer
// order, for per-layer comparison with the training-time simulation.
// It panics if len(img) is not InC*InH*InW.
func (r *Runner) Trace(img []uint8) [][]uint8 {
	r.checkLen("Trace", len(img), 1)
	outs := make([][]uint8, 0, len(r.plans))
	r.forward(img, 1, func(_ int, out []uint8) {
		outs = append(outs, append([]uint8(nil), out...))
	})
	return outs
}

// PredictBatch predicts n images stored back to back in imgs and writes the
// classes to dst[:n]. It processes the images in blocks through the batched
// fast path; the result equals calling Predict on each image.
// It panics if len(imgs) != n*InC*InH*InW or len(dst) < n.
func (r *Runner) PredictBatch(imgs []uint8, n int, dst []int) {
	r.checkLen("PredictBatch", len(imgs), n)
	if len(dst) < n {
		panic(fmt.Sprintf("qnet: PredictBatch: dst has %d entries for %d images", len(dst), n))
	}
	for start := 0; start < n; start += r.block {
		b := min(r.block, n-start)
		out := r.forward(imgs[start*r.inLen:(start+b)*r.inLen], b, nil)
		for j := 0; j < b; j++ {
			dst[start+j] = Argmax(out[j*r.outLen : (j+1)*r.outLen])
		}
	}
}

func (r *Runner) checkLen(op string, got, n int) {
	if n < 0 || got != n*r.inLen {
		panic(fmt.Sprintf("qnet: %s: input has %d bytes, want %d images of %d", op, got, n, r.inLen))
	}
}

// forward runs n <= r.block images (back to back in src) through every
// layer and returns the last layer's outputs (n*outLen bytes of r.bufs).
// If trace is not nil it is called with every layer's output (n == 1).
func (r *Runner) forward(src []uint8, n int, trace func(layer int, out []uint8)) []uint8 {
	cur := src
	for i := range r.plans {
		p := &r.plans[i]
		dst := r.bufs[i%2][:n*p.outLen]
		switch p.kind {
		case KindConv2D:
			for j := 0; j < n; j++ {
				p.convFast(dst[j*p.outLen:(j+1)*p.outLen], cur[j*p.inLen:(j+1)*p.inLen], r.xs)
			}
		case KindFullyConnected:
			p.fcBatch(dst, cur, n, r.xs)
		case KindMaxPool2D:
			for j := 0; j < n; j++ {
				maxPool2D(dst[j*p.outLen:(j+1)*p.outLen], cur[j*p.inLen:(j+1)*p.inLen], p.pool, p.inC, p.inH, p.inW)
			}
		}
		if trace != nil {
			trace(i, dst)
		}
		cur = dst
	}
	return cur
}
