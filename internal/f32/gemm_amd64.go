//go:build amd64 && !purego

package f32

import "golang.org/x/sys/cpu"

// useAsmKernel selects the AVX2+FMA micro-kernel of gemm_amd64.s (x/sys/cpu also checks that
// the OS saves the YMM registers).
var useAsmKernel = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// sgemmKernelAsm is gemmKernelGo in AVX2+FMA: C[0:6, 0:16] += sum_p a[p*6+i] * b[p*16+j],
// with fused multiply-adds. k >= 1; a, b and c must hold 6k, 16k and 5*ldc+16 elements.
//
//go:noescape
func sgemmKernelAsm(k int, a, b, c *float32, ldc int)
