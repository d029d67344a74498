package cgen_test

import (
	"fmt"

	"github.com/qatgo/qatgo/export/cgen"
	"github.com/qatgo/qatgo/export/qnet"
)

// A tiny model: a 3x3 convolution with padding fused with a 2x2 max pool,
// then a 4-bit fully connected layer. The convolution's const data is 18
// int8 weights, two int16 biases and two int8 shifts (its multiplier is one
// literal); the fully connected layer's is 24 packed 4-bit weights and three
// int16 biases. The arena holds the pooled 2x2x2 output.
func ExampleGenerate() {
	m := &qnet.Model{Name: "Tiny Net", InC: 1, InH: 4, InW: 4, Layers: []qnet.Layer{
		&qnet.Conv2D{InC: 1, OutC: 2, KH: 3, KW: 3, Stride: 1, Pad: 1, WeightBits: 8,
			Weights: []int8{1, -2, 3, 0, 5, 0, -7, 8, 9, 0, 0, 1, 0, 0, 0, 2, 0, 0},
			Bias:    []int32{10, -10}, Multiplier: []int32{1 << 30, 1 << 30}, Shift: []int32{-3, -4},
			ActMax: 255, OutBits: 8},
		&qnet.MaxPool2D{K: 2, Stride: 2},
		&qnet.FullyConnected{In: 8, Out: 3, WeightBits: 4,
			Weights: []int8{1, 2, 3, 4, 5, 6, 7, -7, 0, 0, 0, 0, 1, 0, 0, 0, -1, -2, -3, 0, 0, 0, 0, 0},
			Bias:    []int32{0, 1, 2}, Multiplier: []int32{1 << 30, 1 << 30, 1 << 30}, Shift: []int32{-2, -2, -2},
			ActMax: 255, OutBits: 8},
	}}
	files, rep, err := cgen.Generate(m, cgen.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(files.Name+".h", files.Name+".c")
	for _, s := range rep.Stages {
		fmt.Println(s.Function, s.Layers, s.Layout, s.ConstBytes, s.OutBytes)
	}
	fmt.Println("arena", rep.ArenaBytes, "const", rep.ConstBytes)
	// Output:
	// tiny_net.h tiny_net.c
	// conv0_pool1 [0 1] dense-int8 24 8
	// fc2 [2] dense-int4 18 3
	// arena 8 const 42
}
