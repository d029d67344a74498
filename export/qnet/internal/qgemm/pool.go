package qgemm

import "fmt"

// Pool2x2T max-pools channel-major int32 maps 2x2 with stride 2 and writes
// the result position-major: for channel j < chans, pooled row py < poolH
// and column px < poolW,
//
//	dst[(py*poolW + px)*ldd + j] = max(s[2py][2px], s[2py][2px+1], s[2py+1][2px], s[2py+1][2px+1])
//
// where s[y][x] = src[j*ldc + y*lds + x]. This is the SIMD engine's sparse
// Conv2D with its fused 2x2 pool: the accumulators come out per channel
// and the requantization takes rows of channels. The AVX2 form pools 4
// columns per step (VPMAXSD of two rows, VPSHUFD + VPMAXSD of neighbour
// lanes) and stores them with VMOVD/VPEXTRD; columns past the last multiple
// of 4 are done in Go. It panics if a slice is too short.
func Pool2x2T(lv Level, dst []int32, ldd int, src []int32, lds, ldc, chans, poolH, poolW int) {
	if chans <= 0 || poolH <= 0 || poolW <= 0 {
		return
	}
	if !Supported(lv) || ldd < chans || lds < 2*poolW || ldc < (2*poolH-1)*lds+2*poolW ||
		len(dst) < (poolH*poolW-1)*ldd+chans || len(src) < (chans-1)*ldc+(2*poolH-1)*lds+((2*poolW+7)&^7) {
		panic(fmt.Sprintf("qgemm: Pool2x2T: %d channels of %dx%d: dst %d (ldd %d), src %d (lds %d, ldc %d)",
			chans, poolH, poolW, len(dst), ldd, len(src), lds, ldc))
	}
	px0 := 0
	if lv != LevelGo && poolW >= 4 {
		px0 = poolW &^ 3
		pool2x2TAsm(dst, ldd, src, lds, ldc, chans, poolH, poolW)
	}
	for j := 0; j < chans; j++ {
		s := src[j*ldc:]
		for py := 0; py < poolH; py++ {
			r0, r1 := s[2*py*lds:], s[(2*py+1)*lds:]
			for px := px0; px < poolW; px++ {
				dst[(py*poolW+px)*ldd+j] = max(r0[2*px], r0[2*px+1], r1[2*px], r1[2*px+1])
			}
		}
	}
}
