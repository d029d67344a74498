package synth

import (
	"context"
	"math/rand/v2"

	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/export"
	"github.com/qatgo/qatgo/export/qnet"
	"github.com/qatgo/qatgo/fakequant"
	"github.com/qatgo/qatgo/nn"
	"github.com/qatgo/qatgo/train"
)

// Channels, Height and Width are the images' shape; Classes their class count.
const (
	Channels, Height, Width = 3, 16, 16
	Classes                 = 4
)

// Squares returns n seeded images: class k is a bright 6 x 6 square in quadrant k (shifted by
// up to 2 pixels), in a colour of its own (channel k%3; all three channels for class 3), on
// noise below 80.
func Squares(n int, seed uint64) (*data.Set, error) {
	rng := rand.New(rand.NewPCG(seed, 7))
	const c, h, w = Channels, Height, Width
	imgs := make([]uint8, n*c*h*w)
	labels := make([]int, n)
	for i := range labels {
		k := rng.IntN(Classes)
		labels[i] = k
		img := imgs[i*c*h*w : (i+1)*c*h*w]
		for j := range img {
			img[j] = uint8(rng.IntN(80))
		}
		y0, x0 := 8*(k/2)+rng.IntN(3), 8*(k%2)+rng.IntN(3)
		for ch := 0; ch < c; ch++ {
			if ch == k%3 || k == 3 {
				for y := y0; y < y0+6; y++ {
					for x := x0; x < x0+6; x++ {
						img[ch*h*w+y*w+x] = uint8(170 + rng.IntN(86))
					}
				}
			}
		}
	}
	return data.FromUint8(imgs, labels, c, h, w)
}

// RGB16 is the small custom network the export tests compile to C and run in ONNX Runtime: a
// strided, padded conv with ReLU6, a padded conv with ReLU, a 2x2 max pool and a linear layer
// with 4 outputs, for Squares' images.
func RGB16() *nn.Spec {
	return &nn.Spec{Name: "rgb16", Input: [3]int{Channels, Height, Width}, Layers: []nn.LayerSpec{
		nn.Conv(8, 3, 2, 1), nn.ReLU6(), nn.Conv(16, 3, 1, 1), nn.ReLU(), nn.MaxPool(2, 2), nn.Flat(), nn.Dense(Classes),
	}}
}

// TrainedRGB16 trains RGB16 as TrainSpec does (W4A4 QAT, single rounding, quantizers active
// after 20 steps) for 2 epochs and returns it converted to the integer model, with the 200
// images held out.
func TrainedRGB16(seed uint64) (*qnet.Model, *data.Set, error) {
	m, testSet, err := TrainSpec(RGB16(), seed, fakequant.RoundSingle, func(cfg *train.Config) { cfg.Epochs = 2 })
	if err != nil {
		return nil, nil, err
	}
	qm, err := export.Convert(m)
	if err != nil {
		return nil, nil, err
	}
	return qm, testSet, nil
}

// AvgRGB16 is a small custom network with average pools for Squares' images: a 2x2 average pool
// with stride 1 on the pixels (the input's grid), a padded conv with ReLU6, a 2x2 average pool
// with stride 2 (dropping the last row and column), a padded conv with ReLU, a 3x3 average pool
// with stride 2, and a linear layer with 4 outputs.
func AvgRGB16() *nn.Spec {
	return &nn.Spec{Name: "avg-rgb16", Input: [3]int{Channels, Height, Width}, Layers: []nn.LayerSpec{
		nn.AvgPool(2, 1), nn.Conv(8, 3, 1, 1), nn.ReLU6(), nn.AvgPool(2, 2),
		nn.Conv(16, 3, 1, 1), nn.ReLU(), nn.AvgPool(3, 2), nn.Flat(), nn.Dense(Classes),
	}}
}

// GAPRGB16 is a small custom network whose head is a global average pool: a padded conv with
// ReLU, a strided padded conv with ReLU, a 1x1 conv to 4 channels (one per class), an 8x8
// average pool over the whole map and a flatten, so the last integer layer is the average pool.
func GAPRGB16() *nn.Spec {
	return &nn.Spec{Name: "gap-rgb16", Input: [3]int{Channels, Height, Width}, Layers: []nn.LayerSpec{
		nn.Conv(8, 3, 1, 1), nn.ReLU(), nn.Conv(16, 3, 2, 1), nn.ReLU(), nn.Conv(Classes, 1, 1, 0), nn.AvgPool(8, 8), nn.Flat(),
	}}
}

// GAPRate is the TrainSpec edit GAPRGB16 needs: learning rate 1e-2 (its logits are means of 64
// values, small at initialization, and at the default rate it stays near chance in 4 epochs).
func GAPRate(cfg *train.Config) { cfg.LR = 1e-2 }

// TrainSpec builds spec s with W4A4 quantization under the rounding rule r and trains it with
// QAT (train.Fit, 4 epochs, batch 32, quantizers active after 20 steps) on the first 400 of
// Squares(600, seed); it returns the trained model and the 200 images held out. Each edit, if
// any, changes the training configuration first (cfg.Quant is the model's quantization: e.g.
// LSQ; or the learning rate).
func TrainSpec(s *nn.Spec, seed uint64, r fakequant.Rounding, edit ...func(*train.Config)) (*nn.Model, *data.Set, error) {
	all, err := Squares(600, seed)
	if err != nil {
		return nil, nil, err
	}
	trainSet, testSet, err := all.Split(200)
	if err != nil {
		return nil, nil, err
	}
	cfg := train.DefaultConfig()
	cfg.Mode, cfg.Epochs, cfg.BatchSize, cfg.Out = train.ModeQAT, 4, 32, ""
	cfg.Quant = nn.DefaultConfig()
	cfg.Quant.WBits, cfg.Quant.ABits, cfg.Quant.Rounding, cfg.Quant.Delay = 4, 4, r, 20
	for _, e := range edit {
		e(&cfg)
	}
	m, err := nn.Build(s, cfg.Quant, 1)
	if err != nil {
		return nil, nil, err
	}
	if m, _, err = train.Fit(context.Background(), m, trainSet, testSet, cfg, train.Options{}); err != nil {
		return nil, nil, err
	}
	return m, testSet, nil
}
