package qnet

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/qatgo/qatgo/fakequant"
)

// smallModel is a valid model with every layer kind: conv (3-bit weights,
// 4-bit outputs), max pool, fully connected.
func smallModel() *Model {
	m, _ := handConv()
	conv := m.Layers[0].(*Conv2D)
	conv.OutBits, conv.OutputZero, conv.ActMin, conv.ActMax = 4, 3, 3, 15
	m.Layers = append(m.Layers,
		&MaxPool2D{K: 2, Stride: 2}, // 2x4x4 -> 2x2x2
		&FullyConnected{
			In: 8, Out: 3, WeightBits: 2,
			Weights:    []int8{1, 0, -1, 1, 0, 0, 1, -1, -1, -1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 1, 0, 1, 0, -1},
			Bias:       []int32{1, 2, -3},
			Multiplier: []int32{q1of2, q3of4, 0}, Shift: []int32{0, 1, 0},
			InputZero: 3, OutputZero: 128, ActMin: 0, ActMax: 255, OutBits: 8,
		})
	m.Meta = Meta{InputScaleBits: 0x3b808081, OutputScaleBits: []uint32{0x3d800000, 0, 0x3e000000}}
	return m
}

// withWeightScales gives m single rounding and a random float32 weight scale
// per output channel of every layer with weights (nil for max pool).
func withWeightScales(m *Model, rng *rand.Rand) *Model {
	m.Rounding = fakequant.RoundSingle
	m.Meta.WeightScaleBits = make([][]uint32, len(m.Layers))
	for i, l := range m.Layers {
		s := m.Meta.WeightScaleBits[i]
		for range outChannels(l) {
			s = append(s, math.Float32bits(rng.Float32()*0.1))
		}
		m.Meta.WeightScaleBits[i] = s
	}
	return m
}

func TestValidateAcceptsTestModels(t *testing.T) {
	if err := smallModel().Validate(); err != nil {
		t.Fatalf("smallModel: %v", err)
	}
	rng := rand.New(rand.NewPCG(13, 14))
	for _, bits := range []int{2, 4, 8} {
		if err := lenet5(rng, bits, bits).Validate(); err != nil {
			t.Fatalf("lenet5 %d bits: %v", bits, err)
		}
	}
}

func TestValidateRejects(t *testing.T) {
	conv := func(m *Model) *Conv2D { return m.Layers[0].(*Conv2D) }
	fc := func(m *Model) *FullyConnected { return m.Layers[2].(*FullyConnected) }
	for _, tc := range []struct {
		name  string
		edit  func(m *Model)
		layer int    // expected Layer of the error
		shape bool   // *ShapeError (else *RangeError)
		msg   string // substring of the message
	}{
		{"no layers", func(m *Model) { m.Layers = nil }, -1, true, "no layers"},
		{"nil layer", func(m *Model) { m.Layers[1] = nil }, 1, true, "nil"},
		{"input channels 0", func(m *Model) { m.InC = 0 }, -1, true, "input shape"},
		{"input too large", func(m *Model) { m.InH, m.InW = 60000, 60000 }, -1, true, "elements"},
		{"input zero 256", func(m *Model) { m.InputZero = 256 }, -1, false, "input zero point"},
		{"name too long", func(m *Model) { m.Name = strings.Repeat("x", MaxNameLen+1) }, -1, false, "name"},
		{"meta length", func(m *Model) { m.Meta.OutputScaleBits = []uint32{1} }, -1, true, "OutputScaleBits"},
		{"weight scales length", func(m *Model) { m.Meta.WeightScaleBits = [][]uint32{{1, 2}} }, -1, true, "WeightScaleBits"},
		{"weight scales conv", func(m *Model) { m.Meta.WeightScaleBits = [][]uint32{{1}, nil, {1, 2, 3}} }, 0, true, "WeightScaleBits"},
		{"weight scales pool", func(m *Model) { m.Meta.WeightScaleBits = [][]uint32{{1, 2}, {1}, {1, 2, 3}} }, 1, true, "WeightScaleBits"},
		{"weight scales fc", func(m *Model) { m.Meta.WeightScaleBits = [][]uint32{{1, 2}, nil, {1, 2}} }, 2, true, "WeightScaleBits"},
		{"conv channels", func(m *Model) { m.InC = 2 }, 0, true, "channels"},
		{"conv kernel too big", func(m *Model) { conv(m).KH = 6 }, 0, true, "does not fit"},
		{"conv stride 0", func(m *Model) { conv(m).Stride = 0 }, 0, true, "stride"},
		{"conv negative pad", func(m *Model) { conv(m).Pad = -1 }, 0, true, "padding"},
		{"conv weights short", func(m *Model) { conv(m).Weights = conv(m).Weights[:7] }, 0, true, "weights"},
		{"conv bias short", func(m *Model) { conv(m).Bias = conv(m).Bias[:1] }, 0, true, "Bias"},
		{"conv shift long", func(m *Model) { conv(m).Shift = append(conv(m).Shift, 0) }, 0, true, "Shift"},
		{"weight bits 1", func(m *Model) { conv(m).WeightBits = 1 }, 0, false, "weight bits"},
		{"weight bits 9", func(m *Model) { conv(m).WeightBits = 9 }, 0, false, "weight bits"},
		{"weight narrow range", func(m *Model) { conv(m).Weights[3] = -4 }, 0, false, "narrow range"},
		{"weight too wide for bits", func(m *Model) { conv(m).WeightBits = 2 }, 0, false, "narrow range"},
		{"out bits 9", func(m *Model) { conv(m).OutBits = 9 }, 0, false, "output bits"},
		{"output zero", func(m *Model) { conv(m).OutputZero = 16 }, 0, false, "output zero point"},
		{"clamp max", func(m *Model) { conv(m).ActMax = 16 }, 0, false, "clamp"},
		{"clamp inverted", func(m *Model) { conv(m).ActMin = 10; conv(m).ActMax = 9 }, 0, false, "clamp"},
		{"clamp negative", func(m *Model) { conv(m).ActMin = -1 }, 0, false, "clamp"},
		{"multiplier small", func(m *Model) { conv(m).Multiplier[1] = 5 }, 0, false, "multiplier"},
		{"multiplier negative", func(m *Model) { conv(m).Multiplier[1] = -q1of2 }, 0, false, "multiplier"},
		{"shift 31", func(m *Model) { conv(m).Shift[0] = 31 }, 0, false, "shift"},
		{"shift -32", func(m *Model) { conv(m).Shift[0] = -32 }, 0, false, "shift"},
		{"conv input zero", func(m *Model) { conv(m).InputZero = 9 }, 0, false, "zero point"},
		{"pool window", func(m *Model) { m.Layers[1] = &MaxPool2D{K: 5, Stride: 1} }, 1, true, "window"},
		{"pool K 0", func(m *Model) { m.Layers[1] = &MaxPool2D{K: 0, Stride: 1} }, 1, true, "K=0"},
		{"fc In", func(m *Model) { fc(m).In = 9 }, 2, true, "elements"},
		{"fc Out 0", func(m *Model) { fc(m).Out = 0 }, 2, true, "Out=0"},
		{"fc input zero", func(m *Model) { fc(m).InputZero = 0 }, 2, false, "zero point"},
		{"fc accumulator", func(m *Model) { fc(m).Bias[2] = maxI32 }, 2, false, "accumulator"},
		{"fc accumulator negative bias", func(m *Model) { fc(m).Bias[1] = minI32 }, 2, false, "accumulator"},
		{"left shift overflow", func(m *Model) { fc(m).Bias[0] = 1 << 24; fc(m).Shift[0] = 7 }, 2, false, "shifted left"},
	} {
		m := smallModel()
		tc.edit(m)
		err := m.Validate()
		var se *ShapeError
		var re *RangeError
		switch {
		case err == nil:
			t.Errorf("%s: no error", tc.name)
			continue
		case tc.shape && !errors.As(err, &se):
			t.Errorf("%s: got %T %v, want *ShapeError", tc.name, err, err)
			continue
		case !tc.shape && !errors.As(err, &re):
			t.Errorf("%s: got %T %v, want *RangeError", tc.name, err, err)
			continue
		}
		layer := -2
		if se != nil {
			layer = se.Layer
		} else {
			layer = re.Layer
		}
		if layer != tc.layer || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: error %q (layer %d), want layer %d and %q", tc.name, err, layer, tc.layer, tc.msg)
		}
	}
}

