package f32

import (
	"math"

	"github.com/qatgo/qatgo/fakequant"
)

// fqConsts are the operands of the vector fake-quantization kernel (fqrow_amd64.s), each
// repeated for the four float64 lanes it works on. The offsets in the assembly follow this
// layout (TestFQConstsLayout).
type fqConsts struct {
	scale   [4]float64 // 0: S
	absMask [4]uint64  // 32: 0x7fff...: |y|
	lim     [4]float64 // 64: 2^32, the bound of the fast path (0: decline every group)
	lo      [4]float64 // 96: QMin - Z
	hi      [4]float64 // 128: QMax - Z
	recip   [4]float64 // 160: fl64(1/S)
	guard   [4]float64 // 192: 1/2 - 2^-16, the bound on the distance to an integer

	// The float32 kernel (fakeQuant8sAsm), eight lanes.
	recip32 [8]float32 // 224: float32(1/S)
	lim32   [8]float32 // 256: 2^12, the bound of its fast path on |x * recip32| (0: decline all)
	guard32 [8]float32 // 288: 1/2 - 2^-10, the bound on the distance to an integer
	abs32   [8]uint32  // 320: 0x7fffffff
	lo32    [8]float32 // 352: QMin - Z
	hi32    [8]float32 // 384: QMax - Z
}

func (k *fqConsts) Set(p fakequant.Params) {
	recip, lim := 1/p.Scale, float64(0x1p32)
	if r := math.Abs(recip); r < 0x1p-1022 || r > math.MaxFloat64 {
		lim = 0 // the kernel's bound assumes a normal float64 1/S
	}
	for i := range 4 {
		k.scale[i], k.absMask[i], k.lim[i] = p.Scale, 1<<63-1, lim
		k.lo[i], k.hi[i] = float64(p.QMin-p.ZeroPoint), float64(p.QMax-p.ZeroPoint)
		k.recip[i], k.guard[i] = recip, 0.5-0x1p-16
	}
	recip32, lim32 := float32(recip), float32(0x1p12)
	if r := math.Abs(float64(recip32)); lim == 0 || r < 0x1p-126 || r > math.MaxFloat32 {
		lim32 = 0 // the bound in fakeQuant8sAsm assumes a normal float32 1/S
	}
	for i := range 8 {
		k.recip32[i], k.lim32[i], k.guard32[i], k.abs32[i] = recip32, lim32, 0.5-0x1p-10, 1<<31-1
		k.lo32[i], k.hi32[i] = float32(p.QMin-p.ZeroPoint), float32(p.QMax-p.ZeroPoint)
	}
}

// FakeQuantize is fakeQuantizeRow with the vector kernels where the CPU has them: groups
// of eight values go through the float32 kernel (fakeQuant8sAsm), a group it declines (x/S
// within 2^-10 of a half-integer, |x/S| >= 2^12, NaN) through the float64 one (fakeQuant8Asm),
// and a group that one declines too (a value on fakeQuantizeRow's slow path, |x/S| >= 2^32 or
// NaN, or x/S within 2^-16 of a half-integer) through fakeQuantizeRow, as does the tail.
// TestFakeQuantizeRowVec checks it against fakeQuantizeRow.
func FakeQuantize(dst, src []float32, p fakequant.Params) {
	dst = dst[:len(src)]
	i := 0
	if useAVX2 && len(src) >= 8 {
		var k fqConsts
		k.Set(p)
		for len(src)-i >= 8 {
			i += fakeQuant8sAsm(&dst[i], &src[i], (len(src)-i)/8, &k)
			if len(src)-i < 8 {
				break
			}
			if fakeQuant8Asm(&dst[i], &src[i], 1, &k) == 0 {
				fakeQuantizeRow(dst[i:i+8], src[i:i+8], p)
			}
			i += 8
		}
	}
	fakeQuantizeRow(dst[i:], src[i:], p)
}
