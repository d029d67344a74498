package f32

import (
	"math"

	"github.com/qatgo/qatgo/fakequant"
)

// STEBounds returns the float32 interval [lo32, hi32] holding exactly the float32 values v
// with lo <= float64(v) <= hi: lo rounded up and hi rounded down to float32. Comparing float32
// values against it is steBackward's float64 comparison without the conversions.
func STEBounds(lo, hi float64) (lo32, hi32 float32) {
	lo32, hi32 = float32(lo), float32(hi)
	if float64(lo32) < lo {
		lo32 = math.Nextafter32(lo32, float32(math.Inf(1)))
	}
	if float64(hi32) > hi {
		hi32 = math.Nextafter32(hi32, float32(math.Inf(-1)))
	}
	return lo32, hi32
}

// STEBackward is steBackward: dx = dy where lo <= x <= hi (p's nudged range), else 0, with
// the comparison in float32 against STEBounds, eight lanes at a time where the CPU has a vector
// kernel. TestSTEBackwardVec checks it against steBackward.
func STEBackward(dx, x, dy []float32, p fakequant.Params) {
	lo, hi := STEBounds(p.NudgedRange())
	dy = dy[:len(x)]
	dx = dx[:len(x)]
	i := 0
	if useAVX2 && len(x) >= 8 {
		i = steAsm(&dx[0], &x[0], &dy[0], len(x)/8, lo, hi)
	}
	for ; i < len(x); i++ {
		if v := x[i]; lo <= v && v <= hi {
			dx[i] = dy[i]
		} else {
			dx[i] = 0
		}
	}
}

// AbsMax is absMaxOf, eight lanes at a time where the CPU has a vector kernel (max is exact,
// so the order of the lanes does not matter). TestAbsMaxVec checks it against absMaxOf.
func AbsMax(w []float32) (m float32, nan bool) {
	i := 0
	if useAVX2 && len(w) >= 8 {
		var n bool
		m, n = absMaxAsm(&w[0], len(w)/8)
		i = len(w) / 8 * 8
		nan = n
	}
	t, n := absMaxOf(w[i:])
	return max(m, t), nan || n
}
