//go:build amd64 && !purego

package qgemm

import "golang.org/x/sys/cpu"

// best is the fastest level of this CPU: VNNI needs AVX-512 F, BW, VL and
// VNNI (the kernels use 256-bit EVEX VPDPBUSD; Zen 4 runs 512-bit
// operations as two 256-bit halves, so wider registers would not do more
// multiply-adds per cycle), AVX2 needs AVX2 (the OS support for the
// registers is part of x/sys/cpu's flags).
var best = func() Level {
	switch {
	case cpu.X86.HasAVX512F && cpu.X86.HasAVX512BW && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512VNNI:
		return LevelVNNI
	case cpu.X86.HasAVX2:
		return LevelAVX2
	}
	return LevelGo
}()

// Tiles of the assembly: c (ldc bytes apart) = bias + x (ldx bytes apart)
// times kp4*4 taps of nr consecutive weight blocks at w, for 4 rows or 1.
// The pointers must be valid for everything the tile reads and writes;
// Gemm and Gemm16 check the slices first.

//go:noescape
func vnni4x3(c *int32, ldc int, x *uint8, ldx int, w *int8, kp4 int, bias *int32)

//go:noescape
func vnni4x1(c *int32, ldc int, x *uint8, ldx int, w *int8, kp4 int, bias *int32)

//go:noescape
func vnni1x3(c *int32, ldc int, x *uint8, ldx int, w *int8, kp4 int, bias *int32)

//go:noescape
func vnni1x1(c *int32, ldc int, x *uint8, ldx int, w *int8, kp4 int, bias *int32)

//go:noescape
func avx4x2(c *int32, ldc int, x *int16, ldx int, w *int8, kp4 int, bias *int32)

//go:noescape
func avx4x1(c *int32, ldc int, x *int16, ldx int, w *int8, kp4 int, bias *int32)

//go:noescape
func avx1x2(c *int32, ldc int, x *int16, ldx int, w *int8, kp4 int, bias *int32)

//go:noescape
func avx1x1(c *int32, ldc int, x *int16, ldx int, w *int8, kp4 int, bias *int32)

//go:noescape
func requantDoubleAVX2(dst *uint8, ldd int, acc *int32, lda int, rows int, p *int32, blocks int)

//go:noescape
func requantSingleAVX2(dst *uint8, ldd int, acc *int32, lda int, rows int, p *int32, blocks int)

//go:noescape
func maxInt32AVX2(dst, src *int32, n int)

//go:noescape
func ubs4x2(c *int32, ldc int, x *uint8, ldx int, w *int8, kp4 int, bias *int32, steps int)

//go:noescape
func ubs1x2(c *int32, ldc int, x *uint8, ldx int, w *int8, kp4 int, bias *int32, steps int)

// gemmAsm runs Gemm's VNNI tiles: 4 rows at a time, then single rows; 3
// blocks at a time, then single blocks; or the AVX2 VPMADDUBSW tiles of a
// Narrow p: 4 rows or 1, 2 blocks (Pack makes Blocks even). Gemm has
// checked the slices.
func gemmAsm(p *Packed, c []int32, ldc int, x []uint8, ldx int, rows int, bias []int32) {
	kp4, bs := p.Kp/4, p.Kp*8
	if p.Narrow() {
		for r := 0; r < rows; {
			t, step := ubs4x2, 4
			if rows-r < 4 {
				t, step = ubs1x2, 1
			}
			for b := 0; b < p.Blocks; b += 2 {
				t(&c[r*ldc+b*8], ldc*4, &x[r*ldx], ldx, &p.B[b*bs], kp4, &bias[b*8], p.Steps)
			}
			r += step
		}
		return
	}
	for r := 0; r < rows; {
		tn, t1, step := vnni4x3, vnni4x1, 4
		if rows-r < 4 {
			tn, t1, step = vnni1x3, vnni1x1, 1
		}
		b := 0
		for ; b+3 <= p.Blocks; b += 3 {
			tn(&c[r*ldc+b*8], ldc*4, &x[r*ldx], ldx, &p.B[b*bs], kp4, &bias[b*8])
		}
		for ; b < p.Blocks; b++ {
			t1(&c[r*ldc+b*8], ldc*4, &x[r*ldx], ldx, &p.B[b*bs], kp4, &bias[b*8])
		}
		r += step
	}
}

