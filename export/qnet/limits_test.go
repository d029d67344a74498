package qnet

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// scratchBomb is the shape of a hostile file: one Conv2D whose 256x256
// kernel with padding 2162 over a 27x27 input gives a 4096x4096 output, so
// the im2col scratch alone would be 4096*4096*65536*2 bytes (2.2 TB), while
// the file holds 65,536 weights.
func scratchBomb() *Model {
	k := 256
	w := make([]int8, k*k)
	for i := range w {
		w[i] = 1
	}
	return &Model{Name: "bomb", InC: 1, InH: 27, InW: 27, Layers: []Layer{&Conv2D{
		InC: 1, OutC: 1, KH: k, KW: k, Stride: 1, Pad: 2162, WeightBits: 8, Weights: w,
		Bias: []int32{0}, Multiplier: []int32{1 << 30}, Shift: []int32{0}, OutBits: 8, ActMax: 255,
	}}}
}

// TestScratchBombRefused decodes a valid-checksum file whose layer shapes
// pass every per-tensor limit but whose Runner would need terabytes: Decode
// must refuse it, naming the Runner's buffers, without allocating them.
func TestScratchBombRefused(t *testing.T) {
	m := scratchBomb()
	if _, _, oh, err := m.Layers[0].OutShape(1, 27, 27); err != nil || oh != 4096 {
		t.Fatalf("bomb output height %d (%v), want 4096", oh, err)
	}
	if n := m.RunnerBytes(); n < 1<<40 {
		t.Fatalf("RunnerBytes = %d, want over 1 TiB", n)
	}
	file := encodeV1(m) // no validation on this path
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Decode(bytes.NewReader(file))
	runtime.ReadMemStats(&after)
	var se *ShapeError
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "Runner") {
		t.Fatalf("Decode of the scratch bomb: %v, want a ShapeError about the Runner's buffers", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 8<<20 {
		t.Errorf("Decode allocated %d bytes for a %d-byte file", got, len(file))
	}
}

// TestRunnerBytesBoundsRunner checks the bound against what Runners of
// random models actually hold on every kernel path.
func TestRunnerBytesBoundsRunner(t *testing.T) {
	rng := rand.New(rand.NewPCG(22, 1))
	models := []*Model{lenet5(rng, 8, 8), lenet5(rng, 4, 4), prunedLeNet5(rng, 8, 8, 16, false)}
	for range 20 {
		models = append(models, randomModel(rng))
	}
	for i, m := range models {
		bound := m.RunnerBytes()
		for _, path := range []KernelPath{PathAuto, PathDense, PathSparse} {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			r := m.NewRunnerWith(RunnerOptions{Path: path})
			runtime.GC()
			runtime.ReadMemStats(&after)
			held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
			// Slack: the Runner and plan structs, allocator rounding.
			if slack := int64(4096 + 1024*len(m.Layers)); held > bound+slack {
				t.Errorf("model %d, %v: a Runner holds %d bytes, RunnerBytes says at most %d", i, path, held, bound)
			}
			runtime.KeepAlive(r)
		}
	}
}

// TestChannelLimit refuses, before allocating the arrays, a file whose
// layers have more output channels than MaxModelChannels.
func TestChannelLimit(t *testing.T) {
	rng := rand.New(rand.NewPCG(22, 2))
	rows := MaxModelChannels + 1
	a, _ := randAffine(rng, 1, 1, quant{0, 0, 255}, 8, 8)
	fc := fcFrom(a)
	fc.Out = rows
	fc.Weights = make([]int8, rows)
	fc.Bias = make([]int32, rows)
	fc.Multiplier = make([]int32, rows)
	fc.Shift = make([]int32, rows)
	m := &Model{InC: 1, InH: 1, InW: 1, Layers: []Layer{fc}}
	if err := m.Validate(); err == nil || !strings.Contains(err.Error(), "output channels") {
		t.Fatalf("Validate: %v, want the channel limit", err)
	}
	_, err := Decode(bytes.NewReader(encodeV1(m)))
	if err == nil || !strings.Contains(err.Error(), "output channels") {
		t.Fatalf("Decode: %v, want the channel limit", err)
	}
}

// FuzzDecodeModelContents mutates the decoded contents of a model (input
// shape and zero point, each layer's geometry, bit widths, zero points,
// clamps, one weight and one bias) rather than its bytes, writes it with a
// valid checksum (encodeV1, which does not validate), and decodes it:
// every field combination the parser accepts reaches Validate and, when
// accepted, a Runner. Decode must return a typed error or a model whose
// Runner fits MaxRunnerBytes and runs.
func FuzzDecodeModelContents(f *testing.F) {
	f.Add(uint16(1), uint16(12), uint16(12), int32(0), uint16(3), uint16(1), uint16(0), uint16(2), uint8(8), int32(0), int32(255), int8(3), int32(7), uint16(100))
	f.Add(uint16(1), uint16(27), uint16(27), int32(0), uint16(256), uint16(1), uint16(2162), uint16(2), uint8(8), int32(0), int32(255), int8(1), int32(0), uint16(800))
	f.Add(uint16(3), uint16(64), uint16(64), int32(128), uint16(1), uint16(3), uint16(9), uint16(1), uint8(2), int32(1), int32(2), int8(-1), int32(-5), uint16(1))
	f.Fuzz(func(t *testing.T, inC, inH, inW uint16, zero int32, kernel, stride, pad, pool uint16, bits uint8, zout, amax int32, w0 int8, b0 int32, fcIn uint16) {
		m := fuzzBase(uint64(kernel)<<16 | uint64(pad))
		m.InC, m.InH, m.InW, m.InputZero = int(inC), int(inH), int(inW), zero
		conv := m.Layers[0].(*Conv2D)
		conv.InC, conv.KH, conv.KW, conv.Stride, conv.Pad = int(inC), int(kernel), int(kernel), int(stride), int(pad)
		// Keep the weight count consistent with the declared shape when it is small,
		// so that the shape checks past the parser are reached.
		if n := int(inC) * int(kernel) * int(kernel) * conv.OutC; n > 0 && n <= 1<<18 {
			conv.Weights = make([]int8, n)
			conv.Weights[0] = w0
		}
		conv.InputZero, conv.OutputZero, conv.ActMax, conv.Bias[0] = zero, zout, amax, b0
		conv.OutBits = int(bits)
		m.Layers[1].(*MaxPool2D).K, m.Layers[1].(*MaxPool2D).Stride = int(pool), int(pool)
		fc := m.Layers[2].(*FullyConnected)
		if fcIn > 0 {
			fc.In = int(fcIn)
			fc.Weights = fc.Weights[:min(len(fc.Weights), fc.In*fc.Out)]
		}
		file := encodeV1(m)
		if len(file) > MaxFileSize {
			return
		}
		got, err := Decode(bytes.NewReader(file))
		if err != nil {
			var fe *FormatError
			var ue *UnsupportedError
			var se *ShapeError
			var re *RangeError
			if !errors.As(err, &fe) && !errors.As(err, &ue) && !errors.As(err, &se) && !errors.As(err, &re) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		if n := got.RunnerBytes(); n > MaxRunnerBytes {
			t.Fatalf("accepted a model whose Runner needs %d bytes", n)
		}
		r := got.NewRunner()
		r.Predict(make([]uint8, got.InC*got.InH*got.InW))
	})
}

// fuzzBase is a valid 1x12x12 -> 10 model, quick to build, encode and run: conv 1->4 3x3,
// max pool 2, fully connected 100 -> 10.
func fuzzBase(seed uint64) *Model {
	rng := rand.New(rand.NewPCG(seed, 3))
	in := quant{0, 0, 255}
	a1, q := randAffine(rng, 4, 9, in, 8, 8)
	q.lo, q.hi = 0, 255
	a2, _ := randAffine(rng, 10, 100, q, 8, 8)
	return &Model{Name: "small", InC: 1, InH: 12, InW: 12, Layers: []Layer{
		convFrom(a1, 1, 3, 3, 1, 0),
		&MaxPool2D{K: 2, Stride: 2},
		fcFrom(a2),
	}}
}

func TestFuzzBaseValid(t *testing.T) {
	if err := fuzzBase(1).Validate(); err != nil {
		t.Fatal(err)
	}
}
