// Command ortbench measures the integer engine against ONNX Runtime on the same model, in one
// run: it exports the model to ONNX (QOperator form unless --form qdq, the uint8 codes as the
// only output), then
// alternates rounds of the engine (in this process, one thread, the kernels qnet picks) and of
// ONNX Runtime (interop/ort/bench/bench.js: onnxruntime-node 1.30.0, CPU, one intra-op thread,
// spinning off), swapping which goes first every round, and prints images/s of both per batch
// size and their ratio: from the summed times, and as the median of the rounds' ratios.
//
//	go run ./interop/ort/cmd/ortbench --model runs/qat/model.qat [--rounds 6] [--images 1024] [--batches 1,8,64,256] [--json]
//	go run ./interop/ort/cmd/ortbench --model runs/compress/model.qat --ort-model runs/w8a8/model.qat
//
// The second form runs the engine on a pruned model and ONNX Runtime on a dense one (ONNX
// Runtime's CPU kernels have no sparse convolution); it also times the engine on the dense
// model in the same rounds and prints that rate and the ratio of the two engine rates, which
// show how far ONNX Runtime's figure on the loaded machine stands from the engine's own.
// The images are seeded random pixels on both sides (no kernel's time depends on the values);
// batch 1 is one call per image, larger batches one PredictBatch (engine) or run() (ONNX
// Runtime) per batch. Needs `(cd interop/ort && ONNXRUNTIME_NODE_INSTALL=skip npm ci)` once.
// Exit status 2 for usage errors, 1 for failures.
package main
