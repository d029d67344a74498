package nn_test

import (
	"fmt"
	"strings"

	"github.com/qatgo/qatgo/nn"
)

// A sequential model from layers, each conv2d or linear with its quantization: the model-wide
// W4A4 default, and 8 bits for the first conv. Shapes are checked when the model is built.
func ExampleBuild() {
	spec := &nn.Spec{
		Name:  "rgb-net",
		Input: [3]int{3, 32, 32}, // C, H, W
		Layers: []nn.LayerSpec{
			nn.Conv(16, 3, 2, 1).Quantized(8, 8, true), nn.ReLU(), // 16 x 16 x 16
			nn.ConvBN(32, 3, 2, 1), nn.ReLU6(), // 32 x 8 x 8, batch norm folded for QAT
			nn.MaxPool(2, 2), // 32 x 4 x 4
			nn.Flat(),
			nn.Dense(5), // 5 classes
		},
	}
	cfg := nn.DefaultConfig()
	cfg.WBits, cfg.ABits = 4, 4
	m, err := nn.Build(spec, cfg, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, l := range m.Quantized() {
		q := l.Quant()
		fmt.Printf("%s W%dA%d %s\n", l.Name(), q.Config.WBits, q.Config.ABits, q.Act)
	}
	// conv1 16*3*3*3 + 16, conv2 32*16*3*3 + 2*32 (gamma, beta), fc1 5*512 + 5
	fmt.Println(m.Classes, "classes,", m.NumWeights(), "parameters")

	// A shape mistake names the layer.
	spec.Layers = append(spec.Layers[:5:5], nn.Dense(5)) // no flatten before the linear layer
	_, err = nn.Build(spec, cfg, 1)
	fmt.Println(err)

	// The same model as a JSON spec file (qat train --model rgb-net.json).
	spec.Layers = []nn.LayerSpec{nn.Conv(8, 3, 2, 1), nn.ReLU(), nn.Flat(), nn.Dense(5)}
	fmt.Println(strings.Count(string(spec.JSON()), "\"type\""), "layers in JSON")
	// Output:
	// conv1 W8A8 relu
	// conv2 W4A4 relu6
	// fc1 W4A8 none
	// 5 classes, 7685 parameters
	// nn: spec layer 6 (linear fc1): input is 32x4x4: add a flatten before a linear layer
	// 4 layers in JSON
}
