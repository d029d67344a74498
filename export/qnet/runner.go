package qnet

import (
	"fmt"

	"github.com/qatgo/qatgo/export/qnet/internal/qgemm"
)

// PredictBatch pushes blocks of up to batchBlock images through the layers
// together, so FullyConnected layers read their weights once per block;
// fewer if a block's activations would exceed blockBudget bytes.
const (
	batchBlock  = 16
	blockBudget = 1 << 20
	simdBlock   = 32 // the SIMD engine's block
)

// A Runner evaluates a Model on images. It owns the buffers of one inference
// and reuses them, so Forward and Predict do not allocate in steady state.
// A Runner is not safe for concurrent use; give each goroutine its own Runner
// (the Model itself is shared read-only).
//
// A Runner runs one of the fast engines (doc.go, "Kernels": engine.go with
// internal/qgemm, or plan.go and sparse.go), which equal the reference
// kernels (conv2d.go, fully_connected.go, maxpool.go) bit for bit. It keeps
// its own copy of the weights in its engine's layout (the SIMD engine: 1
// byte per weight, and 8 per entry of a layer on its sparse path; the lane-packed engine: 2 to 4
// bytes per weight, or 8 per nonzero on the sparse path) and activation
// buffers, for one image until PredictBatch first needs a block.
type Runner struct {
	m       *Model
	path    KernelPath
	kernels Kernels
	eng     *engine // the SIMD engine (engine.go); nil: the lane-packed and sparse kernels below
	plans   []layerPlan
	inLen   int
	outLen  int
	block   int        // images per block in PredictBatch
	bufs    [2][]uint8 // ping-pong activations, block images each
	xs      []int16    // centered inputs: im2col of one image, or a block of FullyConnected inputs
	acc     []int32    // accumulators of the sparse kernel: one channel of one image, or of a block
}

// A KernelPath selects the kernels a Runner uses for Conv2D and
// FullyConnected layers. All paths compute the same outputs.
type KernelPath uint8

// The kernel paths.
const (
	// PathAuto uses, per layer, the kernel estimated to be faster: the
	// sparse one below a crossover density that depends on the layer's
	// shape and bit widths (doc.go, "Sparse layers"); for LeNet-5's layers
	// about 30% to 60%.
	PathAuto KernelPath = iota
	// PathDense uses the dense, lane-packed kernel for every layer.
	PathDense
	// PathSparse uses the sparse kernel for every layer.
	PathSparse
)

func (p KernelPath) String() string {
	switch p {
	case PathAuto:
		return "auto"
	case PathDense:
		return "dense"
	case PathSparse:
		return "sparse"
	}
	return fmt.Sprintf("KernelPath(%d)", uint8(p))
}

// Kernels selects the engine of a Runner and, for the SIMD engine, the
// instruction set of its kernels. Every choice computes the same outputs.
type Kernels uint8

// The engines.
const (
	// KernelsAuto is the SIMD engine with the AVX2 kernels where the CPU
	// has AVX2 (also on AVX-512 VNNI CPUs: see resolve), or KernelsLanes on a CPU or build
	// (-tags purego, other architectures) with neither: the lane-packed Go
	// kernels are faster than the SIMD engine's plain Go form.
	KernelsAuto Kernels = iota
	// KernelsLanes is the engine of plan.go and sparse.go: lane-packed
	// int64 multiplies for dense layers, compressed sparse rows for pruned
	// ones (PathAuto picks per layer), all in plain Go, CHW.
	KernelsLanes
	// KernelsGo is the SIMD engine (engine.go) with qgemm's plain Go
	// kernels: the specification of the assembly, on every architecture.
	KernelsGo
	// KernelsAVX2 is the SIMD engine with the AVX2 kernels.
	KernelsAVX2
	// KernelsVNNI is the SIMD engine with the AVX-512 VNNI kernels.
	KernelsVNNI
)

func (k Kernels) String() string {
	switch k {
	case KernelsAuto:
		return "auto"
	case KernelsLanes:
		return "lanes"
	case KernelsGo:
		return "go"
	case KernelsAVX2:
		return "avx2"
	case KernelsVNNI:
		return "vnni"
	}
	return fmt.Sprintf("Kernels(%d)", uint8(k))
}

// level returns the qgemm level of a SIMD-engine choice.
func (k Kernels) level() qgemm.Level {
	switch k {
	case KernelsAVX2:
		return qgemm.LevelAVX2
	case KernelsVNNI:
		return qgemm.LevelVNNI
	}
	return qgemm.LevelGo
}

// Supported reports whether this CPU and build run k.
func (k Kernels) Supported() bool {
	switch k {
	case KernelsAuto, KernelsLanes, KernelsGo:
		return true
	case KernelsAVX2, KernelsVNNI:
		return qgemm.Supported(k.level())
	}
	return false
}

// resolve returns what KernelsAuto means here.
func (k Kernels) resolve() Kernels {
	if k != KernelsAuto {
		return k
	}
	switch qgemm.Best() {
	case qgemm.LevelVNNI, qgemm.LevelAVX2:
		// Not VNNI, even where the CPU has it: its kernels have not yet run on a VNNI CPU
		// (this project's machines have AVX2 only), so they are used only on request
		// (KernelsVNNI). The tests check them against the reference wherever the CPU has
		// VNNI; once that has passed, Auto can choose them.
		return KernelsAVX2
	}
	return KernelsLanes
}

