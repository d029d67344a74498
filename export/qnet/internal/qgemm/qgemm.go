package qgemm

import "fmt"

// A Level is a set of kernels: pure Go, AVX2 or AVX-512 VNNI. All levels
// compute the same integers.
type Level uint8

// The levels, from slowest to fastest.
const (
	LevelGo   Level = iota // pure Go, every architecture
	LevelAVX2              // AVX2: VPMADDWD on widened bytes
	LevelVNNI              // AVX-512 VNNI (with VL): VPDPBUSD on 256-bit registers
)

func (l Level) String() string {
	switch l {
	case LevelGo:
		return "go"
	case LevelAVX2:
		return "avx2"
	case LevelVNNI:
		return "vnni"
	}
	return fmt.Sprintf("Level(%d)", uint8(l))
}

// best is the fastest level this CPU runs (cpu_amd64.go); level is the one
// Best reports, lowered by SetLevel.
var level = best

// Best returns the level the engine uses: the fastest the CPU supports,
// unless lowered by SetLevel.
func Best() Level { return level }

// Supported reports whether the CPU (and the build) runs level l.
func Supported(l Level) bool { return l <= best }

// Levels returns every level this CPU and build support, slowest first.
func Levels() []Level {
	var ls []Level
	for l := LevelGo; l <= best; l++ {
		ls = append(ls, l)
	}
	return ls
}

// SetLevel makes Best return l (for tests and benchmarks that compare
// levels) and returns the previous value. It panics if l is not supported.
// It is not safe to call while another goroutine reads Best.
func SetLevel(l Level) Level {
	if !Supported(l) {
		panic(fmt.Sprintf("qgemm: SetLevel: %v not supported here (best %v)", l, best))
	}
	prev := level
	level = l
	return prev
}

// Packed is a weight matrix of Rows output channels by K taps in the kernel
// layout of its level (doc.go): Blocks blocks of 8 channels, Kp = K rounded
// up to 4 taps. At LevelAVX2 the weights are laid out for int16 products
// (BW) and the inputs must be int16 (Gemm16), unless the products are small enough for
// VPMADDUBSW (Narrow); the other levels read bytes (B, Gemm).
type Packed struct {
	Level               Level
	Rows, K, Kp, Blocks int
	// Steps is, at LevelAVX2 with bytes (Narrow), the 4-tap steps whose
	// VPMADDUBSW pair sums can be added in int16 lanes without leaving
	// them: floor(32767 / (2 xmax wmax)); 0 otherwise.
	Steps int
	B     []int8  // Go, VNNI, AVX2 VPMADDUBSW: Blocks x Kp/4 x 8 x 4
	BW    []int8  // AVX2 on int16 inputs: Blocks x Kp/2 x 8 x 2, widened to int16 as loaded
	Sum   []int32 // sum_k W[j][k] of every channel, Blocks*8 entries (0 beyond Rows)
}

// minNarrowSteps is the fewest int16 steps for which the VPMADDUBSW kernel
// (a flush to int32 after every run of Steps) beats the VPMADDWD one.
const minNarrowSteps = 4

