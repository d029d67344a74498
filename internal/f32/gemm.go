package f32

import (
	"fmt"
	"sync"
)

// Sgemm computes, row-major and in float32,
//
//	C = alpha * op(A) * op(B) + beta * C
//
// where op(A) is m x k (A is stored k x m and read transposed when transA), op(B) is k x n (B
// is stored n x k when transB) and C is m x n; lda, ldb and ldc are the row strides of the
// stored matrices. As in BLAS, beta == 0 means C is not read, so NaN or Inf in C do not
// propagate. gemm_ref.go holds the plain triple loop that is the specification.
//
// The fast path packs panels of op(A) (scaled by alpha) and op(B) into contiguous blocks
// (gemmMC x gemmKC and gemmKC x gemmNC) and runs a gemmMR x gemmNR register-tiled micro-kernel
// over them: AVX2+FMA assembly on amd64 CPUs that have it, plain Go otherwise (or with the
// purego build tag). Products with at least gemmParallelMin multiply-adds are split into
// Workers() blocks (of columns, or of rows when N is narrow) computed on as many goroutines.
// Every element of C is computed by the same sequence of operations whatever the split, so the
// result does not depend on the number of workers; it differs from sgemmRef only by rounding (blocked summation order, and
// fused multiply-adds in the assembly kernel).
//
// It panics if a dimension or stride is negative or too small, or if a slice is too short for
// the dimensions and strides it is given.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	// Each part scales its own block of C (elementwise, so the same bits as scaling it all).
	if workers := Workers(); m*n*k >= gemmParallelMin && workers > 1 {
		switch {
		case n >= 2*gemmNR:
			// Column blocks of a multiple of gemmNR.
			parts := min(workers, n/gemmNR)
			size := roundUp((n+parts-1)/parts, gemmNR)
			Run(parts, func(p int) {
				j0, j1 := min(p*size, n), min((p+1)*size, n)
				if j0 == j1 {
					return
				}
				bOff := j0 // op(B) columns from j0: columns of stored B, or rows when transposed
				if transB {
					bOff = j0 * ldb
				}
				scaleC(m, j1-j0, beta, c[j0:], ldc)
				gemmBlocked(transA, transB, m, j1-j0, k, alpha, a, lda, b[bOff:], ldb, c[j0:], ldc)
			})
			return
		case m >= 2*gemmMR:
			// Row blocks of a multiple of gemmMR.
			parts := min(workers, m/gemmMR)
			size := roundUp((m+parts-1)/parts, gemmMR)
			Run(parts, func(p int) {
				i0, i1 := min(p*size, m), min((p+1)*size, m)
				if i0 == i1 {
					return
				}
				aOff := i0 * lda // op(A) rows from i0: rows of stored A, or columns when transposed
				if transA {
					aOff = i0
				}
				scaleC(i1-i0, n, beta, c[i0*ldc:], ldc)
				gemmBlocked(transA, transB, i1-i0, n, k, alpha, a[aOff:], lda, b, ldb, c[i0*ldc:], ldc)
			})
			return
		}
	}
	scaleC(m, n, beta, c, ldc)
	gemmBlocked(transA, transB, m, n, k, alpha, a, lda, b, ldb, c, ldc)
}

// SgemmSerial is Sgemm on the calling goroutine only (for callers that already split their
// work across cores). Arguments are not checked.
func SgemmSerial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	scaleC(m, n, beta, c, ldc)
	if k == 0 || alpha == 0 {
		return
	}
	gemmBlocked(transA, transB, m, n, k, alpha, a, lda, b, ldb, c, ldc)
}

