package qgemm

import (
	"math/rand/v2"
	"testing"
)

// TestSparse compares Mul at every level with the plain int64 sum reduced
// to int32: random shapes (vector counts that take every tile: 8, 4 and 1),
// densities from 0 (empty channels, an empty matrix) to 1, codes 0 and 255
// (and inputs up to 32767, the kernel's limit),
// weights -128 and 127, and biases at the int32 ends so the sums wrap.
func TestSparse(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 1))
	for _, lv := range Levels() {
		for it := range 400 {
			rows, k := 1+rng.IntN(60), 1+rng.IntN(900)
			nv := 1 + rng.IntN(21)
			density := []float64{0, 0.02, 0.1, 0.3, 1}[it%5]
			w := make([]int8, rows*k)
			for i := range w {
				if rng.Float64() >= density {
					continue
				}
				switch it / 5 % 3 {
				case 0:
					w[i] = int8(rng.IntN(256) - 128)
				case 1:
					w[i] = []int8{-128, 127}[rng.IntN(2)]
				default:
					w[i] = -128
				}
			}
			// Offsets: tap t at stride*t + shift (planes or batch blocks).
			stride, shift := int32(1+rng.IntN(9)), int32(rng.IntN(5))
			off := func(t int) int32 { return stride*int32(t) + shift }
			s := NewSparse(w, rows, k, off)
			ldx := rng.IntN(40)
			ldv := 8 + rng.IntN(3)
			ldc := nv*ldv + rng.IntN(5)
			x := make([]int32, (nv-1)*ldx+int(stride)*k+int(shift)+8)
			for i := range x {
				switch it % 4 {
				case 0:
					x[i] = int32(rng.IntN(256))
				case 1:
					x[i] = []int32{0, 255}[rng.IntN(2)]
				case 2:
					x[i] = 255
				default: // the whole allowed range
					x[i] = []int32{0, 32767, int32(rng.IntN(32768))}[rng.IntN(3)]
				}
			}
			bias := make([]int32, rows)
			for j := range bias {
				bias[j] = []int32{-1 << 31, 1<<31 - 1, int32(rng.Uint32())}[rng.IntN(3)]
			}
			c := make([]int32, (rows-1)*ldc+(nv-1)*ldv+8)
			for i := range c {
				c[i] = 0x5a5a5a5a
			}
			s.Mul(lv, c, ldc, ldv, x, ldx, nv, bias)
			for j := range rows {
				for v := range nv {
					for i := range 8 {
						sum := int64(bias[j])
						for tp := range k {
							sum += int64(w[j*k+tp]) * int64(x[v*ldx+int(off(tp))+i])
						}
						if got := c[j*ldc+v*ldv+i]; got != int32(sum) {
							t.Fatalf("%v it %d: %dx%d, %d vectors: c[ch %d][v %d][%d] = %d, want %d", lv, it, rows, k, nv, j, v, i, got, int32(sum))
						}
					}
				}
			}
			// Between the vectors (ldv > 8) and past the last channel nothing is written.
			for j := range rows {
				for v := range nv {
					for i := 8; i < ldv && v+1 < nv; i++ {
						if c[j*ldc+v*ldv+i] != 0x5a5a5a5a {
							t.Fatalf("%v it %d: wrote lane %d of vector %d", lv, it, i, v)
						}
					}
				}
			}
		}
	}
}

func TestSparseNNZ(t *testing.T) {
	w := []int8{0, 3, 0, -1, 0, 0, 0, 0, 7}
	s := NewSparse(w, 3, 3, func(t int) int32 { return int32(t) })
	if s.NNZ() != 3 || s.Start[1] != 1 || s.Start[2] != 2 || s.Start[3] != 3 || s.MaxOff != 2 {
		t.Fatalf("NewSparse: %+v", s)
	}
}

// TestRunsChecks checks that a bad run table or a short source is refused
// (NewRuns checks the offsets once; Gather then the lengths).
func TestRunsChecks(t *testing.T) {
	panics := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: no panic", name)
			}
		}()
		f()
	}
	panics("offset -3", func() { NewRuns([]int32{0, -3}, 2, 4) })
	panics("ragged table", func() { NewRuns([]int32{0, 1, 2}, 2, 4) })
	tab := NewRuns([]int32{0, 10}, 2, 4) // reads src up to 10+4+15
	dst := make([]uint8, 2*4+15)
	Gather(LevelGo, dst, 8, make([]uint8, 29), tab, 1, 0)
	panics("short source", func() { Gather(LevelGo, dst, 8, make([]uint8, 28), tab, 1, 0) })
	panics("short destination", func() { Gather(LevelGo, dst[:22], 8, make([]uint8, 29), tab, 1, 0) })
	panics("too many rows", func() { Gather(LevelGo, make([]uint8, 100), 8, make([]uint8, 29), tab, 2, 0) })
}

