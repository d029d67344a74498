// Command custom trains a network that is not built into qatgo, written in Go, on MNIST with
// W4A4 quantization-aware training, exports it from memory to an integer model file and checks
// the integer engine against the simulation:
//
//	go run ./examples/custom -epochs 1 -train-limit 6000 -out custom.qat
//
// A wider network of the same form as a spec file for the command line is
// examples/specs/conv3s2.json (qat train --model examples/specs/conv3s2.json).
package main
