package train_test

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/nn"
	"github.com/qatgo/qatgo/train"
)

// stripes is n seeded 1 x 12 x 12 images of 3 classes: a bright band in one third of the
// image on noise.
func stripes(n int, seed uint64) *data.Set {
	rng := rand.New(rand.NewPCG(seed, 0))
	imgs, labels := make([]float32, n*144), make([]int, n)
	for i := range labels {
		k := rng.IntN(3)
		labels[i] = k
		for j := 0; j < 144; j++ {
			v := rng.Float32() * 0.3
			if j/12/4 == k {
				v += 0.6
			}
			imgs[i*144+j] = v
		}
	}
	// The float pixels are in [0, 0.9]; the set maps the range named here onto 0..255.
	s, err := data.FromFloat32(imgs, labels, 1, 12, 12, 0, 1)
	if err != nil {
		panic(err)
	}
	return s
}

// Train an in-memory model on in-memory data with W4A4 QAT and get it back with its
// per-epoch history. With cfg.Out set, Fit also writes checkpoints there (and, if ctx is
// cancelled, the checkpoint of the moment).
func ExampleFit() {
	all := stripes(600, 1)
	trainSet, testSet, _ := all.Split(200) // the last 200 images for validation
	spec := &nn.Spec{Name: "stripes", Input: [3]int{1, 12, 12}, Layers: []nn.LayerSpec{
		nn.Conv(6, 3, 2, 1), nn.ReLU(), nn.Flat(), nn.Dense(3),
	}}
	q := nn.DefaultConfig()
	q.WBits, q.ABits = 4, 4
	m, err := nn.Build(spec, q, 1)
	if err != nil {
		fmt.Println(err)
		return
	}
	cfg := train.DefaultConfig()
	cfg.Mode, cfg.Epochs, cfg.BatchSize, cfg.LR, cfg.Out = "qat", 3, 20, 3e-3, ""
	cfg.Quant.Delay = 20 // QAT steps before activations are quantized
	m, history, err := train.Fit(context.Background(), m, trainSet, testSet, cfg, train.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range history {
		fmt.Printf("epoch %d: %d images, test accuracy above 90%%: %v\n", e.Epoch, e.Images, e.TestAccuracy > 0.9)
	}
	fmt.Println(m.Arch, "has", m.Classes, "classes")
	// Output:
	// epoch 1: 400 images, test accuracy above 90%: true
	// epoch 2: 400 images, test accuracy above 90%: true
	// epoch 3: 400 images, test accuracy above 90%: true
	// stripes has 3 classes
}
