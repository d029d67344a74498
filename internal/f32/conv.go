package f32

// Conv is the geometry of one convolution: input (N, C, H, W), weights (O, C, K, K), output
// (N, O, OH, OW), with the derived sizes CKK = C*K*K, OHW = OH*OW and HW = H*W. The caller
// fills N..Pad and calls Init, which sets the rest.
type Conv struct {
	N, C, H, W   int // input (N, C, H, W)
	O, K         int // weights (O, C, K, K)
	Stride, Pad  int
	OH, OW       int       // output (N, O, OH, OW)
	CKK, OHW, HW int       // C*K*K, OH*OW, H*W
	off, base    []int     // ConvPatches' tables (stride 1, no padding), made by PatchTables
	zeros        []float32 // ... and a zero plane (H*W) for columns past the last
}

// Init sets OH, OW and the derived sizes from N..Pad.
func (g *Conv) Init() {
	g.OH, g.OW = (g.H+2*g.Pad-g.K)/g.Stride+1, (g.W+2*g.Pad-g.K)/g.Stride+1
	g.CKK, g.OHW, g.HW = g.C*g.K*g.K, g.OH*g.OW, g.H*g.W
}

// outRange returns the output positions [lo, hi) along an axis of length size (output length
// out) whose input coordinate pos*stride - pad + kOff falls inside [0, size).
func (g *Conv) outRange(kOff, size, out int) (lo, hi int) {
	if d := g.Pad - kOff; d > 0 {
		lo = min(out, (d+g.Stride-1)/g.Stride)
	}
	if last := size - 1 + g.Pad - kOff; last >= 0 {
		hi = min(out, last/g.Stride+1)
	}
	return lo, max(lo, hi)
}

// Im2col writes the patches of one image x (C,H,W) into col (CKK x OHW):
// col[(c*K+kh)*K+kw][oy*OW+ox] = x[c, oy*stride-pad+kh, ox*stride-pad+kw], 0 outside x.
func (g *Conv) Im2col(col, x []float32) {
	for c := 0; c < g.C; c++ {
		plane := x[c*g.HW:][:g.HW]
		for kh := 0; kh < g.K; kh++ {
			ylo, yhi := g.outRange(kh, g.H, g.OH)
			for kw := 0; kw < g.K; kw++ {
				row := col[((c*g.K+kh)*g.K+kw)*g.OHW:][:g.OHW]
				xlo, xhi := g.outRange(kw, g.W, g.OW)
				clear(row[:ylo*g.OW])
				clear(row[yhi*g.OW:])
				for oy := ylo; oy < yhi; oy++ {
					dst := row[oy*g.OW:][:g.OW]
					src := plane[(oy*g.Stride-g.Pad+kh)*g.W:][:g.W]
					clear(dst[:xlo])
					clear(dst[xhi:])
					if g.Stride == 1 {
						// A loop, not copy: rows are short (8 to 24 values in LeNet-5) and a
						// memmove call per row costs more than the copy itself.
						s := src[xlo-g.Pad+kw:][:xhi-xlo]
						for i, v := range s {
							dst[xlo+i] = v
						}
						continue
					}
					for ox := xlo; ox < xhi; ox++ {
						dst[ox] = src[ox*g.Stride-g.Pad+kw]
					}
				}
			}
		}
	}
}

