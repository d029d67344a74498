// Command ccheck generates the C code of an integer model, builds it into
// the test harness with a given C compiler (a cross compiler too, with a
// runner such as qemu-arm), runs it on MNIST test images read from an idx
// file, and compares every output code and class with the engine
// (qnet.Runner). It exits 1 on the first difference.
//
//	go run ./export/cgen/internal/ccheck --model runs/qat/model.qat \
//	    --cc arm-linux-gnueabihf-gcc --flags '-std=c99 -O2 -static' --exec qemu-arm --n 10000
//
// scripts/cgen-arm.sh runs it for the ARM measurements of docs/RESULTS.md.
package main
