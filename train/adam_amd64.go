//go:build amd64 && !purego

package train

import "golang.org/x/sys/cpu"

// useAdamAsm selects the AVX2 Adam update of adam_amd64.s.
var useAdamAsm = cpu.X86.HasAVX2

// adamAsm applies adamRow's update to the first 8*groups elements (see adam_amd64.s).
//
//go:noescape
func adamAsm(w, grad, m, v *float32, groups int, k *adamConsts)
