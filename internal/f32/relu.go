package f32

import "math"

// ReLURow writes y[k] = x[k] * [x[k] >= 0] and mask[k] = [x[k] >= 0], and returns max(+0,
// max y) and whether y holds a NaN.
func ReLURow(y []float32, mask []uint8, x []float32) (hi float32, nan bool) {
	y, mask = y[:len(x)], mask[:len(x)]
	for k, v := range x {
		m := b2i(v >= 0)
		y[k] = v * float32(m)
		mask[k] = uint8(m)
	}
	return reluTop(y)
}

// reluTop returns RangeOf(y)'s hi and NaN flag for a ReLU output y. y holds no value below
// zero but -0 and NaNs of either sign, and for non-negative floats the order of the bit
// patterns is the order of the values: the largest pattern without the sign is the largest
// value (+0 when every value is a zero, as RangeOf's hi starts at +0), or a NaN if it is above
// +Inf's. The integer max is a conditional move, where the float max handles NaNs and signed
// zeros. It is a second loop over the row, still in cache: folded into the row's own loop, the
// max made that loop six times slower on an AMD EPYC (BenchmarkBiasReLURow), apparently one
// dependency chain through the whole loop body.
func reluTop(y []float32) (hi float32, nan bool) {
	return reluRange(reluTopBits(y))
}

// reluTopBits is reluTop's integer maximum: max over y of bits(v) &^ sign.
func reluTopBits(y []float32) uint32 {
	var top uint32
	for _, r := range y {
		top = max(top, math.Float32bits(r)&^(1<<31))
	}
	return top
}

// reluRange turns reluTopBits' maximum into reluTop's result.
func reluRange(top uint32) (hi float32, nan bool) {
	if top > 0x7f800000 {
		return 0, true
	}
	return math.Float32frombits(top), false
}

// BiasReLURow is ReLURow of pre = x[k] + b. (It is not ReLURow with b = 0: -0 + 0 is +0.) Groups
// of eight go through the vector kernel where the CPU has one (TestBiasReLURowVec checks it
// against biasReLURowRef, the loop below).
func BiasReLURow(y []float32, mask []uint8, x []float32, b float32) (hi float32, nan bool) {
	y, mask = y[:len(x)], mask[:len(x)]
	if !useAVX2 || len(x) < 8 {
		return biasReLURowRef(y, mask, x, b)
	}
	n := len(x) / 8 * 8
	top := biasReLUAsm(&y[0], &mask[0], &x[0], n/8, b)
	biasReLURowRef(y[n:], mask[n:], x[n:], b)
	return reluRange(max(top, reluTopBits(y[n:])))
}

// biasReLURowRef is BiasReLURow's reference loop.
func biasReLURowRef(y []float32, mask []uint8, x []float32, b float32) (hi float32, nan bool) {
	y, mask = y[:len(x)], mask[:len(x)]
	for k, v := range x {
		pre := v + b
		m := b2i(pre >= 0)
		y[k] = pre * float32(m)
		mask[k] = uint8(m)
	}
	return reluTop(y)
}

// ReLUBiasGradRows writes dpre = dy * mask for the images [lo, hi) of a (N, c, inner) tensor
// and adds each image's channel sums of dpre to part: part[ch] += s, with s summed over the
// channel's inner values in order. Four channels go side by side (four independent sums, each
// in its own order, so the same bits as one channel at a time: reluBiasGradRowsRef), which
// hides the latency of the float adds; where inner is a multiple of 8, eight channels go
// through relugrad_amd64.s first.
func ReLUBiasGradRows(dx, dy []float32, mask []uint8, part []float32, lo, hi, c, inner int) {
	vec := useAVX2 && inner > 0 && inner%8 == 0
	for i := lo; i < hi; i++ {
		ch := 0
		for ; vec && ch+8 <= c; ch += 8 {
			// Eight channels in the lanes of relugrad_amd64.s, after checking its last reads.
			off := (i*c + ch) * inner
			end := off + 8*inner
			_, _, _, _ = dx[end-1], dy[end-1], mask[end-1], part[ch+7]
			reluBiasGrad8Asm(&dx[off], &dy[off], &mask[off], &part[ch], inner)
		}
		for ; ch+4 <= c; ch += 4 {
			off := (i*c + ch) * inner
			d0, d1, d2, d3 := dx[off:][:inner], dx[off+inner:][:inner], dx[off+2*inner:][:inner], dx[off+3*inner:][:inner]
			y0, y1, y2, y3 := dy[off:][:inner], dy[off+inner:][:inner], dy[off+2*inner:][:inner], dy[off+3*inner:][:inner]
			m0, m1, m2, m3 := mask[off:][:inner], mask[off+inner:][:inner], mask[off+2*inner:][:inner], mask[off+3*inner:][:inner]
			var s0, s1, s2, s3 float32
			for k := range d0 {
				g0, g1, g2, g3 := y0[k]*float32(m0[k]), y1[k]*float32(m1[k]), y2[k]*float32(m2[k]), y3[k]*float32(m3[k])
				d0[k], d1[k], d2[k], d3[k] = g0, g1, g2, g3
				s0, s1, s2, s3 = s0+g0, s1+g1, s2+g2, s3+g3
			}
			part[ch] += s0
			part[ch+1] += s1
			part[ch+2] += s2
			part[ch+3] += s3
		}
		for ; ch < c; ch++ {
			off := (i*c + ch) * inner
			part[ch] += reluGradSum(dx[off:off+inner], dy[off:off+inner], mask[off:off+inner])
		}
	}
}

// reluGradSum writes d = dy * mask and returns the sum of d in order.
func reluGradSum(d, dy []float32, m []uint8) float32 {
	var s float32
	for k, v := range dy {
		g := v * float32(m[k])
		d[k] = g
		s += g
	}
	return s
}

// reluBiasGradRowsRef is ReLUBiasGradRows one channel at a time, the reference.
func reluBiasGradRowsRef(dx, dy []float32, mask []uint8, part []float32, lo, hi, c, inner int) {
	for i := lo; i < hi; i++ {
		for ch := 0; ch < c; ch++ {
			off := (i*c + ch) * inner
			part[ch] += reluGradSum(dx[off:off+inner], dy[off:off+inner], mask[off:off+inner])
		}
	}
}
