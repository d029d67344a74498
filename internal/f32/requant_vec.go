package f32

import (
	"math"

	"github.com/qatgo/qatgo/fakequant"
)

// RequantConsts are the operands of the AVX2 requantization kernel (requantAsm,
// requant_amd64.s) for its eight lanes, laid out so that the kernel can use them as memory
// operands; the offsets in the assembly follow this layout (TestRequantConstsLayout). Lanes
// may differ in s, mult and exponent (eight channels side by side, RequantColumns8); the rest
// is per tensor. Set fills all eight lanes for one channel (RequantChannel), SetLane one lane.
type RequantConsts struct {
	// The exact float64 recovery.
	s       [8]float64 // 0: the accumulator scale S_in S_w[c]
	absMask [4]uint64  // 64: 0x7fff...: |y|
	lim     [4]float64 // 96: 2^32, the bound of the exact rounding
	maxAcc  [4]float64 // 128: MaxInt32
	minAcc  [4]float64 // 160: -MaxInt32

	// The float32 recovery.
	recip [8]float32 // 192: float32(1/s)
	lim8  [8]float32 // 224: 2^20, the bound on |x * recip|; 0 where float32(1/s) is not normal
	guard [8]float32 // 256: 1/8, the bound on the distance to an integer
	abs8  [8]uint32  // 288: 0x7fffffff

	// The multiply and the clamp.
	mult  [8]int32   // 320: the quantized multiplier (>= 0)
	nudge [4]int64   // 352: 2^30 (RoundDouble)
	mask  [8]int32   // 384: 2^exponent - 1 (RoundDouble)
	half  [8]int32   // 416: mask >> 1 (RoundDouble)
	exp   [8]uint32  // 448: the exponent (the right shift), 0..31
	vlo   [8]int32   // 480: QMin - Z
	vhi   [8]int32   // 512: hi - Z
	scale [4]float64 // 544: the output scale S

	// RoundSingle: with t = 31 + exponent, the product acc*mult plus sBias is in [0, 2^64), its
	// logical shift right by sShift = t is floor((acc*mult + 2^(t-1)) / 2^t) + 2^(62-t), and
	// subtracting sSub (mod 2^32) leaves the result. sBias and sShift hold lanes 0, 2, 4, 6 in
	// their first four entries and lanes 1, 3, 5, 7 in the last four (the kernel's order).
	sBias  [8]int64  // 576: 2^(t-1) + 2^62
	sShift [8]uint64 // 640: t
	sSub   [8]int32  // 704: 2^(62-t) mod 2^32 (2^31 is stored as MinInt32)
}

// Set fills all eight lanes of k for one channel: RequantChannel(t, d, x, k) then writes what
// requantRow(t.Rule, d, x, s, mult, exponent, vlo, vhi, ...) writes when requantRow's value
// table is value[v - vlo] = float32(float64(v) * scale) (RequantTable.Set's).
func (k *RequantConsts) Set(s float64, mult int32, exponent uint, vlo, vhi int32, scale float64) {
	for i := range 8 {
		k.SetLane(i, s, mult, exponent, vlo, vhi, scale)
	}
}

// SetLane fills lane i (0..7) of k for a channel with accumulator scale s, multiplier mult >= 0
// and shift -exponent (exponent 0..31), the clamp [vlo, vhi] relative to the zero point and
// the output scale (the same in every lane).
func (k *RequantConsts) SetLane(i int, s float64, mult int32, exponent uint, vlo, vhi int32, scale float64) {
	k.s[i] = s
	k.absMask[i%4], k.lim[i%4], k.maxAcc[i%4], k.minAcc[i%4] = 1<<63-1, 0x1p32, math.MaxInt32, -math.MaxInt32
	recip, lim := float32(1/s), float32(0x1p20)
	if r := math.Abs(float64(recip)); r < 0x1p-126 || r > math.MaxFloat32 {
		lim = 0 // the bound of the float32 recovery assumes a normal float32 1/s
	}
	k.recip[i], k.lim8[i], k.guard[i], k.abs8[i] = recip, lim, 0.125, 1<<31-1
	mask := int32(int64(1)<<exponent - 1)
	k.mult[i], k.nudge[i%4], k.mask[i], k.half[i], k.exp[i] = mult, 1<<30, mask, mask>>1, uint32(exponent)
	k.vlo[i], k.vhi[i], k.scale[i%4] = vlo, vhi, scale
	t := 31 + exponent
	j := i/2 + 4*(i%2) // sBias' and sShift's entry for lane i
	k.sBias[j], k.sShift[j], k.sSub[i] = 1<<(t-1)+1<<62, uint64(t), int32(uint32(1)<<(31-exponent))
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
	requantRow(t.Rule, d, x, k.s[i], k.mult[i], uint(k.exp[i]), t.VLo, t.VHi, t.ZOff, t.Value, t.Zero)
}

// RequantChannel writes d[i] = Value[RequantizeWith(Rule, acc_i) - QMin] for one channel with a
// shift <= 0, acc_i = SaturateAccumulator(math.Round(x[i]/s)), with the channel's s, multiplier
// and exponent in k (RequantConsts.Set; Value made with the output scale given to Set). With
// RequantColumns8 it is the one fast form of fakequant.RequantizeWith in training: the AVX2
// kernel requantAsm on groups of eight consecutive values, and requantRow on a group holding a
// value on its slow path (|x/s| >= 2^32, NaN) and on the tail; requantRow alone in purego
// builds and on CPUs without AVX2. TestRequantFastFormsMatchFakequant and TestRequantKernel
// check it against fakequant.
func RequantChannel(t *RequantTable, d, x []float32, k *RequantConsts) {
	d = d[:len(x)]
	i := 0
	if useAVX2 {
		single := t.Rule == fakequant.RoundSingle
		for len(x)-i >= 8 {
			i += requantAsm(&d[i], &x[i], (len(x)-i)/8, 8, k, single)
			if len(x)-i < 8 {
				break
			}
			t.row(d[i:i+8], x[i:i+8], k, 0)
			i += 8
		}
	}
	t.row(d[i:], x[i:], k, 0)
}

// RequantColumns8 is RequantChannel for eight adjacent channels c..c+7 of rows rows of a (rows,
// stride) matrix of fully connected outputs (one value per channel per row):
// d[r*stride+i] is the requantization of x[r*stride+i] with lane i of k (RequantConsts.SetLane,
// shifts <= 0), by requantAsm with a stride; a row with a value on requantRow's slow path goes
// through requantRow, and so does every row in purego builds and on CPUs without AVX2.
// TestRequantFastFormsMatchFakequant and TestRequantKernel check it against fakequant.
func RequantColumns8(t *RequantTable, d, x []float32, rows, stride int, k *RequantConsts) {
	if rows == 0 {
		return
	}
	_, _ = d[(rows-1)*stride+7], x[(rows-1)*stride+7] // the kernel reads and writes these
	single := t.Rule == fakequant.RoundSingle
	row := 0
	for row < rows {
		if useAVX2 {
			row += requantAsm(&d[row*stride], &x[row*stride], rows-row, stride, k, single) / 8
			if row == rows {
				return
			}
		}
		off := row * stride
		for i := range 8 {
			t.row(d[off+i:off+i+1], x[off+i:off+i+1], k, i)
		}
		row++
	}
}
