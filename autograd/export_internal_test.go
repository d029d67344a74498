package autograd

import "github.com/qatgo/qatgo/internal/f32"

// SteBounds is f32.STEBounds: the float32 interval [lo32, hi32] of the values v with
// lo <= float64(v) <= hi, what the STE compares against.
func SteBounds(lo, hi float64) (float32, float32) { return f32.STEBounds(lo, hi) }
