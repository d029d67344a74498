package f32

import (
	"math"

	"github.com/qatgo/qatgo/fakequant"
)

// RequantConsts are the operands of the vector requantization kernel (requant_amd64.s), one
// per lane of the four float64 or int64 (or int32) lanes it works on, so that the kernel can
// use them as memory operands. The offsets in the assembly follow this layout. Lanes may
// differ in s, mult and exponent (four channels side by side); the rest is per tensor.
type RequantConsts struct {
	s       [4]float64 // 0: the accumulator scale S_in S_w[c]
	absMask [4]uint64  // 32: 0x7fff...: |y|
	lim     [4]float64 // 64: 2^32, the bound of the exact rounding
	maxAcc  [4]float64 // 96: MaxInt32
	minAcc  [4]float64 // 128: -MaxInt32
	mult    [4]int64   // 160: the quantized multiplier (>= 0)
	nudge   [4]int64   // 192: 2^30
	low31   [4]int64   // 224: 2^31 - 1
	mask    [4]int32   // 256: 2^exponent - 1
	half    [4]int32   // 272: mask >> 1
	vlo     [4]int32   // 288: QMin - Z
	vhi     [4]int32   // 304: hi - Z
	scale   [4]float64 // 320: the output scale S
	exp     [4]uint32  // 352: the exponent (the right shift), 0..31

	// The eight-lane kernel (requant8_amd64.s, one channel: set fills these, setLane does not).
	recip [8]float32 // 368: float32(1/s)
	lim8  [8]float32 // 400: 2^20, the bound of its fast path on |x * recip|
	guard [8]float32 // 432: 1/8, the bound of its fast path on the distance to an integer
	abs8  [8]uint32  // 464: 0x7fffffff
	mult8 [8]int32   // 496: mult
	mask8 [8]int32   // 528: mask
	half8 [8]int32   // 560: mask >> 1
	vlo8  [8]int32   // 592: vlo
	vhi8  [8]int32   // 624: vhi
	expq  uint64     // 656: the exponent, as a shift count

	// The eight-lane kernel with float64 recovery (requant8dAsm), for the groups the float32
	// shortcut declines.
	recipD [4]float64 // 664: fl64(1/s)
	limD   [4]float64 // 696: 2^30, the bound of its fast path on |x * recipD|
	guardD [4]float64 // 728: 1/2 - 2^-20, the bound on the distance to an integer

	// The single-rounding kernels (requantSAsm, requant8SAsm, requant8dSAsm), per lane as s:
	// with t = 31 + exponent, the product acc*mult plus sBias is in [0, 2^64), its logical
	// shift right by t is floor((acc*mult + 2^(t-1)) / 2^t) + 2^(62-t), and subtracting sSub
	// (mod 2^32) leaves the result. The eight-lane kernels read all eight sSub lanes (set fills
	// them; setLane fills lane i of the first four).
	sBias  [4]int64  // 760: 2^(t-1) + 2^62
	sShift [4]uint64 // 792: t
	sSub   [8]int32  // 824: 2^(62-t) mod 2^32 (2^31 is stored as MinInt32)
}

// set fills all four lanes of k for one channel: RequantChannel(d, x, k, ...) then writes what
// requantRow(d, x, s, mult, exponent, vlo, vhi, ...) writes when requantRow's value table is
// value[v - vlo] = float32(float64(v) * scale).
func (k *RequantConsts) Set(s float64, mult int32, exponent uint, vlo, vhi int32, scale float64) {
	for i := range 4 {
		k.SetLane(i, s, mult, exponent, vlo, vhi, scale)
	}
	recip, lim := float32(1/s), float32(0x1p20)
	if r := math.Abs(float64(recip)); r < 0x1p-126 || r > math.MaxFloat32 {
		lim = 0 // the bound in requant8_amd64.s assumes a normal float32 1/s
	}
	for i := range 8 {
		k.sSub[i] = k.sSub[0]
		k.recip[i], k.lim8[i], k.guard[i], k.abs8[i] = recip, lim, 0.125, 1<<31-1
		k.mult8[i], k.mask8[i], k.half8[i], k.vlo8[i], k.vhi8[i] = mult, k.mask[0], k.half[0], vlo, vhi
	}
	k.expq = uint64(exponent)
	recipD, limD := 1/s, float64(0x1p30)
	if r := math.Abs(recipD); r < 0x1p-1022 || r > math.MaxFloat64 {
		limD = 0 // the bound in requant8dAsm assumes a normal float64 1/s
	}
	for i := range 4 {
		k.recipD[i], k.limD[i], k.guardD[i] = recipD, limD, 0.5-0x1p-20
	}
}

