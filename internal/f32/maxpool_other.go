//go:build !amd64 || purego

package f32

// useAsmPool is false: there are no vector max-pool kernels for this build.
const useAsmPool = false

func maxPool2x2Asm(y *float32, am *int32, x *float32, top, w, n, ow, rows int) {
	panic("autograd: no assembly max-pool kernel")
}

func maxPool2x2GradAsm(dx, dy *float32, am *int32, top, w, n, ow, rows int) {
	panic("autograd: no assembly max-pool kernel")
}
