package qnet

import (
	"bytes"
	"math"
	"testing"

	"github.com/qatgo/qatgo/fakequant"
)

// Multipliers used by the hand-made vectors: M = q * 2^(shift-31).
const (
	q1of2  = 1 << 30    // with shift 0: M = 0.5; with shift 1: M = 1; with shift 2: M = 2
	q3of4  = 1610612736 // with shift 0: M = 0.75
	maxI32 = math.MaxInt32
	minI32 = math.MinInt32
)

func TestRequantize(t *testing.T) {
	for _, tc := range []struct {
		acc, mult, shift, z, lo, hi int32
		want                        uint8
	}{
		// M = 0.5: 3.5 -> 4 and -3.5 -> -3 (SRDHM rounds ties toward +Inf).
		{7, q1of2, 0, 128, 0, 255, 132},
		{-7, q1of2, 0, 128, 0, 255, 125},
		{13, q1of2, 0, 10, 0, 255, 17}, // 6.5 -> 7
		// M = 0.75: 5.25 -> 5.
		{7, q3of4, 0, 10, 0, 255, 15},
		// Positive shifts: M = 2, M = 1.
		{5, q1of2, 2, 128, 0, 255, 138},
		{-5, q1of2, 2, 128, 0, 255, 118},
		{-9, q1of2, 1, 128, 0, 255, 119},
		// Negative shift, M = 1/16: RoundingDivideByPOT rounds ties away from zero.
		{24, q1of2, -3, 128, 0, 255, 130},  // 1.5 -> 2
		{-24, q1of2, -3, 128, 0, 255, 126}, // -1.5 -> -2
		{22, q1of2, -3, 128, 0, 255, 129},  // 1.375 -> 1
		// Double rounding (TFLite): 23/16 = 1.4375, but SRDHM gives 11.5 -> 12
		// and 12/8 = 1.5 -> 2.
		{23, q1of2, -3, 128, 0, 255, 130},
		{-8, q1of2, -3, 128, 0, 255, 127}, // -0.5 -> -1
		{8, q1of2, -3, 128, 0, 255, 129},  // 0.5 -> 1
		{-7, q1of2, -3, 128, 0, 255, 128}, // -0.4375 -> 0
		// Clamp at both ends, including bounds that are not the grid's.
		{1000, q1of2, 1, 128, 0, 255, 255},
		{1000, q1of2, 1, 128, 0, 200, 200},
		{-1000, q1of2, 1, 128, 0, 255, 0},
		{-1000, q1of2, 1, 128, 20, 255, 20},
		{-5, q1of2, 1, 3, 3, 15, 3},  // ReLU: clamp at the zero point
		{20, q1of2, 1, 3, 3, 15, 15}, // 4-bit output
		// Extreme accumulators: no overflow when the zero point is added.
		{maxI32, q1of2, 0, 255, 0, 255, 255},
		{minI32, q1of2, 0, 0, 0, 255, 0},
		{maxI32, maxI32, 0, 200, 0, 255, 255},
		{minI32, maxI32, -31, 7, 0, 255, 6}, // -2^31 * ~1 / 2^31 -> -1
		// Zero multiplier: the output is the zero point.
		{123456, 0, 0, 77, 0, 255, 77},
	} {
		if got := Requantize(fakequant.RoundDouble, tc.acc, tc.mult, tc.shift, tc.z, tc.lo, tc.hi); got != tc.want {
			t.Errorf("Requantize(%d, %d, %d, %d, %d, %d) = %d, want %d",
				tc.acc, tc.mult, tc.shift, tc.z, tc.lo, tc.hi, got, tc.want)
		}
	}
}

