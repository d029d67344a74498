package qnet

import (
	"bytes"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/qatgo/qatgo/fakequant"
)

// withAvgPools turns every MaxPool2D of m into an AvgPool2D of the same
// geometry with probability 1/2 (at least the first one), and clears those
// layers' output scales (a pool has none).
func withAvgPools(rng *rand.Rand, m *Model) *Model {
	first := true
	for i, l := range m.Layers {
		if p, ok := l.(*MaxPool2D); ok && (first || rng.IntN(2) == 0) {
			m.Layers[i] = &AvgPool2D{K: p.K, Stride: p.Stride}
			if len(m.Meta.OutputScaleBits) > 0 {
				m.Meta.OutputScaleBits[i] = 0
			}
			first = false
		}
	}
	return m
}

// TestAvgPool2DHand works two windows by hand. With Z = 0, a 2x2 window
// {1, 2, 3, 4} sums to 10: 2.5, a tie, rounds to 3 under both rules; a 3x3
// window of 1..9 sums to 45: exactly 5. With Z = 3 the 2x2 window sums to
// 10 - 12 = -2: -0.5 relative to Z, a tie, 3 + 0 = 3 under the single rule
// (ties toward +Inf) and 3 - 1 = 2 under the double rule (away from zero).
func TestAvgPool2DHand(t *testing.T) {
	img := []uint8{
		1, 2, 7,
		3, 4, 8,
		5, 6, 9,
	}
	for _, tc := range []struct {
		k, stride int
		z         int32
		r         fakequant.Rounding
		want      []uint8
	}{
		{2, 2, 0, fakequant.RoundSingle, []uint8{3}},
		{2, 2, 0, fakequant.RoundDouble, []uint8{3}},
		{2, 2, 3, fakequant.RoundSingle, []uint8{3}},
		{2, 2, 3, fakequant.RoundDouble, []uint8{2}},
		// stride 1: windows {1,2,3,4} 2.5, {2,7,4,8} 5.25, {3,4,5,6} 4.5, {4,8,6,9} 6.75
		{2, 1, 0, fakequant.RoundSingle, []uint8{3, 5, 5, 7}},
		{3, 1, 0, fakequant.RoundSingle, []uint8{5}}, // 45/9
		{1, 2, 0, fakequant.RoundDouble, []uint8{1, 7, 5, 9}},
	} {
		l := &AvgPool2D{K: tc.k, Stride: tc.stride}
		c, h, w, err := l.OutShape(1, 3, 3)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]uint8, c*h*w)
		avgPool2D(got, img, l, 1, 3, 3, tc.z, 0, 255, tc.r)
		if !bytes.Equal(got, tc.want) {
			t.Errorf("K=%d Stride=%d Z=%d %v: got %v, want %v", tc.k, tc.stride, tc.z, tc.r, got, tc.want)
		}
	}
}

// identityModel passes its input codes through a 1x1 convolution that
// copies them (weight 1, multiplier 1, zero points z, clamp [0, 2^bits-1])
// to an AvgPool2D: the pool then sees codes of the given width exactly as
// the test chose them.
func identityModel(c, h, w, bits int, z int32, k, stride int, r fakequant.Rounding) *Model {
	qmax := int32(1)<<bits - 1
	conv := &Conv2D{InC: c, OutC: c, KH: 1, KW: 1, Stride: 1, WeightBits: 2,
		Weights: make([]int8, c*c), Bias: make([]int32, c), Multiplier: make([]int32, c), Shift: make([]int32, c),
		InputZero: z, OutputZero: z, ActMin: 0, ActMax: qmax, OutBits: bits}
	for i := 0; i < c; i++ {
		conv.Weights[i*c+i] = 1
		conv.Multiplier[i], conv.Shift[i] = 1<<30, 1
	}
	return &Model{Name: "avg", InC: c, InH: h, InW: w, InputZero: z, Rounding: r,
		Layers: []Layer{conv, &AvgPool2D{K: k, Stride: stride}}}
}

