package qgemm

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/qatgo/qatgo/fakequant"
)

// naive is the plain sum Gemm must equal: bias + sum_k x[r][k] w[j][k], in
// int64 reduced to int32 (wrapping, as Gemm is specified).
func naive(w []int8, rows, k int, x []uint8, ldx, n int, bias []int32) [][]int32 {
	out := make([][]int32, n)
	for r := range n {
		out[r] = make([]int32, rows)
		for j := range rows {
			s := int64(bias[j])
			for t := range k {
				s += int64(x[r*ldx+t]) * int64(w[j*k+t])
			}
			out[r][j] = int32(s)
		}
	}
	return out
}

// TestGemm compares every level with the plain sum on random shapes (rows
// of 1 to 4+, channel counts around the tile widths, K not a multiple of
// 4), random and extreme values: inputs 0 and 255, weights -128, -127 and
// 127, and biases that drive the int32 sum to its ends and across them
// (wrapping is part of the specification).
func TestGemm(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, lv := range Levels() {
		narrow, wide := 0, 0
		for it := range 600 {
			xmax := []int{255, 15, 3, 127, 1}[it%5]
			rows := 1 + rng.IntN(40)
			k := 1 + rng.IntN(70)
			n := 1 + rng.IntN(11)
			if it%7 == 0 {
				k = 800 + rng.IntN(9) // long sums
			}
			w := make([]int8, rows*k)
			x := make([]uint8, 0)
			mode := it / 5 % 5
			for i := range w {
				switch mode {
				case 0:
					w[i] = int8(rng.IntN(256) - 128)
				case 1:
					w[i] = []int8{-128, 127}[rng.IntN(2)]
				case 2:
					w[i] = -128
				case 3:
					w[i] = []int8{-127, 127, 0}[rng.IntN(3)]
				default:
					w[i] = int8(rng.IntN(15) - 7)
				}
			}
			p := Pack(lv, w, rows, k, xmax)
			if p.Narrow() {
				narrow++
			} else {
				wide++
			}
			ldx := p.Kp + rng.IntN(3)
			x = make([]uint8, (n-1)*ldx+p.Kp)
			for i := range x {
				switch mode {
				case 1, 2:
					x[i] = uint8(xmax)
				case 3:
					x[i] = uint8(xmax) * uint8(rng.IntN(2))
				default:
					x[i] = uint8(rng.IntN(xmax + 1))
				}
			}
			for r := range n { // taps beyond K hold anything
				for t := k; t < p.Kp; t++ {
					x[r*ldx+t] = uint8(rng.IntN(256))
				}
			}
			bias := make([]int32, p.Cols())
			for j := range bias {
				switch rng.IntN(4) {
				case 0:
					bias[j] = int32(rng.Uint32())
				case 1:
					bias[j] = 1<<31 - 1
				case 2:
					bias[j] = -1 << 31
				}
			}
			ldc := p.Cols() + rng.IntN(9)
			c := make([]int32, (n-1)*ldc+p.Cols())
			if p.Wide() {
				x16 := make([]int16, len(x))
				for i, v := range x {
					x16[i] = int16(v)
				}
				p.Gemm16(c, ldc, x16, ldx, n, bias)
			} else {
				p.Gemm(c, ldc, x, ldx, n, bias)
			}
			want := naive(w, rows, k, x, ldx, n, bias)
			for r := range n {
				if got := c[r*ldc : r*ldc+rows]; !slices.Equal(got, want[r]) {
					t.Fatalf("%v it %d (narrow %v): %d x %d x %d, row %d:\n got %v\nwant %v", lv, it, p.Narrow(), n, rows, k, r, got, want[r])
				}
			}
		}
		t.Logf("%v: %d narrow packs, %d others", lv, narrow, wide)
		if lv == LevelAVX2 && (narrow < 50 || wide < 50) {
			t.Errorf("%v: %d narrow packs, %d others: the test does not cover both kernels", lv, narrow, wide)
		}
	}
}

// requantCases returns multipliers and shifts at the ends of their ranges
// and random ones.
func requantCases(rng *rand.Rand) (mult, shift []int32) {
	ms := []int32{0, 1 << 30, 1<<30 + 1, 1<<31 - 1, 1<<31 - 2, 1518500250}
	for s := int32(-31); s <= 30; s++ {
		for _, m := range ms {
			mult, shift = append(mult, m), append(shift, s)
		}
		for range 6 {
			mult, shift = append(mult, 1<<30+rng.Int32N(1<<30)), append(shift, s)
		}
	}
	return mult, shift
}

