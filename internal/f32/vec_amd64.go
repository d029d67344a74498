//go:build amd64 && !purego

package f32

import "golang.org/x/sys/cpu"

// useAVX2 selects the AVX2 kernels of the elementwise passes (requant_amd64.s,
// fqrow_amd64.s, ste_amd64.s, relu_amd64.s, col2im_amd64.s,
// patchrows_amd64.s, patchtrans_amd64.s, col2imdirect_amd64.s,
// packa_amd64.s, relugrad_amd64.s).
var useAVX2 = cpu.X86.HasAVX2

// HasAVX2 reports whether the package's AVX2 kernels run on this CPU (false in purego builds).
func HasAVX2() bool { return useAVX2 }

// requantAsm requantizes up to groups groups of eight consecutive values, stride values apart,
// from x into d, lane i with the constants of lane i of k, under RoundSingle if single, else
// RoundDouble (requantRow's arithmetic; see requant_amd64.s), and returns eight times the
// number of groups it wrote: groups, or fewer if it stopped before a group in which some
// |x/s| >= 2^32 or is NaN, which it leaves to requantRow.
//
//go:noescape
func requantAsm(d, x *float32, groups, stride int, k *RequantConsts, single bool) int

// patchRows16Asm copies rows rows of two runs of eight floats each from x, at off[r]+s0 and
// off[r]+s1, to the 16-float rows of dst (see patchrows_amd64.s). It does not check bounds.
//
//go:noescape
func patchRows16Asm(dst, x *float32, off *int, rows, s0, s1 int)

// patchTrans16Asm writes dst[16(8k+i)+j] = rows[j][base[8k]+i] for blocks blocks k, i < 8
// and j < 16, where base[8k+i] = base[8k]+i (see patchtrans_amd64.s). It does not check
// bounds.
//
//go:noescape
func patchTrans16Asm(dst *float32, rows *[16]*float32, base *int, blocks int)

// col2imDirectAsm is convGeom.Col2im for stride 1, no padding and an output width of
// 8*groups, with ConvPatches' offset table (see col2imdirect_amd64.s). It does not check
// bounds.
//
//go:noescape
func col2imDirectAsm(dx, col *float32, off *int, rows, oh, groups, w int)

// packA6Asm writes dst[6p+i] = alpha * rows[i][p] for p < 8*blocks, i < 6 (packA's full
// strip, see packa_amd64.s, relugrad_amd64.s). It does not check bounds.
//
//go:noescape
func packA6Asm(dst *float32, rows *[6]*float32, alpha float32, blocks int)

// reluBiasGrad8Asm is ReLUBiasGradRows for eight channels of one image, inner a positive
// multiple of 8 (see relugrad_amd64.s). It does not check bounds.
//
//go:noescape
func reluBiasGrad8Asm(dx, dy *float32, mask *uint8, part *float32, inner int)

// fakeQuant8Asm fake-quantizes up to groups groups of eight values from x into d with the
// constants in k (fakeQuantizeRow's result, eight lanes at a time with x/S as a product by
// 1/S; see fqrow_amd64.s) and returns how many values it wrote: 8*groups, or fewer if it
// stopped before a group in which some |x/S| >= 2^32, x/S is within 2^-16 of a half-integer
// or NaN, which it leaves to fakeQuantizeRow.
//
//go:noescape
func fakeQuant8Asm(d, x *float32, groups int, k *fqConsts) int

// fakeQuant8sAsm is fakeQuant8Asm with x/S as a float32 product by float32(1/S) (see
// fqrow_amd64.s): it stops before a group in which some |x/S| >= 2^12, x/S is within 2^-10 of a
// half-integer or NaN.
//
//go:noescape
func fakeQuant8sAsm(d, x *float32, groups int, k *fqConsts) int

// steAsm writes dx = dy where lo <= x <= hi, else 0, for groups groups of eight values (see
// ste_amd64.s), and returns 8*groups.
//
//go:noescape
func steAsm(dx, x, dy *float32, groups int, lo, hi float32) int

// absMaxAsm returns max |w| over groups groups of eight values ignoring NaNs (0 for none), and
// whether they hold a NaN (see ste_amd64.s).
//
//go:noescape
func absMaxAsm(w *float32, groups int) (float32, bool)

// biasReLUAsm is BiasReLURow's loop for groups groups of eight values (see relu_amd64.s); it
// returns the largest bit pattern of |y| over them, which reluTop turns into the range.
//
//go:noescape
func biasReLUAsm(y *float32, mask *uint8, x *float32, groups int, b float32) uint32

// addRowsAsm adds rows of src to rows of dst, eight lanes at a time (see col2im_amd64.s).
//
//go:noescape
func addRowsAsm(dst, src *float32, rows, width, dstStride, srcStride int)
