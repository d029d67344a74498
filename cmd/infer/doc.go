// Command infer runs an integer model written by `qat export` with the integer engine only
// (package export/qnet: integer arithmetic, no gorgonia, no floating point from pixels to class).
//
// Usage:
//
//	infer --model m.qat                    evaluate the test set: accuracy and images/s at
//	                                       batch 1 and batch 64 on one thread
//	infer --model m.qat digit.png ...      classify PNG images (the model's input size; 8-bit
//	                                       grayscale for a 1-channel model, white digit on black
//	                                       like MNIST, --invert for black on white; 8-bit RGB or
//	                                       RGBA, alpha dropped, for a 3-channel model) or idx3 /
//	                                       idx4 image files (plain or gzip)
//
// Flags: --data DIR (idx directory: t10k-images-idx3-ubyte[.gz], idx3 N x H x W or idx4 N x C
// x H x W, and t10k-labels-idx1-ubyte[.gz]; default the MNIST shipped in the GoMNIST module;
// only the test files are read; their shape and labels must fit the model), --limit N (first N test images), --invert, --gray (convert color,
// 16-bit and 1/2/4-bit PNGs to 8-bit gray; without it they are refused), --threads N (the
// batch-64 pass on N threads, one Runner each; default 1; the classes are the same for any N),
// --json (stdout carries only one JSON object: model_file, test_accuracy, images, threads,
// images_per_second, images_per_second_batch64, batch_predictions_match; or images and
// predictions).
// Exit status: 0 on success and for -h, 1 for failures (bad files get a one-line error), 2 for
// usage errors (one line ending in "see infer -h").
package main
