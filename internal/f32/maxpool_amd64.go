//go:build amd64 && !purego

package f32

import "golang.org/x/sys/cpu"

// useAsmPool selects the AVX2 max-pool kernels of maxpool_amd64.s.
var useAsmPool = cpu.X86.HasAVX2

// maxPool2x2Asm is forwardRef's 2x2 stride-2 pooling for rows output rows of n outputs each
// (n a multiple of 4): x points at the top-left element of the first window, whose flat index
// is top; row r's windows start 2*w*r elements further, its outputs r*ow further in y and am.
// Each window takes the scan of poolGeom.window, eight (then four) windows at a time: see
// maxpool_amd64.s.
//
//go:noescape
func maxPool2x2Asm(y *float32, am *int32, x *float32, top, w, n, ow, rows int)

// maxPool2x2GradAsm writes, for the same windows as maxPool2x2Asm (dx pointing at the first
// one's top-left element, flat index top), each window's four elements of dx: 0 + dy of its
// output at the element am names, +0 at the other three. See maxpool_amd64.s.
//
//go:noescape
func maxPool2x2GradAsm(dx, dy *float32, am *int32, top, w, n, ow, rows int)
