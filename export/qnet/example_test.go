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
	// file: 150 bytes
	// layer 0 conv2d          out 2x4x4 params 20 bytes 57
	// layer 1 maxpool2d       out 2x1x1 params 0 bytes 9
	// layer 2 fully_connected out 2x1x1 params 6 bytes 45
	// vertical: [100 75] class 0
	// horizontal: [75 100] class 1
}

// A pruned, weight-shared layer (Deep Compression): 4 of 64 weights per
// output are nonzero and take 3 distinct values. Encode stores it in the
// smallest encoding; Storage tells which and how large each would be, and
// the sparse kernel computes it as the dense kernels do.
func ExampleStorage() {
	const in, out = 64, 10
	fc := &qnet.FullyConnected{
		In: in, Out: out, WeightBits: 4, Weights: make([]int8, in*out),
		Bias: make([]int32, out), Multiplier: make([]int32, out), Shift: make([]int32, out),
		ActMin: 0, ActMax: 255, OutBits: 8,
	}
	for o := range out {
		for k := range 4 {
			fc.Weights[o*in+(o*7+k*13)%in] = []int8{-3, 2, 5}[(o+k)%3]
		}
		fc.Bias[o], fc.Multiplier[o], fc.Shift[o] = int32(o), 1<<30, -4 // M = 1/32 for every channel
	}
	m := &qnet.Model{Name: "pruned", InC: 1, InH: 8, InW: 8, Layers: []qnet.Layer{fc}}

	rep, err := qnet.Storage(m, qnet.EncodeOptions{})
	if err != nil {
		log.Fatal(err)
	}
	for _, l := range rep.Layers {
		fmt.Printf("layer %d: %d of %d weights nonzero, %d distinct\n", l.Index, l.Nonzero, l.Weights, l.Codebook)
		fmt.Printf("weight block: dense %d, sparse %d, huffman %d bytes; wrote %v\n", l.DenseBytes, l.SparseBytes, l.HuffmanBytes, l.Encoding)
		fmt.Printf("indices: %d bits each, %d bits in all after Huffman coding\n", l.IndexBits, l.IndexStreamBits)
		fmt.Printf("gaps: %d bits each, %d bits in all after Huffman coding\n", l.GapBits, l.PositionBits)
		fmt.Printf("other bytes %d (per-channel arrays %d)\n", l.OtherBytes, l.ArrayBytes)
	}
	var file bytes.Buffer
	if err := qnet.Encode(&file, m); err != nil {
		log.Fatal(err)
	}
	fmt.Println("file:", file.Len(), "bytes =", rep.FileBytes)

	r := m.NewRunnerWith(qnet.RunnerOptions{Path: qnet.PathSparse})
	dense := m.NewRunnerWith(qnet.RunnerOptions{Path: qnet.PathDense})
	img := make([]uint8, in)
	for i := range img {
		img[i] = uint8(i * 4)
	}
	fmt.Println("sparse kernel:", r.SparseLayers(), r.Forward(img))
	fmt.Println("dense kernel: ", dense.SparseLayers(), dense.Forward(img))
	// Output:
	// layer 0: 40 of 640 weights nonzero, 3 distinct
	// weight block: dense 326, sparse 57, huffman 46 bytes; wrote huffman
	// indices: 2 bits each, 66 bits in all after Huffman coding
	// gaps: 5 bits each, 76 bits in all after Huffman coding
	// other bytes 46 (per-channel arrays 16)
	// file: 132 bytes = 132
	// sparse kernel: [true] [5 13 42 8 13 26 0 53 57 0]
	// dense kernel:  [false] [5 13 42 8 13 26 0 53 57 0]
}