// handConv is a 1x3x3 input with zero point 10 and two 2x2 filters, stride 1,
// padding 1 (padding holds 10, i.e. real 0). The expected outputs are worked
// out in the comments of TestConv2DHand.
func handConv() (*Model, []uint8) {
	conv := &Conv2D{
		InC: 1, OutC: 2, KH: 2, KW: 2, Stride: 1, Pad: 1,
		WeightBits: 3,
		Weights: []int8{
			1, -1, 2, 3, // filter 0: [[1,-1],[2,3]]
			0, 1, -1, 0, // filter 1: [[0,1],[-1,0]]
		},
		Bias:       []int32{5, -3},
		Multiplier: []int32{q1of2, q1of2},
		Shift:      []int32{1, 0}, // M = 1 and M = 0.5
		InputZero:  10,
		OutputZero: 100, // shared by both channels
		ActMin:     0, ActMax: 255, OutBits: 8,
	}
	m := &Model{Name: "hand", InC: 1, InH: 3, InW: 3, InputZero: 10, Layers: []Layer{conv}}
	img := []uint8{
		12, 10, 7,
		10, 14, 10,
		9, 10, 11,
	}
	return m, img
}

func TestConv2DHand(t *testing.T) {
	m, img := handConv()
	conv := m.Layers[0].(*Conv2D)
	// Input minus zero point, with the padding (real 0) drawn around it:
	//   0  0  0  0  0
	//   0  2  0 -3  0
	//   0  0  4  0  0
	//   0 -1  0  1  0
	//   0  0  0  0  0
	// Filter 0 [[1,-1],[2,3]] over each 2x2 window, plus bias 5, times M = 1,
	// plus the output zero point 100:
	//   acc = [6 4 -9 -6; -2 14 11 -3; -3 -6 7 2; 1 -1 -1 1] + 5
	want0 := []uint8{
		111, 109, 96, 99,
		103, 119, 116, 102,
		102, 99, 112, 107,
		106, 104, 104, 106,
	}
	// Filter 1 [[0,1],[-1,0]], bias -3:
	//   acc = [-3 -5 -3 0; -1 -3 -10 -3; -3 2 -3 -4; -4 -3 -2 -3]
	// times M = 0.5 (ties toward +Inf): [-1 -2 -1 0; 0 -1 -5 -1; -1 1 -1 -2; -2 -1 -1 -1],
	// plus 100.
	want1 := []uint8{
		99, 98, 99, 100,
		100, 99, 95, 99,
		99, 101, 99, 98,
		98, 99, 99, 99,
	}
	want := append(append([]uint8(nil), want0...), want1...)
	got := make([]uint8, 32)
	conv2D(got, img, conv, 3, 3, fakequant.RoundDouble)
	if !bytes.Equal(got, want) {
		t.Errorf("conv2D:\n got %v\nwant %v", got, want)
	}
	if got := m.NewRunner().Forward(img); !bytes.Equal(got, want) {
		t.Errorf("Runner.Forward:\n got %v\nwant %v", got, want)
	}

	// The same layer with a clamp [98, 100]: -5 -> 95 clamps to 98, 119 to 100.
	conv.ActMin, conv.ActMax = 98, 100
	for i := range want {
		want[i] = min(max(want[i], 98), 100)
	}
	conv2D(got, img, conv, 3, 3, fakequant.RoundDouble)
	if !bytes.Equal(got, want) {
		t.Errorf("conv2D clamped:\n got %v\nwant %v", got, want)
	}
	if got := m.NewRunner().Forward(img); !bytes.Equal(got, want) {
		t.Errorf("Runner.Forward clamped:\n got %v\nwant %v", got, want)
	}
}

func TestConv2DStrideChannels(t *testing.T) {
	// Two 4x4 input channels, one 2x2 filter, stride 2, no padding.
	// Channel 0 is 1..16 under all-ones weights: the 2x2 block sums
	// 14, 22, 46, 54. Channel 1 is constant 3 under [[2,0],[0,0]]: +6.
	conv := &Conv2D{
		InC: 2, OutC: 1, KH: 2, KW: 2, Stride: 2,
		WeightBits: 3, Weights: []int8{1, 1, 1, 1, 2, 0, 0, 0},
		Bias: []int32{0}, Multiplier: []int32{q1of2}, Shift: []int32{1},
		ActMax: 255, OutBits: 8,
	}
	img := make([]uint8, 32)
	for i := range 16 {
		img[i], img[16+i] = uint8(i+1), 3
	}
	want := []uint8{20, 28, 52, 60}
	got := make([]uint8, 4)
	conv2D(got, img, conv, 4, 4, fakequant.RoundDouble)
	if !bytes.Equal(got, want) {
		t.Errorf("conv2D: got %v, want %v", got, want)
	}
	m := &Model{InC: 2, InH: 4, InW: 4, Layers: []Layer{conv}}
	if got := m.NewRunner().Forward(img); !bytes.Equal(got, want) {
		t.Errorf("Runner.Forward: got %v, want %v", got, want)
	}
}

