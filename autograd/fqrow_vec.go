package autograd

import "github.com/qatgo/qatgo/fakequant"

// fqConsts are the operands of the vector fake-quantization kernel (fqrow_amd64.s), each
// repeated for the four float64 lanes it works on. The offsets in the assembly follow this
// layout.
type fqConsts struct {
	scale   [4]float64 // 0: S
	absMask [4]uint64  // 32: 0x7fff...: |y|
	lim     [4]float64 // 64: 2^32, the bound of the exact rounding
	lo      [4]float64 // 96: QMin - Z
	hi      [4]float64 // 128: QMax - Z
}

func (k *fqConsts) set(p fakequant.Params) {
	for i := range 4 {
		k.scale[i], k.absMask[i], k.lim[i] = p.Scale, 1<<63-1, 0x1p32
		k.lo[i], k.hi[i] = float64(p.QMin-p.ZeroPoint), float64(p.QMax-p.ZeroPoint)
	}
}

// fakeQuantizeRowVec is fakeQuantizeRow with the vector kernel where the CPU has one: groups
// of four values go through the kernel, and a group holding a value that takes
// fakeQuantizeRow's slow path (|x/S| >= 2^32, NaN) goes through fakeQuantizeRow, as does the
// tail. TestFakeQuantizeRowVec checks it against fakeQuantizeRow.
func fakeQuantizeRowVec(dst, src []float32, p fakequant.Params) {
	dst = dst[:len(src)]
	i := 0
	if useAVX2 && len(src) >= 4 {
		var k fqConsts
		k.set(p)
		for len(src)-i >= 4 {
			i += fakeQuantAsm(&dst[i], &src[i], (len(src)-i)/4, &k)
			if len(src)-i < 4 {
				break
			}
			fakeQuantizeRow(dst[i:i+4], src[i:i+4], p)
			i += 4
		}
	}
	fakeQuantizeRow(dst[i:], src[i:], p)
}
