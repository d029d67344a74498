//go:build !amd64 || purego

package autograd

// useAsmRequant is false: there is no vector requantization kernel for this build.
const useAsmRequant = false

func requantAsm(d, x *float32, groups, stride int, k *requantConsts) int {
	panic("autograd: no assembly requantization kernel")
}

func fakeQuantAsm(d, x *float32, groups int, k *fqConsts) int {
	panic("autograd: no assembly fake-quantization kernel")
}

func steAsm(dx, x, dy *float32, groups int, lo, hi float32) int {
	panic("autograd: no assembly STE kernel")
}

func absMaxAsm(w *float32, groups int) (float32, bool) {
	panic("autograd: no assembly abs-max kernel")
}