// Blocking parameters. The micro-kernel keeps a gemmMR x gemmNR tile of C in 12 YMM
// registers; a packed gemmKC x gemmNR panel of B (16 KiB) stays in L1, a gemmMC x gemmKC block
// of A (96 KiB) in L2.
const (
	gemmMR = 6
	gemmNR = 16
	gemmKC = 256
	gemmMC = 16 * gemmMR
	gemmNC = 64 * gemmNR

	// gemmParallelMin is the number of multiply-adds from which Sgemm uses two goroutines.
	gemmParallelMin = 1 << 20
)

func roundUp(x, to int) int { return (x + to - 1) / to * to }

func checkGemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("autograd: Sgemm: negative dimension m=%d n=%d k=%d", m, n, k))
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	checkMat("A", ar, ac, a, lda)
	checkMat("B", br, bc, b, ldb)
	checkMat("C", m, n, c, ldc)
}

// checkMat panics unless s holds a rows x cols row-major matrix with row stride ld.
func checkMat(name string, rows, cols int, s []float32, ld int) {
	if ld < max(1, cols) {
		panic(fmt.Sprintf("autograd: Sgemm: stride of %s is %d, less than its %d columns", name, ld, cols))
	}
	if rows > 0 && cols > 0 && len(s) < (rows-1)*ld+cols {
		panic(fmt.Sprintf("autograd: Sgemm: %s has %d elements, %d x %d with stride %d needs %d", name, len(s), rows, cols, ld, (rows-1)*ld+cols))
	}
}

// scaleC sets C = beta * C; beta == 0 clears C without reading it.
func scaleC(m, n int, beta float32, c []float32, ldc int) {
	switch beta {
	case 1:
	case 0:
		for i := 0; i < m; i++ {
			clear(c[i*ldc : i*ldc+n])
		}
	default:
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			for j := range row {
				row[j] *= beta
			}
		}
	}
}

// gemmBuf holds the packing buffers of one goroutine.
type gemmBuf struct {
	a, b []float32
	tmp  [gemmMR * gemmNR]float32 // edge tiles
}

var gemmBufs = sync.Pool{New: func() any { return new(gemmBuf) }}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// gemmBlocked computes C += alpha * op(A) * op(B) for m, n, k > 0.
func gemmBlocked(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	gemmBlockedA(nil, nil, transA, m, n, k, alpha, a, lda, transB, b, ldb, c, ldc)
}

// bPacker writes op(B)[pc:pc+kc, jc:jc+nc] into dst in packB's layout (strips of gemmNR
// columns, zero past column nc): the right factor of a GEMM made on the fly instead of read
// from a matrix (a convolution's patches, straight from the image).
type bPacker interface {
	packB(dst []float32, pc, kc, jc, nc int)
}

// gemmBlockedA is gemmBlocked with A either packed on the fly (pa == nil) or taken from pa,
// which must hold alpha * op(A) for these m and k (transA, alpha, a and lda are then unused),
// and B either packed from b or, if pb is not nil, by pb (transB, b and ldb are then unused).
// The same packed values give the same bits whichever way they were packed.
func gemmBlockedA(pa *PackedA, pb bPacker, transA bool, m, n, k int, alpha float32, a []float32, lda int, transB bool, b []float32, ldb int, c []float32, ldc int) {
	buf := gemmBufs.Get().(*gemmBuf)
	defer gemmBufs.Put(buf)
	for jc := 0; jc < n; jc += gemmNC {
		nc := min(gemmNC, n-jc)
		for pc := 0; pc < k; pc += gemmKC {
			kc := min(gemmKC, k-pc)
			buf.b = grow(buf.b, roundUp(nc, gemmNR)*kc)
			if pb != nil {
				pb.packB(buf.b, pc, kc, jc, nc)
			} else {
				packB(buf.b, transB, b, ldb, pc, kc, jc, nc)
			}
			for ic := 0; ic < m; ic += gemmMC {
				mc := min(gemmMC, m-ic)
				var ap []float32
				if pa != nil {
					ap = pa.block(ic, pc, kc)
				} else {
					buf.a = grow(buf.a, roundUp(mc, gemmMR)*kc)
					packA(buf.a, transA, alpha, a, lda, ic, mc, pc, kc)
					ap = buf.a
				}
				macroKernel(mc, nc, kc, ap, buf.b, c[ic*ldc+jc:], ldc, &buf.tmp)
			}
		}
	}
}

