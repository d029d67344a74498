// Package nn holds qatgo's layers and model builders. A layer owns its parameters, its
// quantization configuration and its quantizers, and builds itself into a gorgonia graph:
//
//	Conv2D:  x -> conv(x, FQ_w(w)) + FQ_b(b) -> act -> FQ_out      (act: none, ReLU, ReLU6)
//	Linear:  x -> x FQ_w(W)^T + FQ_b(b)      -> act -> FQ_out
//	MaxPool2D, Flatten: no parameters, no quantizer (the max of grid values is on the grid).
//	AvgPool2D: no parameters, no quantizer of its own: while its input's quantizer applies a
//	range it computes the integer engine's average pool on that grid (fakequant equation
//	(17): the window's sum requantized by 1/K^2 under the model's rounding rule), so its
//	output is on the same grid; in float mode it is the mean.
//
// In training graphs a Conv2D that a MaxPool2D follows applies its FQ_out after the pool
// instead (autograd.FakeQuantPooled): the same values, since FQ_out is monotone, for a quarter
// of the work; only the element a tied window's gradient goes to differs. Evaluation graphs keep
// the order above, so each layer's output is on its grid for the export's comparison; so do
// training graphs of a model with QuantizeBeforePool set.
//
// FQ_w is a symmetric narrow-range quantizer (per output channel or per tensor), FQ_b puts the
// bias on the int32 grid with scale S_in*S_w (zero point 0), FQ_out an asymmetric activation
// quantizer with an EMA range. Each quantizable layer has its own LayerQ (weight bits,
// activation bits, per-channel), so mixed precision is configuration. The model input is raw
// pixels p/255 on the uint8 grid (scale 1/255, zero point 0); LeNet-5's first conv folds the input
// normalization (x - Mean)/Std into its weights and bias (autograd.FoldNormWeightsNode), which is
// exact because it has no padding.
//
// Models are sequential and described by a Spec (sequential.go): input shape and a list of
// conv2d, linear, maxpool2d, avgpool2d, relu, relu6 and flatten layers, each conv2d and
// linear with its own optional quantization. Build checks every shape and builds the layers above; ParseSpec reads
// the same description from JSON (qat train --model net.json). The built-in networks are specs
// embedded from specs/*.json: LeNet5 (conv 1->20 5x5, pool 2, conv 20->50 5x5, pool 2, fc
// 800->500, fc 500->10, the net of the seeds and of Deep Compression), LeNet5BN and LeNet300100
// (784-300-100-10).
//
// A Model's parameters live in plain float32 slices (Param.Data); every graph built from the
// model (a training graph with gradients and an evaluation graph of another batch size) uses
// those slices as the backing of its parameter nodes, so an optimizer step on Param.Data is seen
// by every graph, and the quantizers (shared through the model's autograd.Context) are shared
// too.
package nn