// TestAvgPoolEdges runs the average pool at the edges on every engine: codes
// of 2 to 8 bits all at QMin, all at QMax, alternating (every 2x2 window a
// tie), and random; zero points at 0, mid-range and QMax; 2x2 and 3x3
// windows with strides equal to, below and above the window; both rounding
// rules. Every engine equals the reference kernel, and the reference kernel
// equals the exact mean rounded half up (single rounding) or lies between
// its floor and ceiling (double rounding).
func TestAvgPoolEdges(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 4))
	const c, h, w = 11, 7, 8 // 11 channels: the HWC loop runs partial channel groups
	checked := 0
	for bits := 2; bits <= 8; bits++ {
		qmax := int32(1)<<bits - 1
		for _, z := range []int32{0, qmax / 2, qmax} {
			for _, kc := range [][2]int{{2, 2}, {3, 3}, {2, 1}, {3, 2}, {2, 3}} {
				for _, r := range []fakequant.Rounding{fakequant.RoundDouble, fakequant.RoundSingle} {
					m := identityModel(c, h, w, bits, z, kc[0], kc[1], r)
					if err := m.Validate(); err != nil {
						t.Fatalf("bits %d z %d %v: %v", bits, z, kc, err)
					}
					for pattern := range 4 {
						img := make([]uint8, c*h*w)
						for i := range img {
							switch pattern {
							case 0: // all QMin
							case 1:
								img[i] = uint8(qmax)
							case 2:
								img[i] = uint8(qmax * int32((i+i/w)%2))
							default:
								img[i] = uint8(rng.Int32N(qmax + 1))
							}
						}
						ref := referenceTrace(m, img)
						checkAvgExact(t, ref[0], ref[1], m, r)
						for _, cfg := range runnerConfigs {
							got := cfg.runner(m).Trace(img)
							if !bytes.Equal(got[1], ref[1]) {
								t.Fatalf("bits %d z %d K,stride %v %v pattern %d %v: engine\n got %v\nwant %v", bits, z, kc, r, pattern, cfg, got[1], ref[1])
							}
						}
						checked++
					}
				}
			}
		}
	}
	t.Logf("%d models x inputs checked on %d runner configurations", checked, len(runnerConfigs))
}

// checkAvgExact checks the pool's output out against exact integer
// arithmetic on its input in (CHW).
func checkAvgExact(t *testing.T, in, out []uint8, m *Model, r fakequant.Rounding) {
	t.Helper()
	l := m.Layers[1].(*AvgPool2D)
	z := m.Layers[0].(*Conv2D).OutputZero
	c, h, w := m.InC, m.InH, m.InW
	_, oh, ow, _ := l.OutShape(c, h, w)
	n := int64(l.K * l.K)
	for ch := 0; ch < c; ch++ {
		for oy := 0; oy < oh; oy++ {
			for ox := 0; ox < ow; ox++ {
				var sum int64
				for ky := 0; ky < l.K; ky++ {
					for kx := 0; kx < l.K; kx++ {
						sum += int64(in[(ch*h+oy*l.Stride+ky)*w+ox*l.Stride+kx]) - int64(z)
					}
				}
				floor := func(a, b int64) int64 { // b > 0
					q := a / b
					if a%b != 0 && a < 0 {
						q--
					}
					return q
				}
				near := floor(2*sum+n, 2*n) // round half up
				lo, hi := floor(sum, n), -floor(-sum, n)
				got := int64(out[(ch*oh+oy)*ow+ox]) - int64(z)
				if r == fakequant.RoundSingle && got != near || got < lo || got > hi {
					t.Fatalf("%v K %d: window sum %d over %d: got %d (relative to Z %d), exact mean rounds to %d, in [%d, %d]", r, l.K, sum, n, got, z, near, lo, hi)
				}
			}
		}
	}
}

