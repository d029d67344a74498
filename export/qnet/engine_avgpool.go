package qnet

import (
	"github.com/qatgo/qatgo/export/qnet/internal/qgemm"
	"github.com/qatgo/qatgo/fakequant"
)

// avgPlan is an AvgPool2D on the SIMD engine: its window sums are
// requantized by qgemm.Requant (the vector kernels of the engine's
// Conv2D and FullyConnected layers, bit-exact with fakequant.RequantizeWith
// and at LevelGo fakequant.RequantizeWith itself) with every channel's
// multiplier the Q31 form of 1/(K*K), the input's zero point and range.
type avgPlan struct {
	l     *AvgPool2D
	z     int32
	rq    *qgemm.Requant
	cols  int // channels rounded up to 8: the accumulator row length
	outHW int // output positions
}

func newAvgPlan(l *AvgPool2D, c, outHW int, z, lo, hi int32, single bool) *avgPlan {
	m, s := fakequant.MeanMultiplier(l.K * l.K)
	blocks := (c + 7) / 8
	mult, shift := make([]int32, c), make([]int32, c)
	for i := range mult {
		mult[i], shift[i] = m, int32(s)
	}
	return &avgPlan{l: l, z: z, rq: qgemm.NewRequant(mult, shift, z, lo, hi, single, blocks), cols: blocks * 8, outHW: outHW}
}

// avgChunk is the int32 scratch of avgPoolHWC: the sums of as many output
// positions as fit (at least one), requantized together. 16 KB stays in L1
// and bounds the scratch whatever the model (RunnerBytes counts it).
const avgChunk = 4096

// rows is the output positions avgPoolHWC sums before requantizing them.
func (a *avgPlan) rows() int { return max(1, min(a.outHW, avgChunk/a.cols)) }

// accLen is the int32 scratch avgPoolHWC needs.
func (a *avgPlan) accLen() int { return a.rows() * a.cols }

// avgPoolHWC is avgPool2D on HWC activations: the K*K pixels of every
// window are summed into one row of acc (c int32s of sum(q - Z); the
// channels of a pixel are contiguous, so the inner loop runs over whole
// channel runs), and each chunk of rows() rows is requantized at once by
// qgemm's kernels at level lv, which write c bytes per output position
// (plus up to 7 bytes of slack past the last one, which the engine's
// buffers have). acc holds accLen() values.
func avgPoolHWC(lv qgemm.Level, dst, src []uint8, a *avgPlan, c, inH, inW int, acc []int32) {
	l := a.l
	outH := (inH-l.K)/l.Stride + 1
	outW := (inW-l.K)/l.Stride + 1
	off := int32(l.K*l.K) * a.z // sum(q - z) = sum(q) - K*K*z
	chunk := a.rows()
	for p0 := 0; p0 < outH*outW; p0 += chunk {
		n := min(chunk, outH*outW-p0)
		for r := 0; r < n; r++ {
			outY, outX := (p0+r)/outW, (p0+r)%outW
			sum := acc[r*a.cols:][:c]
			for i := range sum {
				sum[i] = -off
			}
			for ky := 0; ky < l.K; ky++ {
				row := src[((outY*l.Stride+ky)*inW+outX*l.Stride)*c:][:l.K*c]
				for kx := 0; kx < l.K; kx++ {
					for i, v := range row[kx*c : (kx+1)*c] {
						sum[i] += int32(v)
					}
				}
			}
		}
		a.rq.Rows(lv, dst[p0*c:], c, acc, a.cols, n)
	}
}
