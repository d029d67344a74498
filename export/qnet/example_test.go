package qnet_test

import (
	"bytes"
	"fmt"
	"log"

	"github.com/qatgo/qatgo/export/qnet"
)

// A two-class edge detector built by hand: a 3x3 convolution with a
// vertical and a horizontal edge filter, a global max pool, and a fully
// connected layer that passes the two maxima through as logits.
func Example() {
	q, s := int32(1<<30), int32(-2) // multiplier 2^30 * 2^(-2-31) = 1/8
	m := &qnet.Model{
		Name: "edges", InC: 1, InH: 4, InW: 4,
		Layers: []qnet.Layer{
			&qnet.Conv2D{
				InC: 1, OutC: 2, KH: 3, KW: 3, Stride: 1, Pad: 1,
				WeightBits: 4,
				Weights: []int8{
					-1, 0, 1, -2, 0, 2, -1, 0, 1, // vertical edges (Sobel x)
					-1, -2, -1, 0, 0, 0, 1, 2, 1, // horizontal edges (Sobel y)
				},
				Bias: []int32{0, 0}, Multiplier: []int32{q, q}, Shift: []int32{s, s},
				ActMin: 0, ActMax: 255, OutBits: 8, // ReLU
			},
			&qnet.MaxPool2D{K: 4, Stride: 4},
			&qnet.FullyConnected{
				In: 2, Out: 2, WeightBits: 2, Weights: []int8{1, 0, 0, 1},
				Bias: []int32{0, 0}, Multiplier: []int32{q, q}, Shift: []int32{1, 1}, // M = 1
				ActMin: 0, ActMax: 255, OutBits: 8,
			},
		},
	}

	// Write the model to its file format and read it back, as a device would.
	var file bytes.Buffer
	if err := qnet.Encode(&file, m); err != nil {
		log.Fatal(err)
	}
	fmt.Println("file:", file.Len(), "bytes")
	m, err := qnet.Decode(&file)
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range m.Summary() {
		fmt.Printf("layer %d %-15v out %dx%dx%d params %d bytes %d\n", s.Index, s.Kind, s.OutC, s.OutH, s.OutW, s.Params, s.Bytes)
	}

	r := m.NewRunner()
	vertical := []uint8{
		0, 0, 200, 200,
		0, 0, 200, 200,
		0, 0, 200, 200,
		0, 0, 200, 200,
	}
	horizontal := []uint8{
		0, 0, 0, 0,
		0, 0, 0, 0,
		200, 200, 200, 200,
		200, 200, 200, 200,
	}
	fmt.Println("vertical:", r.Forward(vertical), "class", r.Predict(vertical))
	fmt.Println("horizontal:", r.Forward(horizontal), "class", r.Predict(horizontal))
	// The horizontal filter also answers at the image border, where the
	// padding (real 0) meets the 200s, but less strongly.

	// Output:
	// file: 170 bytes
	// layer 0 conv2d          out 2x4x4 params 20 bytes 67
	// layer 1 maxpool2d       out 2x1x1 params 0 bytes 9
	// layer 2 fully_connected out 2x1x1 params 6 bytes 55
	// vertical: [100 75] class 0
	// horizontal: [75 100] class 1
}
