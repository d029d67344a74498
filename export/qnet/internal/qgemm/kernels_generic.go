package qgemm

// The pure-Go kernels: the specification of the assembly, on the same
// layouts, and the kernels of LevelGo.

// gemmGo is Gemm at LevelGo.
func gemmGo(p *Packed, c []int32, ldc int, x []uint8, ldx int, rows int, bias []int32) {
	kp4 := p.Kp / 4
	for r := 0; r < rows; r++ {
		xr := x[r*ldx : r*ldx+p.Kp]
		cr := c[r*ldc : r*ldc+p.Cols()]
		for b := 0; b < p.Blocks; b++ {
			blk := p.B[b*p.Kp*8 : (b+1)*p.Kp*8]
			var acc [8]int32
			copy(acc[:], bias[b*8:b*8+8])
			for k4 := 0; k4 < kp4; k4++ {
				x0, x1, x2, x3 := int32(xr[4*k4]), int32(xr[4*k4+1]), int32(xr[4*k4+2]), int32(xr[4*k4+3])
				w := blk[k4*32 : k4*32+32]
				for l := range acc {
					acc[l] += x0*int32(w[4*l]) + x1*int32(w[4*l+1]) + x2*int32(w[4*l+2]) + x3*int32(w[4*l+3])
				}
			}
			copy(cr[b*8:], acc[:])
		}
	}
}
