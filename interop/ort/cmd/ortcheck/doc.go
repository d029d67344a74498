// Command ortcheck exports a qatgo model to ONNX, runs it in ONNX Runtime (onnxruntime-node,
// CPU, one intra-op thread) on the MNIST test images, and compares it image by image and
// layer by layer with the integer engine: argmax agreement, accuracy of both, share of
// differing codes and largest code difference per layer.
//
//	go run ./interop/ort/cmd/ortcheck --from runs/qat/model.qat [--form qoperator|qdq|both] [--int4] [--limit N] [--json]
//
// --from takes an integer model file (*.qat) or a trained checkpoint (file or run directory).
// Needs `(cd interop/ort && ONNXRUNTIME_NODE_INSTALL=skip npm ci)` once.
package main
