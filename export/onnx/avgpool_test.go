package onnx_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/export"
	"github.com/qatgo/qatgo/export/onnx"
	"github.com/qatgo/qatgo/export/qnet"
	"github.com/qatgo/qatgo/fakequant"
	"github.com/qatgo/qatgo/internal/synth"
	"github.com/qatgo/qatgo/interop/ort"
)

// avgPoolModels are models whose first layer is an average pool on the pixels (2x2 stride 2,
// 2x2 stride 1, 3x3 stride 3, 3x3 stride 2, 5x5 stride 1, 8x8; input zero points 0, 7, 128,
// 255, 50, 200) followed by a
// fully connected layer, with images of random pixels, the extremes 0 and 255, and
// alternating 0/255 and Z/Z+1 pixels (every 2x2 window a tie).
func avgPoolModels(rng *rand.Rand) ([]*qnet.Model, *data.Set, error) {
	const c, h, w = 3, 8, 8
	var ms []*qnet.Model
	for i, g := range [][2]int{{2, 2}, {2, 1}, {3, 3}, {3, 2}, {5, 1}, {8, 8}} {
		z := []int32{0, 7, 128, 255, 50, 200}[i]
		m := &qnet.Model{Name: "avg", InC: c, InH: h, InW: w, InputZero: z, Rounding: fakequant.RoundSingle}
		pool := &qnet.AvgPool2D{K: g[0], Stride: g[1]}
		oc, oh, ow, _ := pool.OutShape(c, h, w)
		in := oc * oh * ow
		fc := &qnet.FullyConnected{In: in, Out: 4, WeightBits: 4, Weights: make([]int8, 4*in), Bias: make([]int32, 4),
			Multiplier: []int32{1 << 30, 1 << 30, 1 << 30, 1 << 30}, Shift: []int32{-6, -6, -6, -6},
			InputZero: z, OutputZero: 128, ActMin: 0, ActMax: 255, OutBits: 8}
		for j := range fc.Weights {
			fc.Weights[j] = int8(rng.IntN(15) - 7)
		}
		m.Layers = []qnet.Layer{pool, fc}
		m.Meta.InputScaleBits = 0x3b808081 // 1/255
		m.Meta.OutputScaleBits = []uint32{0, 0x3d800000}
		ms = append(ms, m)
	}
	const n = 64
	imgs := make([]uint8, n*c*h*w)
	for j := range imgs {
		img, px := j/(c*h*w), j%(c*h*w)
		switch img {
		case 0: // all 0
		case 1:
			imgs[j] = 255
		case 2:
			imgs[j] = uint8(255 * ((px + px/w) % 2))
		case 3, 4, 5, 6: // Z and Z+1 alternating for each model's zero point (Z = 255: 255, 0)
			z := []int{0, 7, 128, 255}[img-3]
			imgs[j] = uint8(z + (px+px/w)%2)
		default:
			imgs[j] = uint8(rng.IntN(256))
		}
	}
	set, err := data.FromUint8(imgs, make([]int, n), c, h, w)
	return ms, set, err
}

// TestORTAvgPoolExact: an average pool written in either form (and with int8 weights) gives, in
// ONNX Runtime, exactly
// the engine's codes under single rounding (fakequant equation (17)), ties and edge values
// included; under double rounding within one code.
func TestORTAvgPoolExact(t *testing.T) {
	ortDir(t)
	ms, set, err := avgPoolModels(rand.New(rand.NewPCG(18, 9)))
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range ms {
		for _, r := range []fakequant.Rounding{fakequant.RoundSingle, fakequant.RoundDouble} {
			m.Rounding = r
			for _, o := range []onnx.Options{{Form: onnx.QOperator}, {Form: onnx.QDQ}, {Form: onnx.QOperator, WeightsInt8: true}} {
				f := o.Form
				c, _, err := ort.Check(m, set, ort.CheckOptions{SetImages: true, ONNX: o})
				if err != nil {
					t.Fatalf("model %d %v %v: %v", i, r, f, err)
				}
				l := c.Layers[0]
				oc, oh, ow, _ := m.Layers[0].OutShape(m.InC, m.InH, m.InW)
				if l.Name != "avgpool1" || l.Values != set.N*oc*oh*ow {
					t.Fatalf("model %d %v %v: layers %+v", i, r, f, c.Layers)
				}
				t.Logf("model %d (pool %+v, Z %d) %v %v int8=%v: avgpool1 %d of %d codes differ, max %d", i, *m.Layers[0].(*qnet.AvgPool2D), m.InputZero, r, f, o.WeightsInt8, l.Differing, l.Values, l.MaxDiff)
				if r == fakequant.RoundSingle && l.Differing != 0 || l.MaxDiff > 1 {
					t.Errorf("model %d %v %v: avgpool1 %d codes differ, max %d", i, r, f, l.Differing, l.MaxDiff)
				}
			}
		}
	}
}