// Pack lays out w (rows x k, row-major) for Gemm or Gemm16 at level lv, for
// inputs x in [0, xmax]. It panics on a length mismatch, a size below 1, an
// xmax outside 0..255 or an unsupported level.
//
// At LevelAVX2 it picks the VPMADDUBSW kernel when no int16 sum can leave
// its range: VPMADDUBSW adds two u8 x s8 products into an int16, saturating,
// and the kernel adds Steps of those sums per int16 lane before widening
// them to int32 (VPMADDWD by 1), so it needs Steps * 2 xmax wmax <= 32767,
// wmax = max |W|; bytes past K are multiplied by zero weights, so their
// values do not count. With 4-bit weights and activations (15*7) a lane
// takes 156 steps; with 8-bit weights and activations (255*127) not one,
// and the VPMADDWD kernel on int16 runs.
func Pack(lv Level, w []int8, rows, k int, xmax int) *Packed {
	if rows < 1 || k < 1 || len(w) != rows*k || !Supported(lv) || xmax < 0 || xmax > 255 {
		panic(fmt.Sprintf("qgemm: Pack: %d weights for %d x %d at %v, inputs up to %d", len(w), rows, k, lv, xmax))
	}
	p := &Packed{Level: lv, Rows: rows, K: k, Kp: (k + 3) &^ 3, Blocks: (rows + 7) / 8}
	if lv == LevelAVX2 {
		wmax := 1
		for _, v := range w {
			wmax = max(wmax, int(v), -int(v))
		}
		if s := 32767 / (2 * max(xmax, 1) * wmax); s >= minNarrowSteps {
			p.Steps = s
			p.Blocks = (p.Blocks + 1) &^ 1 // the tiles take 2 blocks
		}
	}
	p.Sum = make([]int32, p.Blocks*8)
	if p.Wide() {
		p.BW = make([]int8, p.Blocks*p.Kp*8)
	} else {
		p.B = make([]int8, p.Blocks*p.Kp*8)
	}
	for j := 0; j < rows; j++ {
		l := j % 8
		for t, v := range w[j*k : (j+1)*k] {
			if p.Wide() {
				p.BW[j/8*p.Kp*8+t/2*16+l*2+t%2] = v
			} else {
				p.B[j/8*p.Kp*8+t/4*32+l*4+t%4] = v
			}
			p.Sum[j] += int32(v)
		}
	}
	return p
}

// Wide reports whether the inputs are int16 (Gemm16) rather than bytes
// (Gemm): at LevelAVX2 unless the VPMADDUBSW kernel runs.
func (p *Packed) Wide() bool { return p.Level == LevelAVX2 && p.Steps == 0 }

// Narrow reports whether the VPMADDUBSW kernel (LevelAVX2, bytes) runs.
func (p *Packed) Narrow() bool { return p.Steps > 0 }

// Cols returns the accumulators Gemm writes per row: Blocks*8.
func (p *Packed) Cols() int { return p.Blocks * 8 }

// Gemm sets, for every row r < rows and channel j < Cols(),
//
//	c[r*ldc + j] = bias[j] + sum_{k < Kp} x[r*ldx + k] * W[j][k]     (int32, wrapping)
//
// Weights beyond K are 0, so the inputs x[r*ldx + K .. Kp) are read but do
// not matter. It panics if a slice is too short or p is Wide.
func (p *Packed) Gemm(c []int32, ldc int, x []uint8, ldx int, rows int, bias []int32) {
	if rows <= 0 {
		return
	}
	p.check(p.Wide(), c, ldc, len(x), ldx, rows, bias)
	if p.Level == LevelGo {
		gemmGo(p, c, ldc, x, ldx, rows, bias)
		return
	}
	gemmAsm(p, c, ldc, x, ldx, rows, bias)
}

// Gemm16 is Gemm on inputs widened to int16 (each a code 0..255), for a
// Wide p. It panics if a slice is too short or p is not Wide.
func (p *Packed) Gemm16(c []int32, ldc int, x []int16, ldx int, rows int, bias []int32) {
	if rows <= 0 {
		return
	}
	p.check(!p.Wide(), c, ldc, len(x), ldx, rows, bias)
	gemm16Asm(p, c, ldc, x, ldx, rows, bias)
}

func (p *Packed) check(wrong bool, c []int32, ldc int, nx, ldx int, rows int, bias []int32) {
	cols := p.Cols()
	if wrong || ldc < cols || ldx < 1 || len(bias) < cols || len(c) < (rows-1)*ldc+cols || nx < (rows-1)*ldx+p.Kp {
		panic(fmt.Sprintf("qgemm: Gemm at %v (wide %v), %d rows: c %d (ldc %d), x %d (ldx %d), bias %d for %d x %d",
			p.Level, p.Wide(), rows, len(c), ldc, nx, ldx, len(bias), cols, p.Kp))
	}
}

// MaxInto sets dst[i] = max(dst[i], src[i]) for i < len(dst), at level lv.
// It panics if src is shorter than dst.
func MaxInto(lv Level, dst, src []int32) {
	src = src[:len(dst)]
	n := 0
	if lv != LevelGo {
		n = maxIntoAsm(dst, src)
	}
	for i := n; i < len(dst); i++ {
		dst[i] = max(dst[i], src[i])
	}
}
