package train

import (
	"fmt"
	"math"

	"github.com/qatgo/qatgo/internal/f32"
)

// Optimizer updates parameters in place from their gradients. Its state is exported (State)
// so checkpoints can restore it exactly.
type Optimizer interface {
	// Step applies one update to each params[i] with grads[i] at learning rate lr.
	Step(params, grads [][]float32, lr float64)
	State() OptState
	SetState(OptState) error
}

// OptState is the serializable state of an optimizer.
type OptState struct {
	Kind  OptimizerKind
	Steps int
	// Slots[k][i] is the k-th moment buffer of parameter i (momentum: 1 slot; Adam: 2).
	Slots [][][]float32
}

// NewOptimizer returns OptSGD (momentum, optional weight decay) or OptAdam.
func NewOptimizer(kind OptimizerKind, momentum, weightDecay float64, sizes []int) (Optimizer, error) {
	alloc := func(k int) [][][]float32 {
		s := make([][][]float32, k)
		for j := range s {
			s[j] = make([][]float32, len(sizes))
			for i, n := range sizes {
				s[j][i] = make([]float32, n)
			}
		}
		return s
	}
	switch kind {
	case OptSGD:
		return &SGD{Momentum: momentum, WeightDecay: weightDecay, st: OptState{Kind: kind, Slots: alloc(1)}}, nil
	case OptAdam:
		return &Adam{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: weightDecay, st: OptState{Kind: kind, Slots: alloc(2)}}, nil
	}
	return nil, fmt.Errorf("train: unknown optimizer %q (have sgd, adam)", kind)
}

func setState(dst *OptState, src OptState) error {
	if src.Kind != dst.Kind {
		return fmt.Errorf("train: optimizer state is %q, want %q", src.Kind, dst.Kind)
	}
	if len(src.Slots) != len(dst.Slots) {
		return fmt.Errorf("train: %s optimizer state has %d moment buffers, want %d", src.Kind, len(src.Slots), len(dst.Slots))
	}
	for k := range src.Slots {
		if len(src.Slots[k]) != len(dst.Slots[k]) {
			return fmt.Errorf("train: optimizer state has %d parameters, want %d", len(src.Slots[k]), len(dst.Slots[k]))
		}
		for i := range src.Slots[k] {
			if len(src.Slots[k][i]) != len(dst.Slots[k][i]) {
				return fmt.Errorf("train: optimizer state of parameter %d has %d values, want %d", i, len(src.Slots[k][i]), len(dst.Slots[k][i]))
			}
			copy(dst.Slots[k][i], src.Slots[k][i])
		}
	}
	dst.Steps = src.Steps
	return nil
}

// SGD is stochastic gradient descent with momentum: v = mu v + (g + wd w); w -= lr v.
type SGD struct {
	Momentum, WeightDecay float64
	st                    OptState
}

func (o *SGD) Step(params, grads [][]float32, lr float64) {
	mu, wd, eta := float32(o.Momentum), float32(o.WeightDecay), float32(lr)
	splitParams(params, func(i, lo, hi int) {
		w, g, v := params[i][lo:hi], grads[i][lo:hi], o.st.Slots[0][i][lo:hi]
		for j := range w {
			d := g[j] + wd*w[j]
			v[j] = mu*v[j] + d
			w[j] -= eta * v[j]
		}
	})
	o.st.Steps++
}
func (o *SGD) State() OptState           { return o.st }
func (o *SGD) SetState(s OptState) error { return setState(&o.st, s) }

// Adam is Kingma & Ba's optimizer with bias correction; WeightDecay is decoupled (AdamW).
type Adam struct {
	Beta1, Beta2, Eps, WeightDecay float64
	st                             OptState
}