// TestORTAvgPoolModel runs synth.AvgRGB16 trained with W4A4 QAT (average pools on the pixels
// and after each conv) in ONNX Runtime in both forms on its 200 held-out images: every code
// within one step of the engine's (ORT's float requantization of the convolutions may differ by
// one), the pool on the pixels exact, and the predictions equal.
func TestORTAvgPoolModel(t *testing.T) {
	ortDir(t)
	m, testSet, err := synth.TrainSpec(synth.AvgRGB16(), 13, fakequant.RoundSingle)
	if err != nil {
		t.Fatal(err)
	}
	qm, err := export.Convert(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []onnx.Form{onnx.QOperator, onnx.QDQ} {
		c, r, err := ort.Check(qm, testSet, ort.CheckOptions{SetImages: true, ONNX: onnx.Options{Form: f}})
		if err != nil {
			t.Fatalf("%v: %v", f, err)
		}
		t.Logf("%v (ORT %s): %d images, agreement %.4f, engine %.4f, ORT %.4f, layers %+v", f, r.Version, c.Images, c.Agreement, c.EngineAccuracy, c.ORTAccuracy, c.Layers)
		if c.Images != testSet.N || c.Agreement != 1 {
			t.Errorf("%v: agreement %.4f on %d images", f, c.Agreement, c.Images)
		}
		if len(c.Layers) != 7 || c.Layers[0].Name != "avgpool1" || c.Layers[0].Differing != 0 {
			t.Fatalf("%v: the pool on the pixels is not exact: %+v", f, c.Layers)
		}
		for _, l := range c.Layers {
			if l.MaxDiff > 1 {
				t.Errorf("%v: %s codes differ by up to %d", f, l.Name, l.MaxDiff)
			}
		}
	}
}

// TestORTGlobalAvgPoolModel runs synth.GAPRGB16, whose last layer is a global average pool (its
// codes are the output and its input's scale dequantizes the logits), in ONNX Runtime in both
// forms on its 200 held-out images: every code within one step, predictions equal.
func TestORTGlobalAvgPoolModel(t *testing.T) {
	ortDir(t)
	m, testSet, err := synth.TrainSpec(synth.GAPRGB16(), 6, fakequant.RoundSingle, synth.GAPRate)
	if err != nil {
		t.Fatal(err)
	}
	qm, err := export.Convert(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []onnx.Form{onnx.QOperator, onnx.QDQ} {
		c, r, err := ort.Check(qm, testSet, ort.CheckOptions{SetImages: true, ONNX: onnx.Options{Form: f, Logits: true}})
		if err != nil {
			t.Fatalf("%v: %v", f, err)
		}
		t.Logf("%v (ORT %s): %d images, agreement %.4f, engine %.4f, ORT %.4f, layers %+v", f, r.Version, c.Images, c.Agreement, c.EngineAccuracy, c.ORTAccuracy, c.Layers)
		if c.Images != testSet.N || c.Agreement != 1 || len(c.Layers) != 5 {
			t.Errorf("%v: agreement %.4f on %d images, layers %+v", f, c.Agreement, c.Images, c.Layers)
		}
		for _, l := range c.Layers {
			if l.MaxDiff > 1 {
				t.Errorf("%v: %s codes differ by up to %d", f, l.Name, l.MaxDiff)
			}
		}
	}
}

// An average pool wider than MaxAvgPoolKernel is refused with an error naming the layer (its
// exactness in ONNX Runtime is not shown); the largest allowed window is written.
func TestAvgPoolKernelBound(t *testing.T) {
	for _, k := range []int{onnx.MaxAvgPoolKernel, onnx.MaxAvgPoolKernel + 1} {
		m := &qnet.Model{Name: "gap", InC: 1, InH: k, InW: k, Rounding: fakequant.RoundSingle}
		fc := &qnet.FullyConnected{In: 1, Out: 2, WeightBits: 8, Weights: []int8{1, -1}, Bias: make([]int32, 2),
			Multiplier: []int32{1 << 30, 1 << 30}, Shift: []int32{0, 0}, OutputZero: 128, ActMin: 0, ActMax: 255, OutBits: 8}
		m.Layers = []qnet.Layer{&qnet.AvgPool2D{K: k, Stride: k}, fc}
		m.Meta.InputScaleBits = 0x3b808081 // 1/255
		m.Meta.OutputScaleBits = []uint32{0, 0x3d800000}
		_, err := onnx.Marshal(m, onnx.Options{})
		if k <= onnx.MaxAvgPoolKernel && err != nil {
			t.Errorf("%dx%d pool: %v", k, k, err)
		}
		if k > onnx.MaxAvgPoolKernel && (err == nil || !strings.Contains(err.Error(), "layer 0 (avgpool1): a 17x17 average pool")) {
			t.Errorf("%dx%d pool: got %v, want the bound's error", k, k, err)
		}
	}
}