// RunnerOptions configures NewRunnerWith. The zero value is what NewRunner
// uses.
type RunnerOptions struct {
	// Path selects dense or sparse kernels: PathDense runs every layer
	// dense (to measure what the sparse kernels gain on a pruned model),
	// PathAuto picks per layer by density on either engine. PathSparse
	// runs the lane-packed engine's sparse kernel whatever Kernels says.
	Path KernelPath
	// Kernels selects the engine; the zero value is the fastest here.
	Kernels Kernels

	sparseAll bool // tests: the SIMD engine runs every layer it can sparse, at any batch
}

// NewRunner returns a Runner for m. It panics if m is not valid (see
// Validate); Decode and ReadFile only return valid models. m must not be
// modified while the Runner is in use.
func (m *Model) NewRunner() *Runner { return m.NewRunnerWith(RunnerOptions{}) }

// NewRunnerWith is NewRunner with options. It also panics if opt.Path is
// not one of the KernelPath constants.
func (m *Model) NewRunnerWith(opt RunnerOptions) *Runner {
	if opt.Path > PathSparse {
		panic(fmt.Sprintf("qnet: NewRunnerWith: unknown %v", opt.Path))
	}
	if !opt.Kernels.Supported() {
		panic(fmt.Sprintf("qnet: NewRunnerWith: kernels %v not supported by this CPU or build", opt.Kernels))
	}
	if err := m.Validate(); err != nil {
		panic("qnet: NewRunner: invalid model: " + err.Error())
	}
	r := &Runner{m: m, path: opt.Path, kernels: opt.Kernels.resolve(), inLen: m.InC * m.InH * m.InW}
	if r.path == PathSparse {
		r.kernels = KernelsLanes
	}
	if r.kernels == KernelsLanes {
		r.plan(0)
		return r
	}
	sp := sparseAuto
	switch {
	case opt.sparseAll:
		sp = sparseAlways
	case r.path == PathDense:
		sp = sparseNever
	}
	r.eng = newEngine(m, r.kernels.level(), sp)
	r.outLen = r.eng.outLen
	r.block = min(max(blockBudget/max(r.eng.maxAct, 1), 1), simdBlock)
	return r
}

// plan prepares every layer on r.path; lanes forces the lane count of the
// dense path where feasible (tests), 0 lets each layer choose.
func (r *Runner) plan(lanes int) {
	m := r.m
	r.plans = r.plans[:0]
	c, h, w := m.InC, m.InH, m.InW
	z, lo, hi := m.InputZero, int32(0), int32(255)
	maxAct, maxFC, maxAcc := 0, 0, 0
	for _, l := range m.Layers {
		p := newPlan(l, c, h, w, z, lo, hi, lanes, r.path, r.m.Rounding)
		r.plans = append(r.plans, p)
		maxAct = max(maxAct, p.outLen)
		switch p.kind {
		case KindFullyConnected:
			maxFC = max(maxFC, p.k)
		case KindConv2D:
			if p.sparse {
				maxAcc = max(maxAcc, p.outH*p.outW)
			}
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
	r.acc = make([]int32, max(maxAcc, r.block))
}

// Kernels reports the engine the Runner runs (never KernelsAuto).
func (r *Runner) Kernels() Kernels { return r.kernels }

// SparseLayers reports, for every layer of the model, whether the Runner
// computes it with a sparse kernel (false for MaxPool2D layers; on the SIMD
// engine a sparse FullyConnected layer runs dense for blocks of fewer than
// 8 images, Forward and Predict included).
func (r *Runner) SparseLayers() []bool {
	if r.eng != nil {
		s := make([]bool, len(r.eng.plans))
		for i := range r.eng.plans {
			s[i] = r.eng.plans[i].sp != nil
		}
		return s
	}
	s := make([]bool, len(r.plans))
	for i := range r.plans {
		s[i] = r.plans[i].sparse
	}
	return s
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
	if r.eng != nil {
		return r.eng.trace(img)
	}
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
	if r.eng != nil && n > 1 {
		r.eng.grow(min(n, r.block))
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
	if r.eng != nil {
		return r.eng.forward(src, n)
	}
	cur := src
	for i := range r.plans {
		p := &r.plans[i]
		dst := r.bufs[i%2][:n*p.outLen]
		switch p.kind {
		case KindConv2D:
			for j := 0; j < n; j++ {
				d, s := dst[j*p.outLen:(j+1)*p.outLen], cur[j*p.inLen:(j+1)*p.inLen]
				if p.sparse {
					p.convSparse(d, s, r.xs, r.acc)
				} else {
					p.convFast(d, s, r.xs)
				}
			}
		case KindFullyConnected:
			if p.sparse {
				p.fcSparse(dst, cur, n, r.xs, r.acc)
			} else {
				p.fcBatch(dst, cur, n, r.xs)
			}
		case KindMaxPool2D:
			for j := 0; j < n; j++ {
				maxPool2D(dst[j*p.outLen:(j+1)*p.outLen], cur[j*p.inLen:(j+1)*p.inLen], p.pool, p.inC, p.inH, p.inW)
			}
		case KindAvgPool2D:
			for j := 0; j < n; j++ {
				avgPool2D(dst[j*p.outLen:(j+1)*p.outLen], cur[j*p.inLen:(j+1)*p.inLen], p.avg, p.inC, p.inH, p.inW, p.z, p.lo, p.hi, p.rounding)
			}
		}
		if trace != nil {
			trace(i, dst)
		}
		cur = dst
	}
	return cur
}
