package qgemm

import "fmt"

// Sparse products: a weight matrix kept as its nonzero weights, multiplied
// into vectors of 8 lanes (8 output positions of a Conv2D row, or 8 images
// of a FullyConnected batch), so that the cost is proportional to the
// nonzeros rather than to Rows x K.
//
// For channel j with nonzero weights (o_e, w_e) (o_e the weight's offset in
// x, an int32 index the caller defines: a tap's place in a padded CHW
// plane, or K's place in a batch-blocked input), vector v < nv and lane
// i < 8,
//
//	c[j*ldc + v*ldv + i] = bias[j] + sum_e w_e * x[v*ldx + o_e + i]      (int32, wrapping)
//
// The inputs x are codes widened once to int32, 0 <= x <= 32767 (the
// engine's are 0..255). The AVX2 kernel keeps 8, 4 or 1 vectors in
// registers; per nonzero it broadcasts w_e as an int32 (VPBROADCASTD) and
// does one VPMADDWD and one VPADDD per vector, with x as the memory
// operand. VPMADDWD sees each int32 lane as two int16 halves and adds the
// two products: x's low half is the code (below 2^15, so the same value as
// int16), its high half 0, so the lane is x*low16(w) + 0*high16(w) = x*w
// exactly (|w| <= 128). (VPMULLD computes the same, at half VPMADDWD's
// throughput on Zen 3.) VPADDD wraps, so the sum is the int32-wrapping sum
// of the specification, equal to the exact total wherever that fits in
// int32 (Validate's accumulator bound).

// Sparse is a Rows x K weight matrix as lists of (offset, weight) pairs,
// one list per channel.
type Sparse struct {
	Rows, K int
	Start   []int32 // channel j's pairs are E[2*Start[j] : 2*Start[j+1]]
	E       []int32 // offset, weight, offset, weight, ...
	MaxOff  int32   // the largest offset (0 without nonzeros)
}

// NewSparse keeps the nonzero weights of w (rows x k, row-major), the
// weight of tap t at offset off(t) (off(t) >= 0). It panics on a length
// mismatch, a size below 1 or a negative offset.
func NewSparse(w []int8, rows, k int, off func(t int) int32) *Sparse {
	if rows < 1 || k < 1 || len(w) != rows*k {
		panic(fmt.Sprintf("qgemm: NewSparse: %d weights for %d x %d", len(w), rows, k))
	}
	nz := 0
	for _, v := range w {
		if v != 0 {
			nz++
		}
	}
	s := &Sparse{Rows: rows, K: k, Start: make([]int32, rows+1), E: make([]int32, 0, 2*nz)}
	for j := 0; j < rows; j++ {
		for t, v := range w[j*k : (j+1)*k] {
			if v == 0 {
				continue
			}
			o := off(t)
			if o < 0 {
				panic(fmt.Sprintf("qgemm: NewSparse: tap %d at offset %d", t, o))
			}
			s.MaxOff = max(s.MaxOff, o)
			s.E = append(s.E, o, int32(v))
		}
		s.Start[j+1] = int32(len(s.E) / 2)
	}
	return s
}

// NNZ returns the number of nonzero weights.
func (s *Sparse) NNZ() int { return len(s.E) / 2 }

// Mul computes the product above for every channel j < Rows and vector
// v < nv at level lv (the AVX2 kernel at LevelAVX2 and LevelVNNI), for
// inputs 0 <= x <= 32767 (other values give unspecified sums). It panics if
// a slice is too short.
func (s *Sparse) Mul(lv Level, c []int32, ldc, ldv int, x []int32, ldx, nv int, bias []int32) {
	if nv <= 0 {
		return
	}
	if !Supported(lv) || ldv < 8 || ldc < 1 || ldx < 0 || len(bias) < s.Rows ||
		len(c) < (s.Rows-1)*ldc+(nv-1)*ldv+8 || len(x) < (nv-1)*ldx+int(s.MaxOff)+8 {
		panic(fmt.Sprintf("qgemm: Sparse.Mul at %v: %d channels, %d vectors: c %d (ldc %d, ldv %d), x %d (ldx %d, max offset %d), bias %d",
			lv, s.Rows, nv, len(c), ldc, ldv, len(x), ldx, s.MaxOff, len(bias)))
	}
	if lv == LevelGo || s.NNZ() == 0 {
		spmmGo(s, c, ldc, ldv, x, ldx, nv, bias)
		return
	}
	spmmAsm(s, c, ldc, ldv, x, ldx, nv, bias)
}

// spmmGo is Mul in Go: the specification of the assembly.
func spmmGo(s *Sparse, c []int32, ldc, ldv int, x []int32, ldx, nv int, bias []int32) {
	for j := 0; j < s.Rows; j++ {
		e := s.E[2*s.Start[j] : 2*s.Start[j+1]]
		for v := 0; v < nv; v++ {
			var acc [8]int32
			for i := range acc {
				acc[i] = bias[j]
			}
			xv := x[v*ldx:]
			for p := 0; p < len(e); p += 2 {
				w, xs := e[p+1], xv[e[p]:e[p]+8]
				for i := range acc {
					acc[i] += w * xs[i]
				}
			}
			copy(c[j*ldc+v*ldv:], acc[:])
		}
	}
}
