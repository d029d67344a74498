package f32

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// gemmCase is one Sgemm problem; pad is added to every leading dimension.
type gemmCase struct{ m, n, k, pad int }

var gemmCases = []gemmCase{
	{1, 1, 1, 0}, {1, 1, 7, 2}, {1, 17, 3, 0}, {7, 5, 1, 1}, {6, 16, 1, 0}, {6, 16, 256, 0},
	{5, 15, 255, 3}, {7, 17, 257, 0}, {13, 33, 300, 1}, {97, 40, 9, 0}, {20, 1025, 25, 0},
	{50, 64, 500, 0},  // LeNet conv2 forward per image
	{20, 576, 25, 0},  // LeNet conv1 forward per image
	{70, 40, 500, 2},  // parallel, split over N
	{300, 20, 200, 0}, // parallel, split over M
}

// stored returns the rows x cols shape of a matrix that is used transposed or not.
func stored(rows, cols int, trans bool) (int, int) {
	if trans {
		return cols, rows
	}
	return rows, cols
}

func randMat(rng *rand.Rand, rows, ld int) []float32 {
	s := make([]float32, rows*ld)
	for i := range s {
		s[i] = float32(rng.NormFloat64())
	}
	return s
}

func TestSgemmAgainstRef(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 1))
	t.Logf("assembly micro-kernel: %v", useAsmKernel)
	for _, tc := range gemmCases {
		for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			for _, ab := range [][2]float32{{1, 0}, {-0.5, 1}, {1.5, 0.3}} {
				name := fmt.Sprintf("%dx%dx%d+%d/tA=%v,tB=%v/alpha=%g,beta=%g", tc.m, tc.n, tc.k, tc.pad, tr[0], tr[1], ab[0], ab[1])
				ar, acols := stored(tc.m, tc.k, tr[0])
				br, bcols := stored(tc.k, tc.n, tr[1])
				lda, ldb, ldc := acols+tc.pad, bcols+tc.pad, tc.n+tc.pad
				a, b := randMat(rng, ar, lda), randMat(rng, br, ldb)
				c0 := randMat(rng, tc.m, ldc)
				if ab[1] == 0 {
					for i := range c0 {
						c0[i] = float32(math.NaN()) // beta == 0: C must not be read
					}
				}
				want := append([]float32(nil), c0...)
				sgemmRef(tr[0], tr[1], tc.m, tc.n, tc.k, ab[0], a, lda, b, ldb, ab[1], want, ldc)
				got := append([]float32(nil), c0...)
				Sgemm(tr[0], tr[1], tc.m, tc.n, tc.k, ab[0], a, lda, b, ldb, ab[1], got, ldc)
				if err := gemmClose(tc, tr, ab, a, lda, b, ldb, c0, got, want, ldc); err != nil {
					t.Errorf("%s: %v", name, err)
				}
			}
		}
	}
}

