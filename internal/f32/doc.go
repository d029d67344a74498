// Package f32 holds the float32 kernels of qatgo's training ops and the goroutine scheduler
// they run on, apart from the gorgonia ops that call them (autograd), as gonum keeps
// internal/asm/f32 apart from blas/gonum. Nothing here knows about graphs or tensors: the
// functions take slices, sizes and strides.
//
// Every kernel has a plain-Go reference that is its specification and, where there is an AVX2
// assembly form (amd64 without the purego build tag, chosen at run time by HasAVX2), a test that
// compares the two bit for bit on edge values (ties, signed zeros, NaNs, infinities, saturation
// bounds); with -tags purego the Go forms are the code. The files:
//
//   - gemm.go, gemm_ref.go, gemm_amd64.s, packa_amd64.s: Sgemm, row-major C = alpha op(A)
//     op(B) + beta C, packed blocks for a 6x16 AVX2+FMA micro-kernel (or pure Go); gemm_ref.go
//     is the triple loop. PackedA and BPacker let the conv ops pack W once and the patches
//     straight from the image.
//   - conv.go, patchrows_amd64.s, patchtrans_amd64.s, col2im_amd64.s, col2imdirect_amd64.s,
//     transpose_amd64.h: Conv, a convolution's geometry with im2col, col2im (its adjoint) and
//     ConvPatches, which packs an image's patches for the GEMM without the im2col matrix
//     (stride 1, no padding), col or col^T.
//   - maxpool.go, maxpool_vec.go, maxpool_amd64.s: Pool, max pooling with the argmax and its
//     gradient (2x2 stride-2 windows eight at a time).
//   - relu.go, relu_amd64.s, relugrad_amd64.s: ReLU and bias+ReLU rows that return the range
//     of what they wrote, and the bias+ReLU gradient with the channel sums in order.
//   - quant.go, fqrow_vec.go, fqrow_amd64.s, ste_vec.go, ste_amd64.s: fake quantization of a
//     row (fakequant equation (3)), the clipped straight-through estimator, abs-max and range
//     passes.
//   - requant_vec.go, requant_amd64.s, quant.go: the requantization of recovered
//     accumulators, fakequant.RequantizeWith under both rounding rules: RequantChannel and
//     RequantColumns8 drive its two forms, the AVX2 kernel requantAsm (one entry point, both
//     rules) and the Go form requantRow (with requantMul), each tested bit for bit against
//     fakequant's scalar functions.
//   - parallel.go: the scheduler. Run spreads parts over Workers() = GOMAXPROCS goroutines
//     (helpers that spin briefly between jobs); elementwise work is cut into Workers() parts
//     (SplitRows, SplitItems, Sgemm's blocks), reductions into ReduceParts parts summed in
//     part order (SplitRowsW, SplitBatch), so every result is bit-identical for any number of
//     workers.
//   - vec_amd64.go, vec_other.go, gemm_amd64.go, gemm_other.go, maxpool_amd64.go,
//     maxpool_other.go: the assembly declarations and their purego stubs.
package f32