func TestFullyConnectedHand(t *testing.T) {
	fc := &FullyConnected{
		In: 3, Out: 2, WeightBits: 4,
		Weights:    []int8{1, 2, 3, -4, 5, -6},
		Bias:       []int32{20, -3},
		Multiplier: []int32{q1of2, q3of4}, Shift: []int32{0, 0}, // M = 0.5, 0.75
		InputZero: 3, OutputZero: 10, ActMin: 0, ActMax: 16, OutBits: 5,
	}
	img := []uint8{5, 3, 0} // minus zero point 3: [2, 0, -3]
	// acc0 = 20 + 2*1 + 0*2 - 3*3 = 13; 13*0.5 = 6.5 -> 7; 10+7 = 17 -> clamp 16.
	// acc1 = -3 - 2*4 + 0*5 + 3*6 = 7; 7*0.75 = 5.25 -> 5; 10+5 = 15.
	want := []uint8{16, 15}
	got := make([]uint8, 2)
	fullyConnected(got, img, fc, fakequant.RoundDouble)
	if !bytes.Equal(got, want) {
		t.Errorf("fullyConnected: got %v, want %v", got, want)
	}
	m := &Model{InC: 3, InH: 1, InW: 1, InputZero: 3, Layers: []Layer{fc}}
	r := m.NewRunner()
	if got := r.Forward(img); !bytes.Equal(got, want) {
		t.Errorf("Runner.Forward: got %v, want %v", got, want)
	}
	if got := r.Predict(img); got != 0 {
		t.Errorf("Predict = %d, want 0", got)
	}
}

func TestMaxPool2DHand(t *testing.T) {
	img := []uint8{
		1, 9, 3, 4,
		5, 6, 7, 2,
		0, 10, 11, 12,
		13, 8, 15, 14,
	}
	for _, tc := range []struct {
		k, stride int
		want      []uint8
	}{
		{2, 2, []uint8{9, 7, 13, 15}},
		{3, 1, []uint8{11, 12, 15, 15}},
		{1, 3, []uint8{1, 4, 13, 14}},
		{4, 1, []uint8{15}},
	} {
		l := &MaxPool2D{K: tc.k, Stride: tc.stride}
		c, h, w, err := l.OutShape(1, 4, 4)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]uint8, c*h*w)
		maxPool2D(got, img, l, 1, 4, 4)
		if !bytes.Equal(got, tc.want) {
			t.Errorf("K=%d Stride=%d: got %v, want %v", tc.k, tc.stride, got, tc.want)
		}
	}
	// Two channels are pooled independently.
	two := append(append([]uint8(nil), img...), make([]uint8, 16)...)
	two[16+5] = 200
	got := make([]uint8, 8)
	maxPool2D(got, two, &MaxPool2D{K: 2, Stride: 2}, 2, 4, 4)
	if want := []uint8{9, 7, 13, 15, 200, 0, 0, 0}; !bytes.Equal(got, want) {
		t.Errorf("two channels: got %v, want %v", got, want)
	}
}

func TestArgmax(t *testing.T) {
	for _, tc := range []struct {
		v    []uint8
		want int
	}{
		{nil, -1},
		{[]uint8{0}, 0},
		{[]uint8{0, 0, 0}, 0},
		{[]uint8{3, 7, 7, 1}, 1},
		{[]uint8{3, 7, 8, 8}, 2},
		{[]uint8{255, 255}, 0},
		{[]uint8{0, 1, 2, 255}, 3},
	} {
		if got := Argmax(tc.v); got != tc.want {
			t.Errorf("Argmax(%v) = %d, want %d", tc.v, got, tc.want)
		}
	}
}