// gemmClose checks got against want element by element with a relative tolerance of 1e-5 of
// the scale |alpha| sum_p |a_ip b_pj| + |beta c_ij| (the magnitude float32 rounding is
// relative to), and checks that the padding columns of C were left alone.
func gemmClose(tc gemmCase, tr [2]bool, ab [2]float32, a []float32, lda int, b []float32, ldb int, c0, got, want []float32, ldc int) error {
	for i := 0; i < tc.m; i++ {
		for j := 0; j < ldc; j++ {
			idx := i*ldc + j
			if j >= tc.n {
				if math.Float32bits(got[idx]) != math.Float32bits(c0[idx]) {
					return fmt.Errorf("padding C[%d,%d] changed", i, j)
				}
				continue
			}
			var scale float64
			for p := 0; p < tc.k; p++ {
				var av, bv float32
				if tr[0] {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if tr[1] {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				scale += math.Abs(float64(av) * float64(bv))
			}
			scale *= math.Abs(float64(ab[0]))
			if ab[1] != 0 {
				scale += math.Abs(float64(ab[1]) * float64(c0[idx]))
			}
			if d := math.Abs(float64(got[idx]) - float64(want[idx])); !(d <= 1e-5*scale+1e-30) {
				return fmt.Errorf("C[%d,%d] = %g, reference %g (scale %g)", i, j, got[idx], want[idx], scale)
			}
		}
	}
	return nil
}

func TestSgemmZeroSizes(t *testing.T) {
	c := []float32{1, 2, 3, 4}
	Sgemm(false, false, 2, 2, 0, 1, nil, 1, nil, 2, 0.5, c, 2) // k == 0: C = beta C
	if c[0] != 0.5 || c[3] != 2 {
		t.Errorf("k = 0, beta = 0.5: C = %v, want [0.5 1 1.5 2]", c)
	}
	Sgemm(false, false, 0, 2, 3, 1, nil, 3, make([]float32, 6), 2, 0, nil, 2) // m == 0: no-op
	a, b := []float32{1, 2}, []float32{3, 4}
	Sgemm(false, false, 1, 1, 2, 0, a, 2, b, 1, 2, c, 1) // alpha == 0: C = beta C
	if c[0] != 1 {
		t.Errorf("alpha = 0, beta = 2: C[0] = %g, want 1", c[0])
	}
}

func TestSgemmParallelSplitIsBitIdentical(t *testing.T) {
	// Each element of C goes through the same operations whether Sgemm splits the product over
	// 1, 2, 3 or 4 workers or runs serially.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	rng := rand.New(rand.NewPCG(8, 1))
	for _, tc := range []gemmCase{{70, 40, 500, 0}, {300, 20, 200, 1}, {50, 1000, 30, 0}} {
		for _, tr := range [][2]bool{{false, false}, {true, true}} {
			ar, acols := stored(tc.m, tc.k, tr[0])
			br, bcols := stored(tc.k, tc.n, tr[1])
			lda, ldb, ldc := acols+tc.pad, bcols+tc.pad, tc.n+tc.pad
			if tc.m*tc.n*tc.k < gemmParallelMin {
				t.Fatalf("%v is below the parallel threshold", tc)
			}
			a, b, c := randMat(rng, ar, lda), randMat(rng, br, ldb), randMat(rng, tc.m, ldc)
			ser := append([]float32(nil), c...)
			SgemmSerial(tr[0], tr[1], tc.m, tc.n, tc.k, 0.7, a, lda, b, ldb, 0.2, ser, ldc)
			for workers := 1; workers <= 4; workers++ {
				runtime.GOMAXPROCS(workers)
				par := append([]float32(nil), c...)
				Sgemm(tr[0], tr[1], tc.m, tc.n, tc.k, 0.7, a, lda, b, ldb, 0.2, par, ldc)
				for i := range par {
					if math.Float32bits(par[i]) != math.Float32bits(ser[i]) {
						t.Fatalf("%v %v, %d workers: C[%d] parallel %g, serial %g", tc, tr, workers, i, par[i], ser[i])
					}
				}
			}
		}
	}
}

func TestSgemmPackedAIsBitIdentical(t *testing.T) {
	// A prepacked left factor gives the same bits as packing it on the fly, including depths
	// over gemmKC and heights over gemmMC.
	rng := rand.New(rand.NewPCG(10, 1))
	var pa PackedA // reused across cases, as the conv ops do
	for _, tc := range []gemmCase{{50, 64, 500, 0}, {500, 64, 50, 1}, {7, 9, 600, 0}, {200, 33, 3, 2}, {1, 1, 1, 0}} {
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			ar, acols := stored(tc.m, tc.k, tr[0])
			br, bcols := stored(tc.k, tc.n, tr[1])
			lda, ldb, ldc := acols+tc.pad, bcols+tc.pad, tc.n+tc.pad
			a, b, c := randMat(rng, ar, lda), randMat(rng, br, ldb), randMat(rng, tc.m, ldc)
			want, got := append([]float32(nil), c...), append([]float32(nil), c...)
			SgemmSerial(tr[0], tr[1], tc.m, tc.n, tc.k, -0.7, a, lda, b, ldb, 0.5, want, ldc)
			pa.Pack(tr[0], tc.m, tc.k, -0.7, a, lda)
			SgemmPackedA(&pa, tr[1], tc.n, b, ldb, 0.5, got, ldc)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%v %v: C[%d] prepacked %g, on the fly %g", tc, tr, i, got[i], want[i])
				}
			}
		}
	}
}

