//go:build amd64 && !purego

package autograd

import "golang.org/x/sys/cpu"

// useAsmRequant selects the AVX2 requantization kernel of requant_amd64.s.
var useAsmRequant = cpu.X86.HasAVX2

// requantAsm requantizes up to groups groups of four values from x into d with the constants
// in k (requantRow's arithmetic, four lanes at a time; see requant_amd64.s) and returns how
// many values it wrote: 4*groups, or fewer if it stopped before a group in which some
// |x/s| >= 2^32 or is NaN, which it leaves to requantRow.
//
//go:noescape
func requantAsm(d, x *float32, groups int, k *requantConsts) int

// fakeQuantAsm fake-quantizes up to groups groups of four values from x into d with the
// constants in k (fakeQuantizeRow's arithmetic, four lanes at a time; see fqrow_amd64.s) and
// returns how many values it wrote: 4*groups, or fewer if it stopped before a group in which
// some |x/S| >= 2^32 or is NaN, which it leaves to fakeQuantizeRow.
//
//go:noescape
func fakeQuantAsm(d, x *float32, groups int, k *fqConsts) int