func (o *Adam) Step(params, grads [][]float32, lr float64) {
	o.st.Steps++
	t := float64(o.st.Steps)
	c1 := 1 - math.Pow(o.Beta1, t)
	c2 := 1 - math.Pow(o.Beta2, t)
	b1, b2 := float32(o.Beta1), float32(o.Beta2)
	step := float32(lr * math.Sqrt(c2) / c1)
	eps := float32(o.Eps * math.Sqrt(c2))
	decay := float32(1 - lr*o.WeightDecay)
	k := adamConsts{b1: b1, c1: 1 - b1, b2: b2, c2: 1 - b2, step: step, eps: eps, decay: decay}
	splitParams(params, func(i, lo, hi int) {
		adamRow(params[i][lo:hi], grads[i][lo:hi], o.st.Slots[0][i][lo:hi], o.st.Slots[1][i][lo:hi], &k)
	})
}

// adamConsts are the per-step constants of adamRow, laid out for adam_amd64.s.
type adamConsts struct {
	b1, c1, b2, c2, step, eps, decay float32 // c1 = 1 - b1, c2 = 1 - b2
}

// adamRow is Adam's update of weights w with gradients g and moments m, v:
//
//	m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g g;  w = w decay - step m / (sqrt(v) + eps)
//
// in float32, eight at a time with AVX2 where the CPU has it (the same roundings: see
// adam_amd64.s), the rest in adamRowRef. TestAdamRow checks the two give the same bits.
func adamRow(w, g, m, v []float32, k *adamConsts) {
	g, m, v = g[:len(w)], m[:len(w)], v[:len(w)]
	n := 0
	if useAdamAsm && len(w) >= 8 {
		n = len(w) / 8 * 8
		adamAsm(&w[0], &g[0], &m[0], &v[0], n/8, k)
	}
	adamRowRef(w[n:], g[n:], m[n:], v[n:], k)
}

// adamRowRef is adamRow's reference loop.
func adamRowRef(w, g, m, v []float32, k *adamConsts) {
	g, m, v = g[:len(w)], m[:len(w)], v[:len(w)]
	for j := range w {
		m[j] = k.b1*m[j] + k.c1*g[j]
		v[j] = k.b2*v[j] + k.c2*g[j]*g[j]
		w[j] = w[j]*k.decay - k.step*m[j]/(float32(math.Sqrt(float64(v[j])))+k.eps)
	}
}
func (o *Adam) State() OptState           { return o.st }
func (o *Adam) SetState(s OptState) error { return setState(&o.st, s) }

// splitParamsMin is the number of parameters from which the optimizers use two goroutines.
const splitParamsMin = 1 << 15

// splitParams calls f(i, lo, hi) for element ranges [lo, hi) of params[i] that together cover
// every element once. With at least splitParamsMin elements they are cut by count (across
// tensor boundaries) into f32.Workers() parts run on as many goroutines (f32.Run); the
// updates are elementwise, so the cut changes no result.
func splitParams(params [][]float32, f func(i, lo, hi int)) {
	total := 0
	for _, p := range params {
		total += len(p)
	}
	run := func(from, to int) {
		off := 0
		for i, p := range params {
			if lo, hi := max(from-off, 0), min(to-off, len(p)); lo < hi {
				f(i, lo, hi)
			}
			off += len(p)
		}
	}
	if total < splitParamsMin {
		run(0, total)
		return
	}
	parts := f32.Workers()
	f32.Run(parts, func(p int) { run(f32.Part(total, parts, p)) })
}

// LR returns the learning rate at global step `step` of `total` under the schedule:
// ScheduleConst; ScheduleCosine (base * (1 + cos(pi step/total)) / 2, floor 1% of base);
// ScheduleStep (x0.1 at 50% and 75% of training).
func LR(schedule Schedule, base float64, step, total int) (float64, error) {
	frac := 0.0
	if total > 0 {
		frac = float64(step) / float64(total)
	}
	switch schedule {
	case ScheduleConst:
		return base, nil
	case ScheduleCosine:
		return base * (0.01 + 0.99*(1+math.Cos(math.Pi*frac))/2), nil
	case ScheduleStep:
		switch {
		case frac >= 0.75:
			return base * 0.01, nil
		case frac >= 0.5:
			return base * 0.1, nil
		}
		return base, nil
	}
	return 0, fmt.Errorf("train: unknown learning-rate schedule %q (have const, cosine, step)", schedule)
}