// TestRunnerAvgPoolRandom: random models with average pools (the max pools
// of randomModel turned into average pools), pruned or not, both rounding
// rules, on every engine against the reference, layer by layer.
func TestRunnerAvgPoolRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 5))
	pools := 0
	for i := 0; pools < 40 && i < 400; i++ {
		m := withAvgPools(rng, randomModel(rng))
		has := false
		for _, l := range m.Layers {
			has = has || l.Kind() == KindAvgPool2D
		}
		if !has {
			continue
		}
		pools++
		if i%2 == 1 {
			randomSparsity(rng, m)
		}
		m.Rounding = fakequant.Rounding(i % 2)
		if err := m.Validate(); err != nil {
			t.Fatalf("model %d: %v", i, err)
		}
		inLen := m.InC * m.InH * m.InW
		const n = batchBlock + 3
		imgs := randImages(rng, n, inLen)
		for _, cfg := range runnerConfigs {
			r := cfg.runner(m)
			got := make([]int, n)
			r.PredictBatch(imgs, n, got)
			for j := range n {
				img := imgs[j*inLen : (j+1)*inLen]
				ref := referenceTrace(m, img)
				tr := r.Trace(img)
				for li := range ref {
					if !bytes.Equal(tr[li], ref[li]) {
						t.Fatalf("model %d %v image %d layer %d (%v): differs from reference", i, cfg, j, li, m.Layers[li].Kind())
					}
				}
				if want := Argmax(ref[len(ref)-1]); got[j] != want {
					t.Fatalf("model %d %v image %d: PredictBatch %d, reference %d", i, cfg, j, got[j], want)
				}
			}
		}
	}
	if pools < 40 {
		t.Fatalf("only %d random models with an average pool", pools)
	}
}

// TestAvgPoolFormat: a model with an AvgPool2D is written as version 3 and
// reads back; one without stays version 2; kind 4 in a version-2 file is a
// *FormatError; the window is validated.
func TestAvgPoolFormat(t *testing.T) {
	m := identityModel(2, 5, 5, 4, 3, 3, 2, fakequant.RoundSingle)
	data := encode(t, m)
	if v := le.Uint16(data[8:]); v != 3 {
		t.Fatalf("version %d, want 3", v)
	}
	got, err := Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("decoded %+v, want %+v", got, m)
	}
	m.Layers[1] = &MaxPool2D{K: 3, Stride: 2}
	v2 := encode(t, m)
	if v := le.Uint16(v2[8:]); v != 2 {
		t.Fatalf("without an average pool: version %d, want 2", v)
	}
	// Version 3 is version 2 plus kind 4: a version-2 file relabeled 3 reads the same.
	le.PutUint16(v2[8:], 3)
	fixCRC(v2)
	if got, err := Decode(bytes.NewReader(v2)); err != nil || !reflect.DeepEqual(got, m) {
		t.Fatalf("version-2 records in a version-3 file: %v", err)
	}
	// The version-3 file relabeled as version 2 (checksum fixed): kind 4 is unknown there.
	old := append([]byte(nil), data...)
	le.PutUint16(old[8:], 2)
	fixCRC(old)
	var fe *FormatError
	if _, err := Decode(bytes.NewReader(old)); !errors.As(err, &fe) {
		t.Fatalf("kind 4 in a version-2 file: %v, want a *FormatError", err)
	} else {
		t.Logf("%v", err)
	}
	le.PutUint16(old[8:], 4)
	fixCRC(old)
	var ue *UnsupportedError
	if _, err := Decode(bytes.NewReader(old)); !errors.As(err, &ue) {
		t.Fatalf("version 4: %v, want an *UnsupportedError", err)
	}
	for _, k := range []int{0, MaxAvgPoolK + 1} {
		m.Layers[1] = &AvgPool2D{K: k, Stride: 1}
		var se *ShapeError
		if err := m.Validate(); !errors.As(err, &se) || se.Layer != 1 {
			t.Errorf("K=%d: %v, want a *ShapeError at layer 1", k, err)
		}
	}
}

// fixCRC recomputes the checksum of an edited file.
func fixCRC(data []byte) {
	body := data[:len(data)-trailerLen]
	le.PutUint32(data[len(body):], crc32.ChecksumIEEE(body))
}

// avgPoolModel is testdata/avgpool.qnet: a random model with its first max
// pool turned into an average pool (seeds chosen so that it has one).
func avgPoolModel() *Model {
	rng := rand.New(rand.NewPCG(2027, 6))
	for {
		m := withAvgPools(rng, randomModel(rng))
		for _, l := range m.Layers {
			if l.Kind() == KindAvgPool2D {
				m.Rounding = fakequant.RoundSingle
				return m
			}
		}
	}
}