// PackedA is alpha * op(A) (m x k) packed once for many products with the same left factor
// (a convolution's weights against every image of a batch). For each depth block pc it holds
// packA's strips of all m rows, so block (ic, pc) starts at pc*roundUp(m, MR) + (ic/MR)*kc*MR.
type PackedA struct {
	m, k int
	data []float32
}

// pack fills p with alpha * op(A), reusing its storage.
func (p *PackedA) Pack(transA bool, m, k int, alpha float32, a []float32, lda int) {
	p.m, p.k = m, k
	mr := roundUp(m, gemmMR)
	p.data = grow(p.data, mr*k)
	for pc := 0; pc < k; pc += gemmKC {
		kc := min(gemmKC, k-pc)
		packA(p.data[pc*mr:][:mr*kc], transA, alpha, a, lda, 0, m, pc, kc)
	}
}

func (p *PackedA) block(ic, pc, kc int) []float32 {
	return p.data[pc*roundUp(p.m, gemmMR)+(ic/gemmMR)*kc*gemmMR:]
}

// SgemmPackedA is SgemmSerial with op(A) prepacked in pa: C = pa * op(B) + beta * C, where pa
// holds alpha * op(A). It produces the same bits as SgemmSerial.
func SgemmPackedA(pa *PackedA, transB bool, n int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if pa.m == 0 || n == 0 {
		return
	}
	scaleC(pa.m, n, beta, c, ldc)
	if pa.k == 0 {
		return
	}
	gemmBlockedA(pa, nil, false, pa.m, n, pa.k, 0, nil, 0, transB, b, ldb, c, ldc)
}

// SgemmPackedAB is SgemmPackedA with op(B) (pa.k x n) packed by pb: C = pa * op(B) + beta * C.
func SgemmPackedAB(pa *PackedA, pb bPacker, n int, beta float32, c []float32, ldc int) {
	if pa.m == 0 || n == 0 {
		return
	}
	scaleC(pa.m, n, beta, c, ldc)
	if pa.k == 0 {
		return
	}
	gemmBlockedA(pa, pb, false, pa.m, n, pa.k, 0, nil, 0, false, nil, 0, c, ldc)
}

// SgemmSerialB is SgemmSerial(false, ., m, n, k, 1, a, lda, ., ., beta, c, ldc) with op(B)
// (k x n) packed by pb.
func SgemmSerialB(m, n, k int, a []float32, lda int, pb bPacker, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	scaleC(m, n, beta, c, ldc)
	if k == 0 {
		return
	}
	gemmBlockedA(nil, pb, false, m, n, k, 1, a, lda, false, nil, 0, c, ldc)
}