// gemm16Asm runs Gemm16's AVX2 tiles: 4 rows, then single rows; 2 blocks,
// then single blocks.
func gemm16Asm(p *Packed, c []int32, ldc int, x []int16, ldx int, rows int, bias []int32) {
	kp4, bs := p.Kp/4, p.Kp*8
	for r := 0; r < rows; {
		tn, t1, step := avx4x2, avx4x1, 4
		if rows-r < 4 {
			tn, t1, step = avx1x2, avx1x1, 1
		}
		b := 0
		for ; b+2 <= p.Blocks; b += 2 {
			tn(&c[r*ldc+b*8], ldc*4, &x[r*ldx], ldx*2, &p.BW[b*bs], kp4, &bias[b*8])
		}
		for ; b < p.Blocks; b++ {
			t1(&c[r*ldc+b*8], ldc*4, &x[r*ldx], ldx*2, &p.BW[b*bs], kp4, &bias[b*8])
		}
		r += step
	}
}

func requantAsm(q *Requant, dst []uint8, ldd int, acc []int32, lda int, rows int) {
	if q.Single {
		requantSingleAVX2(&dst[0], ldd, &acc[0], lda*4, rows, &q.P[0], q.Blocks)
	} else {
		requantDoubleAVX2(&dst[0], ldd, &acc[0], lda*4, rows, &q.P[0], q.Blocks)
	}
}

// maxIntoAsm does MaxInto for the longest multiple of 8 and returns it.
func maxIntoAsm(dst, src []int32) int {
	n := len(dst) &^ 7
	if n > 0 {
		maxInt32AVX2(&dst[0], &src[0], n)
	}
	return n
}

//go:noescape
func gatherAVX2(dst *uint8, ldd int, src *uint8, offs *int32, rows, per, run int, fill uint8)

//go:noescape
func gather16AVX2(dst *int16, ldd int, src *uint8, offs *int32, rows, per, run int, fill uint8)

func gatherAsm(dst []uint8, ldd int, src []uint8, offs []int32, rows, per, run int, fill uint8) {
	gatherAVX2(&dst[0], ldd, &src[0], &offs[0], rows, per, run, fill)
}

func gather16Asm(dst []int16, ldd int, src []uint8, offs []int32, rows, per, run int, fill uint8) {
	gather16AVX2(&dst[0], ldd*2, &src[0], &offs[0], rows, per, run, fill)
}

// Sparse tiles (sparse.go): nv = 8, 4 or 1 vectors of every channel, ldc,
// ldv and ldx in bytes.

//go:noescape
func spmm8(c *int32, ldc, ldv int, x *int32, ldx int, start, e *int32, rows int, bias *int32)

//go:noescape
func spmm4(c *int32, ldc, ldv int, x *int32, ldx int, start, e *int32, rows int, bias *int32)

//go:noescape
func spmm1(c *int32, ldc, ldv int, x *int32, ldx int, start, e *int32, rows int, bias *int32)

// spmmAsm runs Mul's tiles: 8 vectors at a time, then 4, then 1.
func spmmAsm(s *Sparse, c []int32, ldc, ldv int, x []int32, ldx, nv int, bias []int32) {
	for v := 0; v < nv; {
		t, step := spmm8, 8
		switch {
		case nv-v >= 8:
		case nv-v >= 4:
			t, step = spmm4, 4
		default:
			t, step = spmm1, 1
		}
		t(&c[v*ldv], ldc*4, ldv*4, &x[v*ldx], ldx*4, &s.Start[0], &s.E[0], s.Rows, &bias[0])
		v += step
	}
}

//go:noescape
func pool2x2TAVX2(dst *int32, ldd int, src *int32, lds, ldc, chans, poolH, groups, drow int)

// pool2x2TAsm pools the columns below poolW &^ 3 (groups of 4); strides in bytes.
func pool2x2TAsm(dst []int32, ldd int, src []int32, lds, ldc, chans, poolH, poolW int) {
	pool2x2TAVX2(&dst[0], ldd*4, &src[0], lds*4, ldc*4, chans, poolH, poolW/4, poolW*ldd*4)
}