// Col2im adds the patch gradients col (CKK x OHW) back onto one image's gradient dx (C,H,W):
// the adjoint of Im2col. dx must be zeroed by the caller. Without stride or padding, for an
// output width that is a multiple of 8 and once PatchTables has run, col2imdirect_amd64.s
// makes the same adds in the same order in one call.
func (g *Conv) Col2im(dx, col []float32) {
	if useAVX2 && g.PatchesDirect() && g.OW%8 == 0 && len(g.off) == g.CKK && g.CKK > 0 && g.OH > 0 {
		_, _ = dx[g.off[g.CKK-1]+(g.OH-1)*g.W+g.OW-1], col[g.CKK*g.OHW-1] // the last reads
		col2imDirectAsm(&dx[0], &col[0], &g.off[0], g.CKK, g.OH, g.OW/8, g.W)
		return
	}
	for c := 0; c < g.C; c++ {
		plane := dx[c*g.HW:][:g.HW]
		for kh := 0; kh < g.K; kh++ {
			ylo, yhi := g.outRange(kh, g.H, g.OH)
			for kw := 0; kw < g.K; kw++ {
				row := col[((c*g.K+kh)*g.K+kw)*g.OHW:][:g.OHW]
				xlo, xhi := g.outRange(kw, g.W, g.OW)
				if n8 := (xhi - xlo) &^ 7; g.Stride == 1 && useAVX2 && n8 > 0 && yhi > ylo {
					// The runs' first n8 values, eight at a time (same adds, same order), then
					// the rest below.
					d0 := (ylo-g.Pad+kh)*g.W + xlo - g.Pad + kw
					_, _ = plane[d0+(yhi-ylo-1)*g.W+n8-1], row[ylo*g.OW+xlo+(yhi-ylo-1)*g.OW+n8-1]
					addRowsAsm(&plane[d0], &row[ylo*g.OW+xlo], yhi-ylo, n8, g.W, g.OW)
					xlo += n8
				}
				for oy := ylo; oy < yhi; oy++ {
					src := row[oy*g.OW:][:g.OW]
					dst := plane[(oy*g.Stride-g.Pad+kh)*g.W:][:g.W]
					if g.Stride == 1 {
						d := dst[xlo-g.Pad+kw:][:xhi-xlo]
						for i, v := range src[xlo:xhi] {
							d[i] += v
						}
						continue
					}
					for ox := xlo; ox < xhi; ox++ {
						dst[ox*g.Stride-g.Pad+kw] += src[ox]
					}
				}
			}
		}
	}
}

// ConvPatches makes one image's patches straight in packB's layout, skipping the Im2col
// matrix, for convolutions of stride 1 without padding (LeNet-5's). Then every patch entry is
// inside the image and
//
//	col[r][q] = x[off[r] + base[q]]    r = (c*K+kh)*K+kw, q = oy*OW+ox,
//	off[r] = c*H*W + kh*W + kw,         base[q] = oy*W + ox
//
// so a run of outputs along a row reads a run of x. With t false it packs op(B) = col (CKK x
// OHW, the forward's Y = W col); with t true op(B) = col^T (OHW x CKK, dW = dY col^T). The
// packed values are the ones packB makes from Im2col's matrix, so the GEMM gives the same bits
// (TestConvPatchesMatchPackB).
type ConvPatches struct {
	G *Conv
	X []float32 // the image (C, H, W)
	T bool
}

// PatchesDirect reports whether ConvPatches applies to g.
func (g *Conv) PatchesDirect() bool { return g.Stride == 1 && g.Pad == 0 }

// PatchTables fills g.off, g.base and g.zeros (once).
func (g *Conv) PatchTables() {
	if len(g.off) == g.CKK && len(g.base) == g.OHW {
		return
	}
	g.zeros = make([]float32, g.HW)
	g.off = make([]int, 0, g.CKK)
	for c := 0; c < g.C; c++ {
		for kh := 0; kh < g.K; kh++ {
			for kw := 0; kw < g.K; kw++ {
				g.off = append(g.off, c*g.HW+kh*g.W+kw)
			}
		}
	}
	g.base = make([]int, 0, g.OHW)
	for oy := 0; oy < g.OH; oy++ {
		for ox := 0; ox < g.OW; ox++ {
			g.base = append(g.base, oy*g.W+ox)
		}
	}
}

func (p *ConvPatches) packB(dst []float32, pc, kc, jc, nc int) {
	if p.T {
		p.packTransposed(dst, pc, kc, jc, nc)
		return
	}
	g, x := p.G, p.X
	for js := 0; js < nc; js += gemmNR {
		w := min(gemmNR, nc-js)
		strip := dst[(js/gemmNR)*kc*gemmNR:][:kc*gemmNR]
		q0 := jc + js
		// The strip's outputs in runs along output rows: run i covers columns
		// [starts[i], starts[i+1]) of the strip and reads x from base[q0+starts[i]].
		var starts [gemmNR + 1]int
		runs := 0
		for j := 0; j < w; j++ {
			if j == 0 || (q0+j)%g.OW == 0 {
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
func (p *ConvPatches) packTransposed(dst []float32, pc, kc, jc, nc int) {
	g, x := p.G, p.X
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