// bigFC returns a model x -> FullyConnected(in -> 1) with all weights 127
// (8 bits), input zero point z, and the given bias.
func bigFC(in int, z, bias int32) *Model {
	w := make([]int8, in)
	for i := range w {
		w[i] = 127
	}
	h := 2
	for in%h != 0 || in/h > MaxDim {
		h++
	}
	return &Model{InC: 1, InH: h, InW: in / h, InputZero: z, Layers: []Layer{&FullyConnected{
		In: in, Out: 1, WeightBits: 8, Weights: w,
		Bias: []int32{bias}, Multiplier: []int32{q1of2}, Shift: []int32{-31 + 8},
		InputZero: z, OutputZero: 128, ActMax: 255, OutBits: 8,
	}}}
}

// TestAccumulatorBound checks the bound at its exact edge: with input zero
// point 0 the worst |q - Z| is 255, so each weight 127 adds 32385, and
// 66311*32385 + 1912 = 2^31 - 1.
func TestAccumulatorBound(t *testing.T) {
	for _, tc := range []struct {
		in       int
		z, bias  int32
		accepted bool
	}{
		{66311, 0, 0, true},
		{66311, 0, 1912, true},
		{66311, 0, -1912, true},
		{66311, 0, 1913, false},
		{66311, 0, -1913, false},
		{66312, 0, 0, false},
		// Zero point 128: worst |q - Z| is 128; 132104*127*128 + 1023 = 2^31 - 1.
		{132104, 128, 1023, true},
		{132104, 128, -1023, true},
		{132104, 128, -1024, false},
	} {
		m := bigFC(tc.in, tc.z, tc.bias)
		err := m.Validate()
		if tc.accepted != (err == nil) {
			t.Errorf("In=%d Z=%d bias=%d: Validate = %v, want accepted=%v", tc.in, tc.z, tc.bias, err, tc.accepted)
			continue
		}
		var re *RangeError
		if err != nil && (!errors.As(err, &re) || re.Layer != 0 || !strings.Contains(err.Error(), "accumulator")) {
			t.Errorf("In=%d bias=%d: error %v, want a *RangeError naming layer 0 and the accumulator", tc.in, tc.bias, err)
		}
		if err != nil {
			continue
		}
		// At the edge the reference accumulator is +-(2^31-1) exactly; the fast
		// path's zero-point expansion overflows int32 in between (255*127*132104 >
		// 2^31) and must still agree.
		for _, path := range []KernelPath{PathDense, PathSparse} {
			r := m.NewRunnerWith(RunnerOptions{Path: path})
			for _, fill := range []uint8{0, 255, 128, 127} {
				img := make([]uint8, tc.in)
				for i := range img {
					img[i] = fill
				}
				want := referenceTrace(m, img)[0][0]
				if got := r.Forward(img)[0]; got != want {
					t.Errorf("%v In=%d Z=%d bias=%d fill %d: Forward %d, reference %d", path, tc.in, tc.z, tc.bias, fill, got, want)
				}
			}
		}
	}
}