func TestSgemmKernelsAgree(t *testing.T) {
	// The assembly micro-kernel against the pure-Go one (fused multiply-adds round once, so the
	// comparison has a tolerance).
	if !useAsmKernel {
		t.Skip("no assembly micro-kernel in this build or on this CPU")
	}
	rng := rand.New(rand.NewPCG(9, 1))
	for _, k := range []int{1, 2, 3, 16, 255, 256} {
		a, b := randMat(rng, k, gemmMR), randMat(rng, k, gemmNR)
		ldc := gemmNR + 3
		c := randMat(rng, gemmMR, ldc)
		cg, ca := append([]float32(nil), c...), append([]float32(nil), c...)
		gemmKernelGo(k, a, b, cg, ldc)
		sgemmKernelAsm(k, &a[0], &b[0], &ca[0], ldc)
		for i := range cg {
			if math.Float32bits(c[i]) != math.Float32bits(ca[i]) && i%ldc >= gemmNR {
				t.Fatalf("k=%d: asm wrote outside the tile at %d", k, i)
			}
			if d := math.Abs(float64(cg[i] - ca[i])); d > 1e-5*(math.Sqrt(float64(k))+math.Abs(float64(cg[i]))) {
				t.Fatalf("k=%d: C[%d] go %g, asm %g", k, i, cg[i], ca[i])
			}
		}
	}
}

