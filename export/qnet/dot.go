package qnet

// dot4x64 is the inner loop of the fast path: four int64 dot products of the
// centered inputs x (q - Z) with four rows of lane-packed weights (plan.go),
// so each x[k] is loaded once for four multiplies, and every multiply does
// the work of 2 to 4 int32 multiply-adds. Every w must be at least as long
// as x. The caller guarantees that no lane of a sum overflows (plan.go), so
// all arithmetic is exact.
func dot4x64(x []int16, w0, w1, w2, w3 []int64) (s0, s1, s2, s3 int64) {
	n := len(x)
	w0, w1, w2, w3 = w0[:n], w1[:n], w2[:n], w3[:n]
	for k, v := range x {
		d := int64(v)
		s0 += d * w0[k]
		s1 += d * w1[k]
		s2 += d * w2[k]
		s3 += d * w3[k]
	}
	return s0, s1, s2, s3
}

// unpackLanes adds the lanes of s to acc[0:lanes]. s must be the exact sum
// sum_i a_i 2^(i*laneBits) with |a_i| < 2^(laneBits-1) for every lane.
func unpackLanes(acc []int32, s int64, lanes int, laneBits uint) {
	acc = acc[:lanes]
	for i := range lanes - 1 {
		a := s << (64 - laneBits) >> (64 - laneBits) // sign-extend the low lane
		acc[i] += int32(a)
		s = (s - a) >> laneBits // exact: s - a is a multiple of 2^laneBits
	}
	acc[lanes-1] += int32(s)
}
