// Package autograd holds everything of qatgo that touches gorgonia's graph machinery: custom
// ops with their gradients and the quantizer state they share. The float kernels the ops run
// (GEMM, conv patches, pooling, ReLU, the quantizers' row kernels, their assembly) and the
// goroutine scheduler are in internal/f32; an op's file holds its forward and its backward and
// says which kernels they call.
//
// The ops, one per file, each with a gradient test against finite differences:
//
//   - FakeQuant (fakequant_op.go): forward y = FQ(x) with the range a Quantizer chooses
//     (fakequant equation (3)); backward is the straight-through estimator clipped to the nudged
//     range: dx = dy where lo <= x <= hi, else 0. At the clip edges themselves the gradient
//     passes (the interval is closed), which matches TensorFlow's fake_quant_with_min_max_vars.
//     The file also holds the quantizers' Forward and Backward (the arithmetic the op runs).
//     FakeQuantPooled is FakeQuant(pre) moved after a max pool of pre: the same pooled values
//     (fake-quantization is monotone), a quarter of the work for 2x2 windows, the range still
//     observed on pre, and the STE applied at each window's float maximum (nn's training graphs
//     use it for every conv layer a pool follows).
//   - BiasAdd (bias_add.go): y[n,c,...] = x[n,c,...] + b[c]; db[c] = sum of dy over every axis
//     but 1.
//   - SoftmaxCrossEntropy (softmax_ce.go): the mean over the batch of -sum_k t_k log softmax(z)_k,
//     with dz = (softmax(z) - t) / N.
//   - ReLU6 (relu6.go): y = min(max(x, 0), 6), dx = dy on (0, 6).
//   - FoldNormWeightsNode, FoldNormBiasNode (normfold.go): the input normalization
//     (x - mean)/std folded into a first layer without padding: w/std and
//     b - (mean/std) sum(w). FoldNormWeightsInto and FoldNormBiasInto are the same arithmetic on
//     slices, for the exporter. (Names: a ...Node function adds a graph node; an ...Into
//     function writes a slice.)
//   - BatchNorm, FoldBNWeightsNode, FoldBNBiasNode (batchnorm.go): batch norm and its fold into
//     the layer before it; FoldBNWeightsInto and FoldBNBiasInto are the slice forms.
//   - Mask (mask_op.go): pruning, y = w where mask = 1, exactly +0 where mask = 0; dw = dy mask,
//     so pruned weights are zero and get zero gradient. The mask slice is shared with the
//     caller, who prunes more by updating it in place between runs.
//   - Gather (gather_op.go): weight sharing, w[i] = c[assign[i]] (0 for assign -1, a pruned
//     weight); dc[j] = sum of dw[i] over the members of centroid j (scatter-add). Not
//     gorgonia's ByIndices, whose 1-D gradient is wrong in tensor v0.9.24 (tested) and ~100x
//     slower.
//
// The fast path of training, used by nn unless a model asks for gorgonia's stock ops:
//
//   - Conv2D, Conv2DNoInputGrad (conv2d_op.go): NCHW convolution as W (O x CKK) times
//     im2col(x) per image (for stride 1 without padding, packed for the GEMM straight from x:
//     f32.ConvPatches), written straight into NCHW (no transposes); the images are split over
//     the workers, dW's per-part partial sums added in a fixed order (f32.SplitBatch, so the
//     result does not depend on the number of workers); backward dW = sum_n dY_n col_n^T,
//     dX = col2im(W^T dY_n). The NoInputGrad form skips dX for a first layer.
//   - MaxPool2D (maxpool_op.go): max over k x k windows with the argmax stored for the
//     backward; ties go to the first maximum in row-major window order, as in gorgonia.
//   - Linear, LinearBias, LinearNoInputGrad (linear_op.go): y = x W^T (+ b) for x (N,In) and
//     W (Out,In) on f32.Sgemm, W read transposed while packing; dx = dy W, dW = dy^T x, db =
//     column sums of dy. It replaces gorgonia's Mul(x, Transpose(W)) in fully connected layers.
//   - ReLU, BiasReLU (relu.go): gorgonia.Rectify's arithmetic, y = x * [x >= 0] and dx = dy *
//     [x >= 0] (so -0s, NaNs and signed zero gradients are Rectify's), in one pass with no
//     allocation; BiasReLU fuses BiasAdd in front (db summed in BiasAdd's order in the same
//     pass as dpre). Both find the range of their output as they write it, and a FakeQuant fed
//     directly by one (any op with an outputRange method) gives that range to its
//     ActQuantizer instead of a pass of f32.RangeOf.
//
// Every op derives from opBase (op.go): the name, the unique id in the hash, the arity and,
// for ops whose output has the shape of an input, InferShape; an op defines only what differs.
//
// The custom ops keep their output and gradient tensors across runs (outBuf in op.go), so a
// training step in steady state allocates no large tensor of its own; a value read from one of
// their nodes is valid until the graph runs again.
//
// Quantizers (quantizers.go) carry the quantization state between the forward op, its gradient
// op, export and checkpoints: ActQuantizer (EMA or min/max ranges for activations, a start delay,
// frozen in eval), WeightQuantizer (symmetric per-tensor or per-output-channel ranges from the
// current weights) and BiasQuantizer (int32 grid with scale S_in*S_w, zero point 0, so the
// simulated bias is the integer engine's bias). All of them read the shared *Context, whose Mode
// says whether the graph runs in float, calibration, QAT training or frozen evaluation.
//
// Every custom op writes a unique id into its hash: gorgonia merges nodes whose ops hash equal,
// and two fake-quant nodes over the same input with different quantizers must stay distinct.
package autograd