func TestSgemmPanicsOnMisuse(t *testing.T) {
	for name, f := range map[string]func(){
		"short A": func() {
			Sgemm(false, false, 2, 2, 2, 1, make([]float32, 3), 2, make([]float32, 4), 2, 0, make([]float32, 4), 2)
		},
		"short C": func() {
			Sgemm(false, false, 2, 2, 2, 1, make([]float32, 4), 2, make([]float32, 4), 2, 0, make([]float32, 3), 2)
		},
		"small ldb": func() {
			Sgemm(false, true, 2, 2, 3, 1, make([]float32, 6), 3, make([]float32, 6), 2, 0, make([]float32, 4), 2)
		},
		"negative m": func() { Sgemm(false, false, -1, 2, 2, 1, nil, 2, nil, 2, 0, nil, 2) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

func BenchmarkSgemm(b *testing.B) {
	for _, tc := range []gemmCase{{50, 64, 500, 0}, {500, 64, 50, 0}, {256, 256, 256, 0}} {
		b.Run(fmt.Sprintf("%dx%dx%d", tc.m, tc.n, tc.k), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			a, bm, c := randMat(rng, tc.m, tc.k), randMat(rng, tc.k, tc.n), make([]float32, tc.m*tc.n)
			b.SetBytes(0)
			for b.Loop() {
				Sgemm(false, false, tc.m, tc.n, tc.k, 1, a, tc.k, bm, tc.n, 0, c, tc.n)
			}
			b.ReportMetric(2*float64(tc.m*tc.n*tc.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOPS")
		})
	}
}

// BenchmarkPackBTrans packs op(B) = B^T as every conv dW product does per image (B = col_n,
// CKK x OHW stored, read transposed: n = CKK, k = OHW), for LeNet-5's conv2 (500 x 64) and
// conv1 (25 x 576, one depth block; its second strip is partial).
func BenchmarkPackBTrans(b *testing.B) {
	for _, c := range []struct{ n, k int }{{500, 64}, {25, 576}} {
		b.Run(fmt.Sprintf("%dx%d", c.n, c.k), func(b *testing.B) {
			src := randMat(rand.New(rand.NewPCG(2, 2)), c.n, c.k)
			kc := min(c.k, gemmKC)
			dst := make([]float32, roundUp(c.n, gemmNR)*kc)
			for b.Loop() {
				packB(dst, true, src, c.k, 0, kc, 0, c.n)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*c.n*kc), "ns/elem")
		})
	}
}

// BenchmarkPackA packs op(A) as the conv dW products do per image (A = dY_n, O x OHW, not
// transposed: conv2's 50 x 64 and conv1's 20 x 576 in depth blocks of gemmKC).
func BenchmarkPackA(b *testing.B) {
	for _, c := range []struct{ m, k int }{{50, 64}, {20, 576}} {
		b.Run(fmt.Sprintf("%dx%d", c.m, c.k), func(b *testing.B) {
			src := randMat(rand.New(rand.NewPCG(3, 3)), c.m, c.k)
			dst := make([]float32, roundUp(c.m, gemmMR)*gemmKC)
			for b.Loop() {
				for pc := 0; pc < c.k; pc += gemmKC {
					packA(dst, false, 1, src, c.k, 0, c.m, pc, min(gemmKC, c.k-pc))
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*c.m*c.k), "ns/elem")
		})
	}
}

// packARef is packA as a plain loop: dst[s*kc*MR + p*MR + i] = alpha * op(A)[ic+s*MR+i, pc+p],
// zero past row mc.
func packARef(dst []float32, transA bool, alpha float32, a []float32, lda, ic, mc, pc, kc int) {
	for s := 0; s*gemmMR < mc; s++ {
		for p := 0; p < kc; p++ {
			for i := 0; i < gemmMR; i++ {
				v := float32(0)
				if r := s*gemmMR + i; r < mc {
					if transA {
						v = alpha * a[(pc+p)*lda+ic+r]
					} else {
						v = alpha * a[(ic+r)*lda+pc+p]
					}
				}
				dst[(s*kc+p)*gemmMR+i] = v
			}
		}
	}
}

func TestPackAMatchesRef(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 1))
	for _, tc := range []struct{ m, k, ic, pc, pad int }{{50, 64, 0, 0, 0}, {20, 576, 0, 256, 1}, {13, 7, 1, 2, 3}, {6, 1, 0, 0, 0}, {97, 300, 0, 44, 2}, {17, 30, 0, 3, 1}} {
		for _, trans := range []bool{false, true} {
			for _, alpha := range []float32{1, -0.7} {
				rows, cols := stored(tc.m, tc.k, trans)
				ld := cols + tc.pad
				a := randMat(rng, rows, ld)
				a[0] = float32(math.Inf(1))
				mc, kc := min(gemmMC, tc.m-tc.ic), min(gemmKC, tc.k-tc.pc)
				n := roundUp(mc, gemmMR) * kc
				got, want := make([]float32, n), make([]float32, n)
				for i := range got {
					got[i] = float32(math.NaN())
				}
				packA(got, trans, alpha, a, ld, tc.ic, mc, tc.pc, kc)
				packARef(want, trans, alpha, a, ld, tc.ic, mc, tc.pc, kc)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%+v trans=%v alpha=%g: [%d] = %g, want %g", tc, trans, alpha, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// packBRef is packB as a plain loop: dst[s*kc*NR + p*NR + j] = op(B)[pc+p, jc+s*NR+j], zero
// past column nc.
func packBRef(dst []float32, transB bool, b []float32, ldb, pc, kc, jc, nc int) {
	for s := 0; s*gemmNR < nc; s++ {
		for p := 0; p < kc; p++ {
			for j := 0; j < gemmNR; j++ {
				v := float32(0)
				if c := s*gemmNR + j; c < nc {
					if transB {
						v = b[(jc+c)*ldb+pc+p]
					} else {
						v = b[(pc+p)*ldb+jc+c]
					}
				}
				dst[(s*kc+p)*gemmNR+j] = v
			}
		}
	}
}

// TestPackBMatchesRef: packB (with its transposing kernel where the CPU has it) writes the
// plain loop's bits, for full and partial strips and depths with a tail past the groups of 8.
func TestPackBMatchesRef(t *testing.T) {
	rng := rand.New(rand.NewPCG(14, 3))
	for _, tc := range []struct{ k, n, pc, jc, pad int }{{800, 500, 0, 0, 0}, {64, 50, 0, 0, 1}, {30, 7, 3, 1, 2}, {7, 40, 0, 5, 0}, {300, 33, 44, 0, 3}} {
		for _, trans := range []bool{false, true} {
			rows, cols := stored(tc.k, tc.n, trans)
			ld := cols + tc.pad
			b := randMat(rng, rows, ld)
			b[0] = float32(math.NaN())
			kc, nc := min(gemmKC, tc.k-tc.pc), min(gemmNC, tc.n-tc.jc)
			size := roundUp(nc, gemmNR) * kc
			got, want := make([]float32, size), make([]float32, size)
			for i := range got {
				got[i] = float32(math.Inf(1)) // every position must be written
			}
			packB(got, trans, b, ld, tc.pc, kc, tc.jc, nc)
			packBRef(want, trans, b, ld, tc.pc, kc, tc.jc, nc)
			for i := range want {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%+v trans=%v: [%d] = %g, want %g", tc, trans, i, got[i], want[i])
				}
			}
		}
	}
}
