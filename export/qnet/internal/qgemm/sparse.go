package qgemm

import "fmt"

// Sparse products: a weight matrix kept as its nonzero weights, multiplied
// into vectors of 8 lanes (8 output positions of a Conv2D row, or 8 images
// of a FullyConnected batch), so that the cost is proportional to the
// nonzeros rather than to Rows x K.
//
// For channel j with entries (o_e, w_e) (o_e an offset in x, an int32
// index the caller defines: a tap's place in padded CHW planes, or K's
// place in a batch-blocked input), vector v < nv and lane i < 8,
//
//	c[j*ldc + v*ldv + i] = bias[j] + sum_e w_e (.) x[v*ldx + o_e + i]      (int32, wrapping)
//
// where a (.) b = lo(a) lo(b) + hi(a) hi(b), lo and hi the low and high
// int16 halves: VPMADDWD's lane. With inputs 0 <= x < 2^15 (high half 0)
// that is lo(w) x, the weight's own product for a weight in int16; with
// inputs holding two codes (x[p], x[p+1]) and a weight holding two weights
// (w_a, w_b) it is w_a x[p] + w_b x[p+1], two taps in one product
// (the sparse Conv2D pairs horizontally adjacent taps this way).
//
// The AVX2 kernel keeps 8, 4 or 1 vectors in registers; per entry it
// broadcasts w_e (VPBROADCASTD) and does one VPMADDWD and one VPADDD per
// vector, with x as the memory operand. VPMADDWD wraps only for
// (-2^15)(-2^15) twice, as Go's int32 does; VPADDD wraps. (With single
// codes, VPMULLD computes the same as VPMADDWD, at half its throughput on
// Zen 3.) The engine's sums are exact wherever the true total fits in
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
// weight of tap t at offset off(t) (off(t) >= 0), as int32 entries (for
// inputs with a high half of 0). It panics on a length mismatch, a size
// below 1 or a negative offset.
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

// SparseFromLists returns the matrix whose channel j has the entries
// lists[j] = (offset, weight, offset, weight, ...), weights in the (.)
// form above. It panics on an odd list, a negative offset or no channel.
func SparseFromLists(lists [][]int32) *Sparse {
	if len(lists) == 0 {
		panic("qgemm: SparseFromLists: no channels")
	}
	s := &Sparse{Rows: len(lists), Start: make([]int32, len(lists)+1)}
	for j, l := range lists {
		if len(l)%2 != 0 {
			panic(fmt.Sprintf("qgemm: SparseFromLists: channel %d: odd list of %d", j, len(l)))
		}
		for e := 0; e < len(l); e += 2 {
			if l[e] < 0 {
				panic(fmt.Sprintf("qgemm: SparseFromLists: channel %d: offset %d", j, l[e]))
			}
			s.MaxOff = max(s.MaxOff, l[e])
		}
		s.E = append(s.E, l...)
		s.Start[j+1] = int32(len(s.E) / 2)
	}
	return s
}

// MulPair is the (.) of Mul: lo(a) lo(b) + hi(a) hi(b) over the int16
// halves, wrapping like VPMADDWD.
func MulPair(a, b int32) int32 {
	return int32(int16(a))*int32(int16(b)) + (a>>16)*(b>>16)
}

// NNZ returns the number of entries (nonzero weights, or pairs of them).
func (s *Sparse) NNZ() int { return len(s.E) / 2 }

// Mul computes the product above for every channel j < Rows and vector
// v < nv at level lv (the AVX2 kernel at LevelAVX2 and LevelVNNI). It
// panics if a slice is too short.
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
					acc[i] += MulPair(w, xs[i])
				}
			}
			copy(c[j*ldc+v*ldv:], acc[:])
		}
	}
}