// packB copies op(B)[pc:pc+kc, jc:jc+nc] into strips of gemmNR columns: strip s holds
// dst[s*kc*NR + p*NR + j] = op(B)[pc+p, jc+s*NR+j], zero past column nc.
func packB(dst []float32, transB bool, b []float32, ldb, pc, kc, jc, nc int) {
	for js := 0; js < nc; js += gemmNR {
		w := min(gemmNR, nc-js)
		strip := dst[(js/gemmNR)*kc*gemmNR:][:kc*gemmNR]
		if !transB {
			if w == gemmNR {
				// A full strip: each row is a 64-byte array copy through a local, which the
				// compiler inlines as vector moves, where copy calls memmove for every 16 values.
				for p := 0; p < kc; p++ {
					row := *(*[gemmNR]float32)(b[(pc+p)*ldb+jc+js:])
					*(*[gemmNR]float32)(strip[p*gemmNR:]) = row
				}
				continue
			}
			for p := 0; p < kc; p++ {
				d := strip[p*gemmNR : p*gemmNR+gemmNR]
				copy(d, b[(pc+p)*ldb+jc+js:][:w])
				clear(d[w:])
			}
			continue
		}
		// B is stored n x k: op(B)[p, j] = b[j*ldb+p]. Read the strip's rows side by side
		// and write each packed row of 16 values at once (sequential writes instead of 16
		// interleaved streams of stride-16 writes); the columns past nc read zeros.
		var rows [gemmNR][]float32
		for j := range rows {
			if j < w {
				rows[j] = b[(jc+js+j)*ldb+pc:][:kc]
			} else {
				rows[j] = zeroKC[:kc]
			}
		}
		p0 := 0
		if useAVX2 && kc >= 8 {
			// 16 x 8 transposes (patchtrans_amd64.s with the rows' offsets 0, 1, 2, ...),
			// the rest below.
			var ptrs [gemmNR]*float32
			for j := range rows {
				ptrs[j] = &rows[j][0]
			}
			p0 = kc &^ 7
			patchTrans16Asm(&strip[0], &ptrs, &iotaKC[0], p0/8)
		}
		for p := p0; p < kc; p++ {
			d := (*[gemmNR]float32)(strip[p*gemmNR:])
			d[0], d[1], d[2], d[3] = rows[0][p], rows[1][p], rows[2][p], rows[3][p]
			d[4], d[5], d[6], d[7] = rows[4][p], rows[5][p], rows[6][p], rows[7][p]
			d[8], d[9], d[10], d[11] = rows[8][p], rows[9][p], rows[10][p], rows[11][p]
			d[12], d[13], d[14], d[15] = rows[12][p], rows[13][p], rows[14][p], rows[15][p]
		}
	}
}

// zeroKC is a row of zeros as long as a packed depth block, read by packB past the last
// column.
var zeroKC [gemmKC]float32

// iotaKC[i] = i: the row offsets packB gives patchtrans_amd64.s.
var iotaKC = func() (t [gemmKC]int) {
	for i := range t {
		t[i] = i
	}
	return t
}()

// packA copies alpha * op(A)[ic:ic+mc, pc:pc+kc] into strips of gemmMR rows: strip s holds
// dst[s*kc*MR + p*MR + i] = alpha * op(A)[ic+s*MR+i, pc+p], zero past row mc.
func packA(dst []float32, transA bool, alpha float32, a []float32, lda, ic, mc, pc, kc int) {
	for is := 0; is < mc; is += gemmMR {
		h := min(gemmMR, mc-is)
		strip := dst[(is/gemmMR)*kc*gemmMR:][:kc*gemmMR]
		if !transA && useAVX2 && kc >= 8 && (h == gemmMR || alpha == 1) {
			// Eight columns at a time (packa_amd64.s), the rest below. A partial strip reads
			// zero rows past h: 1 * +0 is the +0 that clearing writes (any alpha could give -0).
			var rows [gemmMR]*float32
			for i := range rows {
				rows[i] = &zeroKC[0]
				if i < h {
					rows[i] = &a[(ic+is+i)*lda+pc:][:kc][0]
				}
			}
			p0 := kc &^ 7
			packA6Asm(&strip[0], &rows, alpha, p0/8)
			for p := p0; p < kc; p++ {
				for i := range gemmMR {
					strip[p*gemmMR+i] = 0
					if i < h {
						strip[p*gemmMR+i] = alpha * a[(ic+is+i)*lda+pc+p]
					}
				}
			}
			continue
		}
		if !transA && h == gemmMR {
			// A full strip: read its six rows side by side and write each packed column of
			// six at once (sequential writes instead of six interleaved stride-6 streams).
			r0, r1, r2 := a[(ic+is)*lda+pc:][:kc], a[(ic+is+1)*lda+pc:][:kc], a[(ic+is+2)*lda+pc:][:kc]
			r3, r4, r5 := a[(ic+is+3)*lda+pc:][:kc], a[(ic+is+4)*lda+pc:][:kc], a[(ic+is+5)*lda+pc:][:kc]
			for p := range r0 {
				d := (*[gemmMR]float32)(strip[p*gemmMR:])
				d[0], d[1], d[2] = alpha*r0[p], alpha*r1[p], alpha*r2[p]
				d[3], d[4], d[5] = alpha*r3[p], alpha*r4[p], alpha*r5[p]
			}
			continue
		}
		if !transA {
			for i := 0; i < h; i++ {
				row := a[(ic+is+i)*lda+pc:][:kc]
				for p, v := range row {
					strip[p*gemmMR+i] = alpha * v
				}
			}
		} else {
			// A is stored k x m: op(A)[i, p] = a[p*lda+i].
			for p := 0; p < kc; p++ {
				row := a[(pc+p)*lda+ic+is:][:h]
				d := strip[p*gemmMR:]
				for i, v := range row {
					d[i] = alpha * v
				}
			}
		}
		if h < gemmMR {
			for p := 0; p < kc; p++ {
				clear(strip[p*gemmMR+h : p*gemmMR+gemmMR])
			}
		}
	}
}

