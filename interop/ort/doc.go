// Package ort checks qatgo's ONNX exports in ONNX Runtime: it runs an exported model through
// run.js (onnxruntime-node, pinned in package.json / package-lock.json, CPU, one intra-op
// thread) on MNIST idx images and compares the outputs, image by image and layer by layer,
// with the integer engine (qnet).
//
// Install the runtime once with
//
//	(cd interop/ort && ONNXRUNTIME_NODE_INSTALL=skip npm ci)
//
// (the CPU binding ships inside the npm package; the variable stops its postinstall from
// downloading GPU libraries).
package ort