// TestPool2x2T compares Pool2x2T at every level with the plain maximum on
// random shapes (pooled widths around the 4-column groups) and values at
// the int32 ends; entries of dst it must not write keep their value.
func TestPool2x2T(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 2))
	for _, lv := range Levels() {
		for it := range 300 {
			chans, poolH, poolW := 1+rng.IntN(30), 1+rng.IntN(6), 1+rng.IntN(13)
			lds := 2*poolW + rng.IntN(3)*8
			ldc := (2*poolH-1)*lds + ((2*poolW + 7) &^ 7) + rng.IntN(9)
			ldd := chans + rng.IntN(9)
			src := make([]int32, (chans-1)*ldc+(2*poolH-1)*lds+((2*poolW+7)&^7))
			for i := range src {
				src[i] = []int32{int32(rng.Uint32()), -1 << 31, 1<<31 - 1}[rng.IntN(3)]
			}
			dst := make([]int32, (poolH*poolW-1)*ldd+chans+rng.IntN(4))
			const untouched = 0x5a5a5a5a
			for i := range dst {
				dst[i] = untouched
			}
			Pool2x2T(lv, dst, ldd, src, lds, ldc, chans, poolH, poolW)
			want := make([]int32, len(dst))
			for i := range want {
				want[i] = untouched
			}
			for j := range chans {
				for py := range poolH {
					for px := range poolW {
						s := func(y, x int) int32 { return src[j*ldc+y*lds+x] }
						want[(py*poolW+px)*ldd+j] = max(s(2*py, 2*px), s(2*py, 2*px+1), s(2*py+1, 2*px), s(2*py+1, 2*px+1))
					}
				}
			}
			for i := range want {
				if dst[i] != want[i] {
					t.Fatalf("%v it %d: %d channels %dx%d: dst[%d] = %d, want %d", lv, it, chans, poolH, poolW, i, dst[i], want[i])
				}
			}
		}
	}
}

// TestSparsePairs checks Mul on entries and inputs that use both int16
// halves (SparseFromLists, the sparse Conv2D's tap pairs), over the whole
// int32 range (wrapping, including VPMADDWD's (-2^15)^2 * 2 case), against
// the int64 sum of lo*lo + hi*hi reduced to int32.
func TestSparsePairs(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 3))
	half := func(v int32) (int64, int64) { return int64(int16(v)), int64(v >> 16) }
	for _, lv := range Levels() {
		for it := range 200 {
			rows, nv := 1+rng.IntN(20), 1+rng.IntN(19)
			span := 1 + rng.IntN(300)
			lists := make([][]int32, rows)
			for j := range lists {
				for range rng.IntN(40) {
					w := int32(rng.Uint32())
					if it%4 == 0 {
						w = int32(-0x7fff8000) // 0x80008000: both halves -2^15
					}
					lists[j] = append(lists[j], int32(rng.IntN(span)), w)
				}
			}
			s := SparseFromLists(lists)
			ldx := rng.IntN(30)
			x := make([]int32, (nv-1)*ldx+span+8)
			for i := range x {
				x[i] = int32(rng.Uint32())
				if it%4 == 0 {
					x[i] = int32(-0x7fff8000) // 0x80008000
				}
			}
			bias := make([]int32, rows)
			for j := range bias {
				bias[j] = int32(rng.Uint32())
			}
			c := make([]int32, (rows-1)*nv*8+nv*8)
			s.Mul(lv, c, nv*8, 8, x, ldx, nv, bias)
			for j := range rows {
				for v := range nv {
					for i := range 8 {
						sum := int64(bias[j])
						for e := 0; e < len(lists[j]); e += 2 {
							wl, wh := half(lists[j][e+1])
							xl, xh := half(x[v*ldx+int(lists[j][e])+i])
							sum += wl*xl + wh*xh
						}
						if got := c[j*nv*8+v*8+i]; got != int32(sum) {
							t.Fatalf("%v it %d: c[%d][%d][%d] = %d, want %d", lv, it, j, v, i, got, int32(sum))
						}
					}
				}
			}
		}
	}
}