// TestAvgPoolChunks: the SIMD engine requantizes the window sums in chunks
// of at most avgChunk int32s; shapes of several chunks, a last partial one,
// and rows of many channels (one position per chunk) equal the reference.
func TestAvgPoolChunks(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 6))
	for _, s := range []struct{ c, h, w, k, stride int }{
		{3, 40, 41, 2, 1},  // 8 channels a row, 512 rows a chunk: 1560 positions
		{9, 30, 30, 3, 1},  // 16 channels a row: 784 positions
		{600, 5, 6, 2, 2},  // 600 channels: 6 rows a chunk, 6 positions
		{1100, 3, 3, 2, 1}, // 1104 int32s a row: 3 rows a chunk, 4 positions
	} {
		for _, r := range []fakequant.Rounding{fakequant.RoundDouble, fakequant.RoundSingle} {
			m := identityModel(s.c, s.h, s.w, 8, rng.Int32N(256), s.k, s.stride, r)
			if err := m.Validate(); err != nil {
				t.Fatal(err)
			}
			img := randImages(rng, 1, s.c*s.h*s.w)
			ref := referenceTrace(m, img)
			for _, cfg := range runnerConfigs {
				if cfg.kernels == KernelsLanes && s.c > 600 {
					continue // the 1x1 conv of 1100 channels is slow on the lane-packed engine; its pool is the reference loop anyway
				}
				if got := cfg.runner(m).Trace(img); !bytes.Equal(got[1], ref[1]) {
					t.Fatalf("%+v %v %v: engine differs from the reference", s, r, cfg)
				}
			}
		}
	}
}

// FuzzAvgPoolGeometry builds models with an average pool of any window,
// stride, input shape, zero point and bit width (after a 1x1 convolution
// that copies the input codes, before a fully connected layer): Validate
// refuses them with a typed error or the model encodes, decodes to itself,
// fits MaxRunnerBytes and runs on every engine like the reference.
func FuzzAvgPoolGeometry(f *testing.F) {
	f.Add(uint8(2), uint16(8), uint16(9), uint8(2), uint8(2), uint8(5), uint8(4), false)
	f.Add(uint8(1), uint16(300), uint16(2), uint8(1), uint8(3), uint8(255), uint8(8), true)
	f.Add(uint8(9), uint16(40), uint16(40), uint8(40), uint8(1), uint8(0), uint8(2), false)
	f.Fuzz(func(t *testing.T, c uint8, h, w uint16, k, stride, z, bits uint8, single bool) {
		b := 2 + int(bits)%7
		zero := int32(z) % (1 << b)
		if c == 0 || int(c)*int(h)*int(w) > 1<<16 {
			return
		}
		r := fakequant.RoundDouble
		if single {
			r = fakequant.RoundSingle
		}
		m := identityModel(int(c), int(h), int(w), b, zero, int(k), int(stride), r)
		pool := m.Layers[1].(*AvgPool2D)
		var se *ShapeError
		oc, oh, ow, err := pool.OutShape(int(c), int(h), int(w))
		if err != nil {
			if err := m.Validate(); !errors.As(err, &se) {
				t.Fatalf("pool %+v on %dx%dx%d: Validate %v, want a *ShapeError", *pool, c, h, w, err)
			}
			return
		}
		rng := rand.New(rand.NewPCG(uint64(k), uint64(h)))
		a, _ := randAffine(rng, 3, oc*oh*ow, quant{zero, 0, int32(1)<<b - 1}, 4, 8)
		m.Layers = append(m.Layers, fcFrom(a))
		if err := m.Validate(); err != nil {
			var re *RangeError
			if !errors.As(err, &se) && !errors.As(err, &re) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		var buf bytes.Buffer
		if err := Encode(&buf, m); err != nil {
			t.Fatal(err)
		}
		got, err := Decode(&buf)
		if err != nil || !reflect.DeepEqual(got, m) {
			t.Fatalf("round trip: %v", err)
		}
		if n := got.RunnerBytes(); n > MaxRunnerBytes {
			t.Fatalf("accepted a model whose Runner needs %d bytes", n)
		}
		img := randImages(rng, 1, int(c)*int(h)*int(w))
		ref := referenceTrace(m, img)
		for _, cfg := range runnerConfigs {
			if tr := cfg.runner(m).Trace(img); !bytes.Equal(tr[1], ref[1]) || !bytes.Equal(tr[2], ref[2]) {
				t.Fatalf("pool %+v on %dx%dx%d, Z %d, %d bits, %v: %v differs from the reference", *pool, c, h, w, zero, b, r, cfg)
			}
		}
	})
}