// TestRequant compares Requant.Rows at every level and both rules with
// fakequant.RequantizeWith on accumulators at the ends of the int32 range
// (limited, for shift > 0, to those whose shifted value fits), around
// powers of two and the rounding ties, and random ones; zero points and
// clamps at their ends.
func TestRequant(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	mult, shift := requantCases(rng)
	blocks := (len(mult) + 7) / 8
	type clampCase struct{ z, lo, hi int32 }
	clamps := []clampCase{{0, 0, 255}, {255, 0, 255}, {128, 0, 255}, {0, 0, 15}, {3, 3, 9}, {255, 255, 255}, {0, 0, 0}, {17, 5, 200}}
	const rows = 64
	for _, lv := range Levels() {
		for _, rule := range []fakequant.Rounding{fakequant.RoundDouble, fakequant.RoundSingle} {
			for _, cl := range clamps {
				q := NewRequant(mult, shift, cl.z, cl.lo, cl.hi, rule == fakequant.RoundSingle, blocks)
				acc := make([]int32, rows*blocks*8)
				for r := range rows {
					for j := range len(mult) {
						var a int32
						switch r % 8 {
						case 0:
							a = int32(rng.Uint32())
						case 1:
							a = []int32{-1 << 31, 1<<31 - 1, 0, 1, -1}[r/8%5]
						case 2: // near a rounding tie of the final shift
							e := uint(max(31-shift[j], 1))
							a = int32(rng.IntN(64)-32)<<min(e, 30) + int32(rng.IntN(5)-2)
						case 3:
							a = int32(rng.IntN(1<<16) - 1<<15)
						default:
							a = int32(rng.IntN(1<<24) - 1<<23)
						}
						if s := shift[j]; s > 0 { // precondition: a << s fits
							a >>= uint(s)
						}
						acc[r*blocks*8+j] = a
					}
				}
				ldd := len(mult) // spill into the next row
				dst := make([]uint8, (rows-1)*ldd+blocks*8)
				q.Rows(lv, dst, ldd, acc, blocks*8, rows)
				for r := range rows {
					for j := range len(mult) {
						a := acc[r*blocks*8+j]
						want := fakequant.RequantizeWith(rule, a, mult[j], int(shift[j]), cl.z, cl.lo, cl.hi)
						if got := int32(dst[r*ldd+j]); got != want {
							t.Fatalf("%v %v clamp %v: acc %d M %d shift %d: got %d, want %d", lv, rule, cl, a, mult[j], shift[j], got, want)
						}
					}
				}
			}
		}
	}
}

func TestMaxInto(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, lv := range Levels() {
		for n := range 40 {
			a, b := make([]int32, n), make([]int32, n+3)
			for i := range a {
				a[i] = int32(rng.Uint32())
			}
			for i := range b {
				b[i] = []int32{int32(rng.Uint32()), -1 << 31, 1<<31 - 1}[rng.IntN(3)]
			}
			want := make([]int32, n)
			for i := range want {
				want[i] = max(a[i], b[i])
			}
			MaxInto(lv, a, b)
			if !slices.Equal(a, want) {
				t.Fatalf("%v n %d: got %v want %v", lv, n, a, want)
			}
		}
	}
}

// TestLevels checks that this machine tests what it can run: the levels
// listed are Go up to the best one.
func TestLevels(t *testing.T) {
	ls := Levels()
	if ls[0] != LevelGo || ls[len(ls)-1] != best {
		t.Fatalf("Levels() = %v, best %v", ls, best)
	}
	t.Logf("levels tested: %v", fmt.Sprint(ls))
}

// TestGather compares Gather and Gather16 at every level with plain copies
// on random runs (lengths around 16), padding runs and skipped runs.
func TestGather(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, lv := range Levels() {
		for it := range 300 {
			rows, per, run := 1+rng.IntN(9), 1+rng.IntN(6), 1+rng.IntN(40)
			ldd := per*run + rng.IntN(5)
			src := make([]uint8, run+16+rng.IntN(200))
			for i := range src {
				src[i] = uint8(rng.IntN(256))
			}
			offs := make([]int32, rows*per)
			for i := range offs {
				switch rng.IntN(6) {
				case 0:
					offs[i] = -1
				case 1:
					offs[i] = -2
				default:
					offs[i] = int32(rng.IntN(len(src) - run - 15 + 1))
				}
			}
			fill := uint8(rng.IntN(256))
			d8 := make([]uint8, (rows-1)*ldd+per*run+15)
			d16 := make([]int16, len(d8))
			tab := NewRuns(offs, per, run)
			Gather(lv, d8, ldd, src, tab, rows, fill)
			Gather16(lv, d16, ldd, src, tab, rows, fill)
			for r := range rows {
				for j := range per {
					off := offs[r*per+j]
					for i := range run {
						want := int(fill)
						switch {
						case off == -2:
							continue
						case off >= 0:
							want = int(src[int(off)+i])
						}
						at := r*ldd + j*run + i
						if int(d8[at]) != want || int(d16[at]) != want {
							t.Fatalf("%v it %d: row %d run %d (off %d) code %d: Gather %d, Gather16 %d, want %d",
								lv, it, r, j, off, i, d8[at], d16[at], want)
						}
					}
				}
			}
		}
	}
}
