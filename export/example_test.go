package export_test

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/export"
	"github.com/qatgo/qatgo/nn"
	"github.com/qatgo/qatgo/train"
)

// Build a custom network, train it a few steps with W4A4 QAT, export it from memory and run
// the integer engine: it agrees with the simulation on every image and every activation.
func ExampleFromModel() {
	rng := rand.New(rand.NewPCG(5, 0))
	const n = 320
	imgs, labels := make([]uint8, n*2*10*10), make([]int, n)
	for i := range labels {
		labels[i] = rng.IntN(4)
		for j := range 200 {
			imgs[i*200+j] = uint8(rng.IntN(100) + 40*labels[i]) // 2 x 10 x 10, brighter per class
		}
	}
	all, _ := data.FromUint8(imgs, labels, 2, 10, 10)
	trainSet, testSet, _ := all.Split(64)

	spec := &nn.Spec{Name: "demo", Input: [3]int{2, 10, 10}, Layers: []nn.LayerSpec{
		nn.Conv(4, 3, 2, 1), nn.ReLU(), nn.MaxPool(2, 2), nn.Flat(), nn.Dense(4),
	}}
	q := nn.DefaultConfig()
	q.WBits, q.ABits = 4, 4
	m, _ := nn.Build(spec, q, 1)
	cfg := train.DefaultConfig()
	cfg.Mode, cfg.Epochs, cfg.BatchSize, cfg.Out = "qat", 2, 32, ""
	cfg.Quant.Delay = 4
	if _, _, err := train.Fit(context.Background(), m, trainSet, testSet, cfg, train.Options{}); err != nil {
		fmt.Println(err)
		return
	}

	ex, err := export.FromModel(m, testSet, 0) // ex.WriteFile("demo.qat") saves it
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d images: agreement %.0f%%\n", ex.Report.Images, 100*ex.Report.Agreement)
	for _, l := range ex.Report.Layers {
		fmt.Printf("%s: max %d steps apart, fraction differing %v\n", l.Name, l.MaxSteps, l.Differing)
	}
	// The integer engine on one image: uint8 pixels in, the class out.
	pred := make([]int, 1)
	ex.Int.NewRunner().PredictBatch(testSet.Image(0), 1, pred)
	fmt.Println("engine class in range:", pred[0] >= 0 && pred[0] < 4)
	// Output:
	// 64 images: agreement 100%
	// conv1: max 0 steps apart, fraction differing 0
	// pool1: max 0 steps apart, fraction differing 0
	// fc1: max 0 steps apart, fraction differing 0
	// engine class in range: true
}
