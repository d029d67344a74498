package autograd

import (
	"errors"
	"fmt"
	"math"

	"github.com/chewxy/hm"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Batch normalization (Ioffe & Szegedy 2015) and its folding into the preceding layer for QAT
// (Jacob et al. 2018, §3.2).
//
// For x of shape (N, C, ...) and channel c, with M = N * prod(spatial) values per channel:
//
//	(B1) mu[c] = (1/M) sum x[n,c,...],  var[c] = (1/M) sum (x[n,c,...] - mu[c])^2 (biased)
//	(B2) xhat = (x - mu[c]) / sqrt(var[c] + Eps),  y = gamma[c] xhat + beta[c]
//	(B3) Mean[c] <- (1-Momentum) Mean[c] + Momentum mu[c]
//	     Var[c]  <- (1-Momentum) Var[c]  + Momentum var[c] M/(M-1)   (unbiased)
//	(B4) dbeta[c] = sum dy,  dgamma[c] = sum dy xhat
//	(B5) training: dx = gamma[c]/sqrt(var[c]+Eps) (dy - (1/M) sum dy - xhat (1/M) sum dy xhat)
//	     eval:     dx = gamma[c]/sqrt(Var[c]+Eps) dy
//
// In training mode (B1) gives mu and var, (B3) updates the running statistics, and every x of a
// channel moves mu and var, hence the two coupling terms of (B5). In eval mode mu and var are
// the running Mean and Var, constants of the graph, and the op is affine in x.
//
// Folding with frozen running statistics, for a layer whose weights w have the output channel
// on axis 0 (conv OIHW, linear (Out, In)) and no bias of its own:
//
//	(F1) s[c]  = gamma[c] / sqrt(Var[c] + Eps)
//	(F2) wf[c,...] = w[c,...] s[c]
//	(F3) bf[c] = beta[c] - Mean[c] s[c]
//	(F4) dw = dwf s,  dgamma[c] = sum_k dwf[c,k] w[c,k] / sqrt(Var[c]+Eps) - dbf[c] Mean[c] / sqrt(Var[c]+Eps)
//
// so that layer(x, wf) + bf == BatchNorm_eval(layer(x, w)) up to rounding.
//
// Rounding: statistics, s, xhat and every sum are float64; each float32 result (y, wf, bf and
// the gradients) is rounded once, from its float64 value. FoldBNWeightsInto and FoldBNBiasInto are
// called by the folding ops themselves, so the exporter's folded values are bit-identical to the
// ones the graph fake-quantizes.

// BNState is a batch-norm layer's running statistics and settings, shared by its ops, the
// exporter and checkpoints.
type BNState struct {
	Mean, Var []float64 // running statistics per channel (init 0 and 1)
	Momentum  float64   // running <- (1-Momentum)*running + Momentum*batch (e.g. 0.1)
	Eps       float64   // e.g. 1e-5
	Training  bool      // true: normalize with batch statistics and update the running ones; false: use running ones
}

// NewBNState returns the state of a batch norm over the given number of channels: Mean 0,
// Var 1, Momentum 0.1, Eps 1e-5 (PyTorch's defaults), in eval mode.
func NewBNState(channels int) *BNState {
	st := &BNState{Mean: make([]float64, channels), Var: make([]float64, channels), Momentum: 0.1, Eps: 1e-5}
	for i := range st.Var {
		st.Var[i] = 1
	}
	return st
}

// check reports whether st holds statistics for c channels.
func (st *BNState) check(c int) error {
	if st == nil {
		return errors.New("nil BNState")
	}
	if len(st.Mean) != c || len(st.Var) != c {
		return fmt.Errorf("state has %d means and %d variances for %d channels", len(st.Mean), len(st.Var), c)
	}
	return nil
}

// foldScale returns (F1) s = gamma / sqrt(Var[c] + Eps) in float64: the one place the folded
// scale is computed.
func (st *BNState) foldScale(c int, gamma float32) float64 {
	return float64(gamma) / math.Sqrt(st.Var[c]+st.Eps)
}

// batchStats returns (B1), the mean and the biased variance per channel of x (N, C, ...), by two
// passes in float64.
func batchStats(x []float32, shape tensor.Shape) (mean, variance []float64) {
	n, c, inner := channelGeometry(shape)
	m := float64(n * inner)
	mean, variance = make([]float64, c), make([]float64, c)
	for ch := range c {
		var s float64
		for i := range n {
			off := (i*c + ch) * inner
			for _, v := range x[off : off+inner] {
				s += float64(v)
			}
		}
		mu := s / m
		var ss float64
		for i := range n {
			off := (i*c + ch) * inner
			for _, v := range x[off : off+inner] {
				d := float64(v) - mu
				ss += d * d
			}
		}
		mean[ch], variance[ch] = mu, ss/m
	}
	return mean, variance
}

// stats returns the mean and variance that normalize x: the batch statistics when st.Training,
// else the running ones.
func (st *BNState) stats(x []float32, shape tensor.Shape) (mean, variance []float64) {
	if st.Training {
		return batchStats(x, shape)
	}
	return st.Mean, st.Var
}

// forward writes (B2) to y and, in training mode, updates the running statistics (B3).
func (st *BNState) forward(y, x, gamma, beta []float32, shape tensor.Shape) {
	n, c, inner := channelGeometry(shape)
	mean, variance := st.stats(x, shape)
	for ch := range c {
		mu, inv := mean[ch], 1/math.Sqrt(variance[ch]+st.Eps)
		g, b := float64(gamma[ch]), float64(beta[ch])
		for i := range n {
			off := (i*c + ch) * inner
			for k := off; k < off+inner; k++ {
				y[k] = float32(g*((float64(x[k])-mu)*inv) + b)
			}
		}
	}
	if !st.Training {
		return
	}
	m := float64(n * inner)
	for ch := range c {
		st.Mean[ch] = (1-st.Momentum)*st.Mean[ch] + st.Momentum*mean[ch]
		st.Var[ch] = (1-st.Momentum)*st.Var[ch] + st.Momentum*variance[ch]*m/(m-1)
	}
}

// backward writes dx (B5) and dgamma (B4) for dy; either may be nil. It recomputes the batch
// statistics from x with the same code as the forward pass.
func (st *BNState) backward(dx, dgamma, x, gamma, dy []float32, shape tensor.Shape) {
	n, c, inner := channelGeometry(shape)
	m := float64(n * inner)
	mean, variance := st.stats(x, shape)
	for ch := range c {
		mu, inv := mean[ch], 1/math.Sqrt(variance[ch]+st.Eps)
		var sumDy, sumDyXhat float64
		for i := range n {
			off := (i*c + ch) * inner
			for k := off; k < off+inner; k++ {
				sumDy += float64(dy[k])
				sumDyXhat += float64(dy[k]) * ((float64(x[k]) - mu) * inv)
			}
		}
		if dgamma != nil {
			dgamma[ch] = float32(sumDyXhat)
		}
		if dx == nil {
			continue
		}
		g := float64(gamma[ch]) * inv
		for i := range n {
			off := (i*c + ch) * inner
			for k := off; k < off+inner; k++ {
				if !st.Training {
					dx[k] = float32(g * float64(dy[k]))
					continue
				}
				xhat := (float64(x[k]) - mu) * inv
				dx[k] = float32(g * (float64(dy[k]) - sumDy/m - xhat*sumDyXhat/m))
			}
		}
	}
}

// BatchNorm adds y = gamma[c] * (x - mu[c]) / sqrt(var[c] + eps) + beta[c] for x (N, C, H, W) or (N, C),
// with mu/var the batch statistics over N,H,W (biased variance for normalization; the running
// variance is updated with the unbiased one) when st.Training, else the running statistics.
// Gradients for x, gamma, beta (the full batch-statistics backward in training mode; the plain
// affine backward in eval mode).
//
// The op reads st.Training each time the graph runs, and a training run updates st once. A
// training run with a single value per channel (M = 1) fails: its unbiased variance is undefined.
func BatchNorm(x, gamma, beta *gorgonia.Node, st *BNState) (*gorgonia.Node, error) {
	xs := x.Shape()
	if xs.Dims() < 2 || gamma.Shape().Dims() != 1 || beta.Shape().Dims() != 1 ||
		gamma.Shape()[0] != xs[1] || beta.Shape()[0] != xs[1] {
		return nil, fmt.Errorf("autograd: BatchNorm: x %v, gamma %v and beta %v do not match on axis 1", xs, gamma.Shape(), beta.Shape())
	}
	if err := st.check(xs[1]); err != nil {
		return nil, fmt.Errorf("autograd: BatchNorm: %w", err)
	}
	return gorgonia.ApplyOp(&bnOp{opBase: sameShapeOp("BatchNorm", 3, 0), st: st, dims: xs.Dims()}, x, gamma, beta)
}

type bnOp struct {
	opBase
	st   *BNState
	dims int
}

func (op *bnOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	x := gorgonia.TensorType{Dims: op.dims, Of: a}
	v := gorgonia.TensorType{Dims: 1, Of: a}
	return hm.NewFnType(x, v, v, x)
}
func (op *bnOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	x, shape, err := floats(vs[0])
	if err != nil {
		return nil, err
	}
	gamma, _, err := floats(vs[1])
	if err != nil {
		return nil, err
	}
	beta, _, err := floats(vs[2])
	if err != nil {
		return nil, err
	}
	n, c, inner := channelGeometry(shape)
	if err := op.st.check(c); err != nil {
		return nil, fmt.Errorf("autograd: BatchNorm: %w", err)
	}
	if op.st.Training && n*inner < 2 {
		return nil, fmt.Errorf("autograd: BatchNorm: training needs more than one value per channel, got x %v", shape)
	}
	out := newF32(shape)
	op.st.forward(out.Data().([]float32), x, gamma, beta, shape)
	return out, nil
}
func (op *bnOp) DiffWRT(int) []bool { return []bool{true, true, true} }
func (op *bnOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	x, gamma := inputs[0], inputs[1]
	dx, err := gorgonia.ApplyOp(&bnGradOp{opBase: newOpBase("BatchNormGradX", 3), st: op.st, dims: op.dims}, x, gamma, grad)
	if err != nil {
		return nil, err
	}
	dgamma, err := gorgonia.ApplyOp(&bnGradOp{opBase: newOpBase("BatchNormGradGamma", 3), st: op.st, dims: op.dims, gamma: true}, x, gamma, grad)
	if err != nil {
		return nil, err
	}
	dbeta, err := gorgonia.ApplyOp(&biasGradOp{opBase: newOpBase("BatchNormGradBeta", 1), dims: op.dims}, grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{dx, dgamma, dbeta}, nil
}

// bnGradOp computes, from (x, gamma, dy), dx (B5) or, if gamma is set, dgamma (B4).
type bnGradOp struct {
	opBase
	st    *BNState
	dims  int
	gamma bool
}

func (op *bnGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	x := gorgonia.TensorType{Dims: op.dims, Of: a}
	v := gorgonia.TensorType{Dims: 1, Of: a}
	if op.gamma {
		return hm.NewFnType(x, v, x, v)
	}
	return hm.NewFnType(x, v, x, x)
}
func (op *bnGradOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	if op.gamma {
		return in[1].(tensor.Shape).Clone(), nil
	}
	return in[0].(tensor.Shape).Clone(), nil
}
func (op *bnGradOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	x, shape, err := floats(vs[0])
	if err != nil {
		return nil, err
	}
	gamma, gshape, err := floats(vs[1])
	if err != nil {
		return nil, err
	}
	dy, _, err := floats(vs[2])
	if err != nil {
		return nil, err
	}
	if op.gamma {
		out := newF32(gshape)
		op.st.backward(nil, out.Data().([]float32), x, gamma, dy, shape)
		return out, nil
	}
	out := newF32(shape)
	op.st.backward(out.Data().([]float32), nil, x, gamma, dy, shape)
	return out, nil
}

// foldPer returns the number of weights per output channel and panics on misuse of the
// folding functions.
func foldPer(fn string, dst, w, gamma int, st *BNState) int {
	if err := st.check(gamma); err != nil {
		panic(fmt.Sprintf("autograd: %s: %v", fn, err))
	}
	if dst != w || gamma == 0 || w%gamma != 0 {
		panic(fmt.Sprintf("autograd: %s: %d destination values, %d weights and %d channels", fn, dst, w, gamma))
	}
	return w / gamma
}

// FoldBNWeightsInto writes (F2) dst[c,...] = w[c,...] * s[c], s[c] = gamma[c] / sqrt(Var[c] + Eps),
// for w with the output channel on axis 0 (len(w)/len(gamma) values per channel). It is the
// forward arithmetic of FoldBNWeightsNode, bit for bit.
//
// It panics if len(dst) != len(w), if len(w) is not a multiple of len(gamma), or if st does not
// hold len(gamma) channels.
func FoldBNWeightsInto(dst, w, gamma []float32, st *BNState) {
	per := foldPer("FoldBNWeightsInto", len(dst), len(w), len(gamma), st)
	for c, g := range gamma {
		s := st.foldScale(c, g)
		for i := c * per; i < (c+1)*per; i++ {
			dst[i] = float32(float64(w[i]) * s)
		}
	}
}

// FoldBNBiasInto writes (F3) dst[c] = beta[c] - Mean[c] * s[c]. It is the forward arithmetic of
// FoldBNBiasNode, bit for bit.
//
// It panics if dst, beta and gamma differ in length or st does not hold len(gamma) channels.
func FoldBNBiasInto(dst, beta, gamma []float32, st *BNState) {
	if len(beta) != len(gamma) {
		panic(fmt.Sprintf("autograd: FoldBNBiasInto: %d betas for %d gammas", len(beta), len(gamma)))
	}
	foldPer("FoldBNBiasInto", len(dst), len(beta), len(gamma), st)
	for c, g := range gamma {
		dst[c] = float32(float64(beta[c]) - st.Mean[c]*st.foldScale(c, g))
	}
}

// FoldBNWeightsNode adds wf = FoldBNWeightsInto(w, gamma, st) to the graph, with st's running
// statistics as read when the graph runs (st.Training is ignored: folding assumes frozen
// statistics). Gradients (F4): dw = dwf * s; dgamma[c] = sum_k dwf[c,k] w[c,k] / sqrt(Var[c]+Eps).
func FoldBNWeightsNode(w, gamma *gorgonia.Node, st *BNState) (*gorgonia.Node, error) {
	ws, gs := w.Shape(), gamma.Shape()
	if ws.Dims() < 1 || gs.Dims() != 1 || ws[0] != gs[0] {
		return nil, fmt.Errorf("autograd: FoldBNWeightsNode: weights %v do not match gamma %v on axis 0", ws, gs)
	}
	if err := st.check(gs[0]); err != nil {
		return nil, fmt.Errorf("autograd: FoldBNWeightsNode: %w", err)
	}
	return gorgonia.ApplyOp(&bnFoldWOp{opBase: sameShapeOp("BNFoldW", 2, 0), st: st, dims: ws.Dims()}, w, gamma)
}

// FoldBNBiasNode adds bf = FoldBNBiasInto(beta, gamma, st) to the graph, with st's running statistics
// as read when the graph runs. Gradients (F4): dbeta = dbf; dgamma[c] = -dbf[c] Mean[c] /
// sqrt(Var[c]+Eps). When gamma also feeds FoldBNWeightsNode, gorgonia sums both contributions.
func FoldBNBiasNode(beta, gamma *gorgonia.Node, st *BNState) (*gorgonia.Node, error) {
	bs, gs := beta.Shape(), gamma.Shape()
	if bs.Dims() != 1 || gs.Dims() != 1 || bs[0] != gs[0] {
		return nil, fmt.Errorf("autograd: FoldBNBiasNode: beta %v does not match gamma %v", bs, gs)
	}
	if err := st.check(gs[0]); err != nil {
		return nil, fmt.Errorf("autograd: FoldBNBiasNode: %w", err)
	}
	return gorgonia.ApplyOp(&bnFoldBOp{opBase: sameShapeOp("BNFoldB", 2, 0), st: st}, beta, gamma)
}

// bnFoldWOp is (F2) on (w, gamma). Its gradient for w, dwf * s, is the same arithmetic, so the
// gradient op is another bnFoldWOp applied to (dwf, gamma).
type bnFoldWOp struct {
	opBase
	st   *BNState
	dims int
}

func (op *bnFoldWOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	w := gorgonia.TensorType{Dims: op.dims, Of: a}
	return hm.NewFnType(w, gorgonia.TensorType{Dims: 1, Of: a}, w)
}
func (op *bnFoldWOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	w, shape, err := floats(vs[0])
	if err != nil {
		return nil, err
	}
	gamma, _, err := floats(vs[1])
	if err != nil {
		return nil, err
	}
	if err := op.st.check(len(gamma)); err != nil {
		return nil, fmt.Errorf("autograd: %s: %w", op.name, err)
	}
	out := newF32(shape)
	FoldBNWeightsInto(out.Data().([]float32), w, gamma, op.st)
	return out, nil
}
func (op *bnFoldWOp) DiffWRT(int) []bool { return []bool{true, true} }
func (op *bnFoldWOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	w, gamma := inputs[0], inputs[1]
	dw, err := gorgonia.ApplyOp(&bnFoldWOp{opBase: sameShapeOp("BNFoldWGradW", 2, 0), st: op.st, dims: op.dims}, grad, gamma)
	if err != nil {
		return nil, err
	}
	dgamma, err := gorgonia.ApplyOp(&bnFoldGammaGradOp{opBase: newOpBase("BNFoldWGradGamma", 2), st: op.st, dims: op.dims}, grad, w)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{dw, dgamma}, nil
}

// bnFoldBOp is (F3) on (beta, gamma).
type bnFoldBOp struct {
	opBase
	st *BNState
}

func (op *bnFoldBOp) Type() hm.Type {
	v := gorgonia.TensorType{Dims: 1, Of: hm.TypeVariable('a')}
	return hm.NewFnType(v, v, v)
}
func (op *bnFoldBOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	beta, shape, err := floats(vs[0])
	if err != nil {
		return nil, err
	}
	gamma, _, err := floats(vs[1])
	if err != nil {
		return nil, err
	}
	if err := op.st.check(len(gamma)); err != nil {
		return nil, fmt.Errorf("autograd: BNFoldB: %w", err)
	}
	out := newF32(shape)
	FoldBNBiasInto(out.Data().([]float32), beta, gamma, op.st)
	return out, nil
}
func (op *bnFoldBOp) DiffWRT(int) []bool { return []bool{true, true} }
func (op *bnFoldBOp) SymDiff(inputs gorgonia.Nodes, output, grad *gorgonia.Node) (gorgonia.Nodes, error) {
	dgamma, err := gorgonia.ApplyOp(&bnFoldGammaGradOp{opBase: newOpBase("BNFoldBGradGamma", 1), st: op.st, dims: 1, bias: true}, grad)
	if err != nil {
		return nil, err
	}
	return gorgonia.Nodes{grad, dgamma}, nil
}

// bnFoldGammaGradOp is the gamma part of (F4): from (dwf, w), dgamma[c] = sum_k dwf[c,k] w[c,k]
// / sqrt(Var[c]+Eps); with bias set, from (dbf), dgamma[c] = -dbf[c] Mean[c] / sqrt(Var[c]+Eps).
type bnFoldGammaGradOp struct {
	opBase
	st   *BNState
	dims int // of dwf and w
	bias bool
}

func (op *bnFoldGammaGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	v := gorgonia.TensorType{Dims: 1, Of: a}
	if op.bias {
		return hm.NewFnType(v, v)
	}
	w := gorgonia.TensorType{Dims: op.dims, Of: a}
	return hm.NewFnType(w, w, v)
}
func (op *bnFoldGammaGradOp) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	return tensor.Shape{in[0].(tensor.Shape)[0]}, nil
}
func (op *bnFoldGammaGradOp) Do(vs ...gorgonia.Value) (gorgonia.Value, error) {
	dy, shape, err := floats(vs[0])
	if err != nil {
		return nil, err
	}
	c := shape[0]
	if err := op.st.check(c); err != nil {
		return nil, fmt.Errorf("autograd: %s: %w", op.name, err)
	}
	out := newF32(tensor.Shape{c})
	dgamma := out.Data().([]float32)
	if op.bias {
		for ch, g := range dy {
			dgamma[ch] = float32(-float64(g) * op.st.Mean[ch] / math.Sqrt(op.st.Var[ch]+op.st.Eps))
		}
		return out, nil
	}
	w, _, err := floats(vs[1])
	if err != nil {
		return nil, err
	}
	per := len(w) / c
	for ch := range c {
		var s float64
		for i := ch * per; i < (ch+1)*per; i++ {
			s += float64(dy[i]) * float64(w[i])
		}
		dgamma[ch] = float32(s / math.Sqrt(op.st.Var[ch]+op.st.Eps))
	}
	return out, nil
}
