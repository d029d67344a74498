package f32

import "math/bits"

// Pool is the geometry of a max pool over K x K windows at stride Stride, no padding: input
// (N, C, H, W), output (N, C, OH, OW) with OH = (H-K)/Stride+1 (OW alike). Its kernels store,
// per output, the flat index into x of the element taken (the argmax); ties go to the first
// maximum in row-major window order (strict >), a window's scan starting from its first
// element.
type Pool struct {
	N, C, H, W, K, Stride, OH, OW int
}

// Forward pools the planes (n*C + c) in [lo, hi) of x into y, recording argmax in am: with
// the vector kernel for 2x2 windows at stride 2 where the CPU has one, else with forwardRef.
func (g *Pool) Forward(y []float32, am []int32, x []float32, lo, hi int) {
	if g.vec2x2() {
		g.forward2x2Vec(y, am, x, lo, hi)
		return
	}
	g.forwardRef(y, am, x, lo, hi)
}

// forwardRef is forward in plain Go, and the specification of the vector kernel.
func (g *Pool) forwardRef(y []float32, am []int32, x []float32, lo, hi int) {
	k, s, w, oh, ow := g.K, g.Stride, g.W, g.OH, g.OW
	hw, ohw := g.H*w, oh*ow
	for plane := lo; plane < hi; plane++ {
		base := plane * hw
		yp, ap := y[plane*ohw:][:ohw], am[plane*ohw:][:ohw]
		for oy := 0; oy < oh; oy++ {
			top := base + oy*s*w
			yr, ar := yp[oy*ow:][:ow], ap[oy*ow:][:ow]
			if k == 2 {
				// The common 2x2 window, unrolled and without data-dependent branches (random
				// maxima make branches mispredict half the time): m is the largest value and at
				// the first position holding it, which is what the strict > scan of window picks
				// (-0 == +0, so a tie of zeros keeps the first zero, sign included, as the scan
				// does). A NaN anywhere makes m NaN; such windows go to window.
				r0, r1 := x[top:top+w], x[top+w:top+2*w]
				for ox := range yr {
					j := ox * s
					v0, v1, v2, v3 := r0[j], r0[j+1], r1[j], r1[j+1]
					m := max(v0, v1, v2, v3)
					if m != m {
						yr[ox], ar[ox] = g.window(x, top+j)
						continue
					}
					found := b2i(v0 == m) | b2i(v1 == m)<<1 | b2i(v2 == m)<<2 | 8
					at := bits.TrailingZeros8(uint8(found))
					idx := top + j + at&1 + at>>1*w
					yr[ox], ar[ox] = x[idx], int32(idx) // x[idx], not m: max(-0, +0) is +0
				}
				continue
			}
			for ox := range yr {
				yr[ox], ar[ox] = g.window(x, top+ox*s)
			}
		}
	}
}

// window scans the k x k window whose top-left element is x[first] in row-major order and
// returns its first maximum (strict >) and that element's index.
func (g *Pool) window(x []float32, first int) (float32, int32) {
	best, at := x[first], first
	for i := 0; i < g.K; i++ {
		row := first + i*g.W
		for j, v := range x[row : row+g.K] {
			if v > best {
				best, at = v, row+j
			}
		}
	}
	return best, int32(at)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func make32(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n)
	}
	return s[:n]
}

// backwardRef sets the planes [lo, hi) of dx to zero and then adds each dy of those planes'
// outputs at its argmax: dx[am[o]] += dy[o]. It is the specification of backward2x2Vec.
func (g *Pool) backwardRef(dx, dy []float32, am []int32, lo, hi int) {
	per := g.OH * g.OW
	clear(dx[lo*g.H*g.W : hi*g.H*g.W])
	for o := lo * per; o < hi*per; o++ {
		dx[am[o]] += dy[o]
	}
}

// Backward writes dx for the planes [lo, hi) from dy and the argmax am of Forward:
// dx = 0, then dx[am[o]] += dy[o] (backwardRef), with the vector kernel for 2x2 windows at
// stride 2 where the CPU has one. Each plane's argmax points into that plane, so calls on
// disjoint plane ranges write disjoint parts of dx.
func (g *Pool) Backward(dx, dy []float32, am []int32, lo, hi int) {
	if g.vec2x2() {
		g.backward2x2Vec(dx, dy, am, lo, hi)
		return
	}
	g.backwardRef(dx, dy, am, lo, hi)
}