// setLane fills lane i of k.
func (k *RequantConsts) SetLane(i int, s float64, mult int32, exponent uint, vlo, vhi int32, scale float64) {
	mask := int32(int64(1)<<exponent - 1)
	k.s[i], k.absMask[i], k.lim[i] = s, 1<<63-1, 0x1p32
	k.maxAcc[i], k.minAcc[i] = 2147483647, -2147483647
	k.mult[i], k.nudge[i], k.low31[i] = int64(mult), 1<<30, 1<<31-1
	k.mask[i], k.half[i], k.vlo[i], k.vhi[i] = mask, mask>>1, vlo, vhi
	k.scale[i], k.exp[i] = scale, uint32(exponent)
	t := 31 + exponent
	k.sBias[i], k.sShift[i], k.sSub[i] = 1<<(t-1)+1<<62, uint64(t), int32(uint32(1)<<(31-exponent))
}

// requant8Kernels are the eight-lane kernels of one rounding rule: the float32 recovery, the
// float64 recovery and the four-lane kernel.
type requant8Kernels struct {
	k8, k8d func(d, x *float32, groups int, k *RequantConsts) int
	k4      func(d, x *float32, groups, stride int, k *RequantConsts) int
}

var requantKernels = [2]requant8Kernels{
	fakequant.RoundDouble: {requant8Asm, requant8dAsm, requantAsm},
	fakequant.RoundSingle: {requant8SAsm, requant8dSAsm, requantSAsm},
}

// RequantTable is what the requantization of one tensor shares across its channels: the
// rounding rule, the clamp relative to the zero point (code = clamp(v, VLo, VHi) + Z with
// VLo = QMin - Z, VHi = hi - Z) and ZOff = Z - QMin, the real value of every code
// (Value[code-QMin]), and Zero, the value accumulator 0 requantizes to. The per-channel
// operands (accumulator scale, multiplier, exponent) are in a RequantConsts.
type RequantTable struct {
	Rule           fakequant.Rounding
	VLo, VHi, ZOff int32
	Value          []float32
	Zero           float32
}

// Set fills t for output parameters p with codes clamped to [p.QMin, hi] under rule.
func (t *RequantTable) Set(rule fakequant.Rounding, p fakequant.Params, hi int32) {
	t.Rule = rule
	n := int(p.QMax - p.QMin + 1)
	if cap(t.Value) < n {
		t.Value = make([]float32, n)
	}
	t.Value = t.Value[:n]
	for code := p.QMin; code <= p.QMax; code++ {
		t.Value[code-p.QMin] = float32(float64(code-p.ZeroPoint) * p.Scale)
	}
	t.VLo, t.VHi, t.ZOff = p.QMin-p.ZeroPoint, hi-p.ZeroPoint, p.ZeroPoint-p.QMin
	t.Zero = t.Value[min(max(0, t.VLo), t.VHi)+t.ZOff] // Requantize(0)
}

// row is requantRow with the operands of lane i of k.
func (t *RequantTable) row(d, x []float32, k *RequantConsts, i int) {
	requantRow(t.Rule, d, x, k.s[i], int32(k.mult[i]), uint(k.exp[i]), t.VLo, t.VHi, t.ZOff, t.Value, t.Zero)
}