// macroKernel computes C[0:mc, 0:nc] += Apacked * Bpacked tile by tile. Full tiles go straight
// to C; edge tiles go through tmp, which gives the same bits (the kernel adds its accumulator,
// started at zero, to C).
func macroKernel(mc, nc, kc int, ap, bp, c []float32, ldc int, tmp *[gemmMR * gemmNR]float32) {
	for jr := 0; jr < nc; jr += gemmNR {
		nr := min(gemmNR, nc-jr)
		bpanel := bp[(jr/gemmNR)*kc*gemmNR:][:kc*gemmNR]
		for ir := 0; ir < mc; ir += gemmMR {
			mr := min(gemmMR, mc-ir)
			apanel := ap[(ir/gemmMR)*kc*gemmMR:][:kc*gemmMR]
			if mr == gemmMR && nr == gemmNR {
				microKernel(kc, apanel, bpanel, c[ir*ldc+jr:], ldc)
				continue
			}
			clear(tmp[:])
			microKernel(kc, apanel, bpanel, tmp[:], gemmNR)
			for i := 0; i < mr; i++ {
				row := c[(ir+i)*ldc+jr:][:nr]
				t := tmp[i*gemmNR:]
				for j := range row {
					row[j] += t[j]
				}
			}
		}
	}
}

// microKernel computes C[0:MR, 0:NR] += Apanel * Bpanel for packed panels of depth k >= 1.
func microKernel(k int, a, b, c []float32, ldc int) {
	_ = a[k*gemmMR-1]
	_ = b[k*gemmNR-1]
	_ = c[(gemmMR-1)*ldc+gemmNR-1]
	if useAsmKernel {
		sgemmKernelAsm(k, &a[0], &b[0], &c[0], ldc)
		return
	}
	gemmKernelGo(k, a, b, c, ldc)
}

// gemmKernelGo is the pure-Go micro-kernel: C[0:MR, 0:NR] += sum_p a[p*MR+i] * b[p*NR+j].
func gemmKernelGo(k int, a, b, c []float32, ldc int) {
	var acc [gemmMR][gemmNR]float32
	for p := 0; p < k; p++ {
		bp := (*[gemmNR]float32)(b[p*gemmNR:])
		ap := (*[gemmMR]float32)(a[p*gemmMR:])
		for i := range ap {
			ai := ap[i]
			r := &acc[i]
			for j := range r {
				r[j] += ai * bp[j]
			}
		}
	}
	for i := range acc {
		row := (*[gemmNR]float32)(c[i*ldc:])
		for j := range row {
			row[j] += acc[i][j]
		}
	}
}
