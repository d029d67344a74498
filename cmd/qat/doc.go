// Command qat trains MNIST models with fake quantization in a gorgonia graph and exports them
// to integer models.
//
// Usage:
//
//	qat                      the main job: W8A8 QAT of LeNet-5 on the embedded MNIST, then
//	                         export to runs/qat/model.qat and evaluate the integer model
//	qat train   [flags]      train (float, qat) or calibrate (ptq) a model
//	qat export  [flags]      convert a trained checkpoint into an integer model file; with
//	                         --format onnx an ONNX model (QOperator or QDQ), with --format c
//	                         C99 source for microcontrollers (--from may then be a .qat file)
//	qat summary FILE.qat     print an integer model's layers, shapes, bits and bytes
//	qat bench   [flags]      training speed (float vs QAT, same batches) and, with --from and
//	                         --int, inference speed (float graph vs integer engine); with
//	                         --engine FILE.qat, the engine's kernel sets at batch 1, 8, 64, 256
//	qat prune   [flags]      magnitude pruning of a trained checkpoint: prune-retrain cycles
//	                         or gradual (Zhu-Gupta) pruning, in QAT or float
//	qat sensitivity [flags]  per-layer accuracy when only that layer is pruned (no retraining)
//	qat cluster [flags]      k-means weight sharing + centroid fine-tuning (cluster-preserving QAT)
//	qat compress [flags]     the Deep Compression pipeline: prune -> cluster -> Huffman-coded export,
//	                         from flags or a JSON --config (see --print-config)
//	qat plot RUN_DIR...      PNG and SVG pictures of runs into RUN_DIR/plots, and the
//	                         accuracy-vs-bytes frontier of several (train, prune, cluster and
//	                         compress draw theirs at the end unless --plot=false)
//	qat report RUN_DIR       one Markdown page, RUN_DIR/report.md: results, pictures, model summary
//	qat analyze [flags]      per-layer SQNR against the float model at each bit width (PTQ),
//	                         with each layer's solo sensitivity: a table, or --json
//	qat mixed   [flags]      automatic per-layer bits under a budget in exact file bytes,
//	                         QAT fine-tuning and export, with the frontier it measured
//
// Run `qat CMD -h` for a command's synopsis, flags and examples. With --json stdout carries
// only one JSON object with the results (human-readable lines go to stderr). Exit status: 0 on
// success and for -h, 1 for failures, 2 for usage errors (an unknown flag, a bad value, a
// setting out of range), which are one line on stderr ending in "see qat CMD -h".
package main