// RequantChannel writes d[i] = Value[RequantizeWith(Rule, acc_i) - QMin] for one channel with a
// shift <= 0, acc_i = SaturateAccumulator(math.Round(x[i]/s)), with the channel's s, multiplier
// and exponent in k (RequantConsts.Set; Value made with the output scale given to Set). It is
// the one fast form of fakequant.RequantizeWith in training: the Go twin requantRow in purego
// builds and on CPUs without AVX2, else the vector kernels of t.Rule: groups of eight through
// the float32 recovery (requant8Asm, requant8SAsm), what it declines through the float64
// recovery (requant8dAsm, requant8dSAsm), and what both decline through requant4 (groups of
// four through requantAsm or requantSAsm, a group on requantRow's slow path and the tail
// through requantRow). TestRequantFastFormsMatchFakequant checks it against fakequant,
// TestRequantRowVec and TestRequant8Asm against requantRow.
func RequantChannel(t *RequantTable, d, x []float32, k *RequantConsts) {
	d = d[:len(x)]
	if !useAVX2 {
		t.row(d, x, k, 0)
		return
	}
	kern := &requantKernels[t.Rule&1]
	// Eight at a time where the float32 shortcut is exact; where it declines a group, the next
	// declineRun values go through the float64 recovery before it tries again (large
	// accumulators come in runs), and a group that one declines too goes through the four-lane
	// kernel.
	const declineRun = 64
	i := 0
	for len(x)-i >= 8 {
		i += kern.k8(&d[i], &x[i], (len(x)-i)/8, k)
		if len(x)-i < 8 {
			break
		}
		groups := min(declineRun, len(x)-i) / 8
		j := kern.k8d(&d[i], &x[i], groups, k)
		i += j
		if j < 8*groups {
			requant4(t, d[i:i+8], x[i:i+8], k)
			i += 8
		}
	}
	requant4(t, d[i:], x[i:], k)
}

// requant4 is RequantChannel with the four-lane kernel of t.Rule (requant_amd64.s) only:
// groups of four through requantAsm or requantSAsm, a group holding a value on requantRow's
// slow path (|x/s| >= 2^32, NaN) and the tail through requantRow.
func requant4(t *RequantTable, d, x []float32, k *RequantConsts) {
	k4 := requantKernels[t.Rule&1].k4
	i := 0
	for len(x)-i >= 4 {
		i += k4(&d[i], &x[i], (len(x)-i)/4, 4, k)
		if len(x)-i < 4 {
			break
		}
		t.row(d[i:i+4], x[i:i+4], k, 0)
		i += 4
	}
	t.row(d[i:], x[i:], k, 0)
}

// RequantColumns4 is RequantChannel for four adjacent channels c..c+3 of rows rows of a (rows,
// stride) matrix of fully connected outputs (one value per channel per row):
// d[r*stride+i] is the requantization of x[r*stride+i] with lane i of k (RequantConsts.SetLane,
// shifts <= 0). Rows with a value on requantRow's slow path go through requantRow.
// TestRequantFastFormsMatchFakequant checks it against fakequant, TestRequantColumns4 against
// requantRow.
func RequantColumns4(t *RequantTable, d, x []float32, rows, stride int, k *RequantConsts) {
	if rows == 0 {
		return
	}
	_, _ = d[(rows-1)*stride+3], x[(rows-1)*stride+3] // the kernel reads and writes these
	k4 := requantKernels[t.Rule&1].k4
	row := 0
	for row < rows {
		if useAVX2 {
			row += k4(&d[row*stride], &x[row*stride], rows-row, stride, k) / 4
			if row == rows {
				return
			}
		}
		off := row * stride
		for i := range 4 {
			t.row(d[off+i:off+i+1], x[off+i:off+i+1], k, i)
		}
		row++
	}
}
