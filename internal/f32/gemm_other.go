//go:build !amd64 || purego

package f32

// useAsmKernel is false: there is no assembly micro-kernel for this build.
const useAsmKernel = false

func sgemmKernelAsm(k int, a, b, c *float32, ldc int) { panic("autograd: no assembly kernel") }
