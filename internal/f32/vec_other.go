//go:build !amd64 || purego

package f32

// useAVX2 is false: there are no vector kernels for this build.
const useAVX2 = false

// HasAVX2 reports whether the package's AVX2 kernels run: never in this build.
func HasAVX2() bool { return false }

func requantAsm(d, x *float32, groups, stride int, k *RequantConsts, single bool) int {
	panic("autograd: no assembly requantization kernel")
}

func patchRows16Asm(dst, x *float32, off *int, rows, s0, s1 int) {
	panic("autograd: no assembly patch packing kernel")
}

func patchTrans16Asm(dst *float32, rows *[16]*float32, base *int, blocks int) {
	panic("autograd: no assembly patch packing kernel")
}

func col2imDirectAsm(dx, col *float32, off *int, rows, oh, groups, w int) {
	panic("autograd: no assembly Col2im kernel")
}

func packA6Asm(dst *float32, rows *[6]*float32, alpha float32, blocks int) {
	panic("autograd: no assembly packing kernel")
}

func reluBiasGrad8Asm(dx, dy *float32, mask *uint8, part *float32, inner int) {
	panic("autograd: no assembly ReLU gradient kernel")
}

func fakeQuant8Asm(d, x *float32, groups int, k *fqConsts) int {
	panic("autograd: no assembly fake-quantization kernel")
}

func fakeQuant8sAsm(d, x *float32, groups int, k *fqConsts) int {
	panic("autograd: no assembly fake-quantization kernel")
}

func steAsm(dx, x, dy *float32, groups int, lo, hi float32) int {
	panic("autograd: no assembly STE kernel")
}

func absMaxAsm(w *float32, groups int) (float32, bool) {
	panic("autograd: no assembly abs-max kernel")
}

func biasReLUAsm(y *float32, mask *uint8, x *float32, groups int, b float32) uint32 {
	panic("autograd: no assembly ReLU kernel")
}

func addRowsAsm(dst, src *float32, rows, width, dstStride, srcStride int) {
	panic("autograd: no assembly row add")
}
