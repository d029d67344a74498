// Package onnx writes a qatgo integer model (*qnet.Model) as a standard ONNX model that ONNX
// Runtime, Netron and other ONNX tools read. It takes the integer model, not the training
// graph, so it stays free of gorgonia; unlike the engine (qnet) it uses floating point, for
// the scales ONNX carries as float32.
//
// Two forms (Options.Form):
//
//   - QOperator: raw uint8 pixels N x C x H x W in (exactly what the engine takes),
//     QLinearConv per convolution (per-channel weights, int32 bias, the model's scales and
//     zero points), MaxPool on uint8, every fully connected layer as a 1x1 QLinearConv over the
//     flattened N x In x 1 x 1 tensor (it carries the int32 bias and per-channel weight scales,
//     and ONNX Runtime runs a 1x1 convolution as a plain quantized GEMM), and a Clip on uint8
//     where the layer's clamp [ActMin, ActMax] is narrower than uint8's [0, 255] (ReLU with a
//     nonzero output zero point, ReLU6, activations of fewer than 8 bits). An average pool is a
//     depthwise QLinearConv (avgPoolAffine: weights 4, weight scale 1/(4K^2), bias 1), which
//     ONNX Runtime rounds to exactly the engine's single-rounding average pool.
//   - QDQ: float input, QuantizeLinear / DequantizeLinear around float Conv / Gemm with
//     explicit weight zero points, which ONNX Runtime fuses into its quantized kernels
//     (QLinearConv, QGemm); an average pool is the same depthwise convolution in that form. The
//     activations between layers are the same uint8 codes as in the QOperator form.
//
// Both forms output "codes", the last layer's uint8 codes N x Out; Options.Logits adds
// "logits", their dequantized float32 values, and Options.LayerOutputs adds every layer's
// output codes (named after the layer: conv1, pool1, fc1, ...) as graph outputs for a
// layer-by-layer comparison with the engine.
//
// Real values follow the engine: r = S (q - Z) for activations, r = S_w[c] w for weights,
// r = S_in S_w[c] b for biases (see package qnet). ONNX Runtime requantizes
// acc * (S_in S_w[c] / S_out) in float32 with round-half-even, the engine in Q31 fixed point
// with its own rounding, so an activation may differ by one step.
package onnx
