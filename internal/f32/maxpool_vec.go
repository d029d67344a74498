package f32

// vec2x2 reports whether forward and backward take the vector kernels: 2x2 windows at stride
// 2 (which do not overlap), at least four outputs a row, and a CPU with the kernels.
func (g *Pool) vec2x2() bool {
	return useAsmPool && g.K == 2 && g.Stride == 2 && g.OW >= 4
}

// rowRuns calls f(plane, rows) for runs of consecutive output rows covering the planes
// [lo, hi), a run starting at the first row of plane. Within a run the windows of one output
// row start 2w after those of the previous one in x, and the outputs ow after in y: with an
// even height (h = 2*oh) the planes follow each other so, and the whole range is one run.
func (g *Pool) rowRuns(lo, hi int, f func(plane, rows int)) {
	if g.H == 2*g.OH {
		if hi > lo {
			f(lo, (hi-lo)*g.OH)
		}
		return
	}
	for plane := lo; plane < hi; plane++ {
		f(plane, g.OH)
	}
}

// forward2x2Vec is forwardRef for 2x2 windows at stride 2: maxPool2x2Asm pools the first
// ow&^3 outputs of every row, window scans the rest. TestMaxPoolVecMatchesRef checks it.
func (g *Pool) forward2x2Vec(y []float32, am []int32, x []float32, lo, hi int) {
	w, ow, hw, ohw := g.W, g.OW, g.H*g.W, g.OH*g.OW
	n := ow &^ 3
	g.rowRuns(lo, hi, func(plane, rows int) {
		top := plane * hw
		ys, as, xs := y[plane*ohw:][:rows*ow], am[plane*ohw:][:rows*ow], x[top:][:2*rows*w]
		maxPool2x2Asm(&ys[0], &as[0], &xs[0], top, w, n, ow, rows)
	})
	if n == ow {
		return
	}
	for plane := lo; plane < hi; plane++ {
		for oy := 0; oy < g.OH; oy++ {
			o, top := plane*ohw+oy*ow, plane*hw+2*oy*w
			for ox := n; ox < ow; ox++ {
				y[o+ox], am[o+ox] = g.window(x, top+2*ox)
			}
		}
	}
}

// backward2x2Vec is backwardRef for 2x2 windows at stride 2, which do not overlap, so that
// every element of dx is either 0 or 0 + dy of the one window that took it: maxPool2x2GradAsm
// writes the windows of the first
// ow&^3 outputs of every row, and the rest (later windows, and the last column and row that
// odd widths and heights leave out of every window) is cleared and scattered as in
// backwardRef.
func (g *Pool) backward2x2Vec(dx, dy []float32, am []int32, lo, hi int) {
	w, ow, hw, ohw := g.W, g.OW, g.H*g.W, g.OH*g.OW
	n := ow &^ 3
	g.rowRuns(lo, hi, func(plane, rows int) {
		top := plane * hw
		ds, dys, as := dx[top:][:2*rows*w], dy[plane*ohw:][:rows*ow], am[plane*ohw:][:rows*ow]
		maxPool2x2GradAsm(&ds[0], &dys[0], &as[0], top, w, n, ow, rows)
	})
	for plane := lo; plane < hi; plane++ {
		base := plane * hw
		if 2*n < w {
			for oy := 0; oy < g.OH; oy++ {
				r := base + 2*oy*w
				clear(dx[r+2*n : r+w])
				clear(dx[r+w+2*n : r+2*w])
				for o := plane*ohw + oy*ow + n; o < plane*ohw+(oy+1)*ow; o++ {
					dx[am[o]] += dy[o]
				}
			}
		}
		clear(dx[base+2*g.OH*w : base+hw])
	}
}
