package autograd

// convPatches makes one image's patches straight in packB's layout, skipping the im2col
// matrix, for convolutions of stride 1 without padding (LeNet-5's). Then every patch entry is
// inside the image and
//
//	col[r][q] = x[off[r] + base[q]]    r = (c*K+kh)*K+kw, q = oy*OW+ox,
//	off[r] = c*H*W + kh*W + kw,         base[q] = oy*W + ox
//
// so a run of outputs along a row reads a run of x. With t false it packs op(B) = col (CKK x
// OHW, the forward's Y = W col); with t true op(B) = col^T (OHW x CKK, dW = dY col^T). The
// packed values are the ones packB makes from im2col's matrix, so the GEMM gives the same bits
// (TestConvPatchesMatchPackB).
type convPatches struct {
	g *convGeom
	x []float32 // the image (C, H, W)
	t bool
}

// patchesDirect reports whether convPatches applies to g.
func (g *convGeom) patchesDirect() bool { return g.stride == 1 && g.pad == 0 }

// patchTables fills g.off, g.base and g.zeros (once).
func (g *convGeom) patchTables() {
	if len(g.off) == g.ckk && len(g.base) == g.ohw {
		return
	}
	g.zeros = make([]float32, g.hw)
	g.off = make([]int, 0, g.ckk)
	for c := 0; c < g.c; c++ {
		for kh := 0; kh < g.k; kh++ {
			for kw := 0; kw < g.k; kw++ {
				g.off = append(g.off, c*g.hw+kh*g.w+kw)
			}
		}
	}
	g.base = make([]int, 0, g.ohw)
	for oy := 0; oy < g.oh; oy++ {
		for ox := 0; ox < g.ow; ox++ {
			g.base = append(g.base, oy*g.w+ox)
		}
	}
}

func (p *convPatches) packB(dst []float32, pc, kc, jc, nc int) {
	if p.t {
		p.packTransposed(dst, pc, kc, jc, nc)
		return
	}
	g, x := p.g, p.x
	for js := 0; js < nc; js += gemmNR {
		w := min(gemmNR, nc-js)
		strip := dst[(js/gemmNR)*kc*gemmNR:][:kc*gemmNR]
		q0 := jc + js
		// The strip's outputs in runs along output rows: run i covers columns
		// [starts[i], starts[i+1]) of the strip and reads x from base[q0+starts[i]].
		var starts [gemmNR + 1]int
		runs := 0
		for j := 0; j < w; j++ {
			if j == 0 || (q0+j)%g.ow == 0 {
				starts[runs] = j
				runs++
			}
		}
		starts[runs] = w
		if w == gemmNR && useAVX2 && (runs == 1 || runs == 2 && starts[1] == 8) {
			// Two halves of eight, from one run of 16 or two runs of 8 (every strip of
			// LeNet-5's convolutions): patchrows_amd64.s, after checking the last row's reads.
			s0 := g.base[q0]
			s1 := s0 + 8
			if runs == 2 {
				s1 = g.base[q0+8]
			}
			if kc > 0 && g.off[pc+kc-1]+max(s0, s1)+8 <= len(x) {
				patchRows16Asm(&strip[0], &x[0], &g.off[pc], kc, s0, s1)
				continue
			}
		}
		for pp := 0; pp < kc; pp++ {
			d := strip[pp*gemmNR:][:gemmNR]
			xs := x[g.off[pc+pp]:]
			if w == gemmNR && runs == 1 {
				// One run of 16: a 64-byte array copy through a local (vector moves; a
				// pointer-to-pointer array copy compiles to a memmove call).
				run := *(*[gemmNR]float32)(xs[g.base[q0]:])
				*(*[gemmNR]float32)(d) = run
				continue
			}
			for i := 0; i < runs; i++ {
				a, b := starts[i], starts[i+1]
				src := xs[g.base[q0+a]:][:b-a]
				if b-a == 8 {
					run := *(*[8]float32)(src)
					*(*[8]float32)(d[a:]) = run
					continue
				}
				for k, v := range src {
					d[a+k] = v
				}
			}
			clear(d[w:])
		}
	}
}

// packTransposed packs op(B) = col^T: strip s, row pp holds col[jc+s*NR+j][pc+pp] =
// x[off[jc+s*NR+j] + base[pc+pp]] for j < NR; columns past nc read g.zeros, a zero plane, so
// every strip takes the same unrolled loop.
func (p *convPatches) packTransposed(dst []float32, pc, kc, jc, nc int) {
	g, x := p.g, p.x
	base := g.base[pc : pc+kc]
	// patchtrans_amd64.s takes the rows eight at a time where each eight are consecutive
	// outputs along an output row (all of LeNet-5's), and reads up to base[kc-1] in each row.
	blocks := useAVX2 && kc%8 == 0 && kc > 0
	for b := 0; blocks && b < kc; b += 8 {
		blocks = base[b+7] == base[b]+7
	}
	for js := 0; js < nc; js += gemmNR {
		w := min(gemmNR, nc-js)
		strip := dst[(js/gemmNR)*kc*gemmNR:][:kc*gemmNR]
		var rows [gemmNR][]float32
		for j := range rows {
			if j < w {
				rows[j] = x[g.off[jc+js+j]:]
			} else {
				rows[j] = g.zeros
			}
		}
		if blocks && base[kc-1] < len(rows[w-1]) { // rows[w-1] is the shortest (off increases)
			var ptrs [gemmNR]*float32
			for j := range rows {
				ptrs[j] = &rows[j][0]
			}
			patchTrans16Asm(&strip[0], &ptrs, &base[0], kc/8)
			continue
		}
		for pp, b := range base {
			d := (*[gemmNR]float32)(strip[pp*gemmNR:])
			d[0], d[1], d[2], d[3] = rows[0][b], rows[1][b], rows[2][b], rows[3][b]
			d[4], d[5], d[6], d[7] = rows[4][b], rows[5][b], rows[6][b], rows[7][b]
			d[8], d[9], d[10], d[11] = rows[8][b], rows[9][b], rows[10][b], rows[11][b]
			d[12], d[13], d[14], d[15] = rows[12][b], rows[13][b], rows[14][b], rows[15][b]
		}
	}
}
