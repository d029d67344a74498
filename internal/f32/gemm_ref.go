package f32

// sgemmRef is the specification of Sgemm: the plain triple loop, row-major,
//
//	C = alpha * op(A) * op(B) + beta * C
//
// with op(A) m x k (A stored k x m when transA), op(B) k x n (B stored n x k when transB), the
// sum over p accumulated in float32 in increasing p, and beta == 0 meaning C is not read (NaN
// or Inf in C are overwritten), as in BLAS.
func sgemmRef(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var sum float32
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				sum += av * bv
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * sum
			} else {
				c[i*ldc+j] = alpha*sum + beta*c[i*ldc+j]
			}
		}
	}
}
