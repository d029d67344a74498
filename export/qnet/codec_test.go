package qnet

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/qatgo/qatgo/fakequant"
)

var update = flag.Bool("update", false, "rewrite the files in testdata/")

func encode(t testing.TB, m *Model) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Encode(&buf, m); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// testFile is a model stored in testdata/, a fuzz seed.
type testFile struct {
	m   *Model
	opt EncodeOptions
	v1  bool // written in format version 1; kept as it is, never rewritten
}

// compressible returns a small random model whose layers have assorted
// densities and few distinct weights, so that the encoders use every
// variant (bitmap and relative indices, Huffman with and without gaps).
func compressible(rng *rand.Rand) *Model {
	m := randomModel(rng)
	keep := []float64{0.9, 0.03, 0.35, 0.08, 0.6}
	prune(rng, m, keep[:len(affineLayers(m))])
	share(rng, m, 4, true)
	return m
}

// testdataFiles are the files in testdata/, the fuzz seeds.
func testdataFiles() map[string]testFile {
	return map[string]testFile{
		"small-v1.qnet":  {m: smallModel(), v1: true},
		"random-v1.qnet": {m: randomModel(rand.New(rand.NewPCG(2024, 1))), v1: true},
		"small.qnet":     {m: smallModel()},
		"random.qnet":    {m: randomModel(rand.New(rand.NewPCG(2024, 1)))},
		"sparse.qnet":    {m: compressible(rand.New(rand.NewPCG(2025, 3))), opt: EncodeOptions{Encoding: EncodingSparse}},
		"huffman.qnet":   {m: compressible(rand.New(rand.NewPCG(2025, 3))), opt: EncodeOptions{Encoding: EncodingHuffman}},
		"pruned.qnet":    {m: compressible(rand.New(rand.NewPCG(2025, 4)))},
		"scales.qnet":    {m: withWeightScales(smallModel(), rand.New(rand.NewPCG(2026, 5)))},
		"avgpool.qnet":   {m: avgPoolModel()}, // version 3
	}
}

func encodeWith(t testing.TB, m *Model, opt EncodeOptions) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := EncodeWith(&buf, m, opt); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestWriteTestdata rewrites the version-2 files of testdata/ with -update;
// without it, it checks that every file still decodes to the model that
// produced it and that encoding is byte-for-byte stable (the format has not
// drifted). The version-1 files must also equal what encodeV1 writes.
func TestWriteTestdata(t *testing.T) {
	for name, f := range testdataFiles() {
		path := filepath.Join("testdata", name)
		if *update && !f.v1 {
			if err := os.MkdirAll("testdata", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := WriteFileWith(path, f.m, f.opt); err != nil {
				t.Fatal(err)
			}
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test -run TestWriteTestdata -update)", err)
		}
		got, err := Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, f.m) {
			t.Errorf("%s decodes to a different model than the one that wrote it", name)
		}
		again := encodeWith(t, got, f.opt)
		if f.v1 {
			again = encodeV1(got)
		}
		if !bytes.Equal(again, data) {
			t.Errorf("%s: re-encoding changes the bytes", name)
		}
	}
}

// TestTestdataVariants checks that the seeds cover every encoding variant.
func TestTestdataVariants(t *testing.T) {
	seen := map[string]bool{}
	for name, f := range testdataFiles() {
		if f.v1 {
			continue
		}
		rep, err := Storage(f.m, f.opt)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range rep.Layers {
			if l.Weights > 0 {
				seen[fmt.Sprintf("%v gaps=%v", l.Encoding, l.GapBits > 0)] = true
			}
		}
		t.Logf("%s: %d bytes", name, rep.FileBytes)
	}
	for _, v := range []string{"dense gaps=false", "sparse gaps=false", "sparse gaps=true", "huffman gaps=false", "huffman gaps=true"} {
		if !seen[v] {
			t.Errorf("no layer in testdata/ is stored as %s", v)
		}
	}
}

var allEncodings = []WeightEncoding{EncodingAuto, EncodingDense, EncodingSparse, EncodingHuffman}

func TestRoundTrip(t *testing.T) {
	models := []*Model{smallModel()}
	rng := rand.New(rand.NewPCG(15, 16))
	for range 100 {
		models = append(models, randomModel(rng), compressible(rng))
	}
	for _, bits := range []int{8, 5, 4, 3, 2} {
		models = append(models, lenet5(rng, bits, 8), prunedLeNet5(rng, bits, 8, 16, bits > 4))
	}
	for i, m := range models {
		got, err := Decode(bytes.NewReader(encodeV1(m)))
		if err != nil || !reflect.DeepEqual(got, m) {
			t.Fatalf("model %d in version 1: %v", i, err)
		}
		if i%2 == 1 { // version 2 records the rounding rule (version 1 files round twice)
			m.Rounding = fakequant.RoundSingle
		}
		if i%3 == 1 { // ... and the weight scales
			withWeightScales(m, rng)
		}
		for _, enc := range allEncodings {
			data := encodeWith(t, m, EncodeOptions{Encoding: enc})
			got, err := Decode(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("model %d %v: %v", i, enc, err)
			}
			if !reflect.DeepEqual(got, m) {
				t.Fatalf("model %d %v: decoded model differs\n got %+v\nwant %+v", i, enc, got, m)
			}
		}
	}
}

func TestEncodeOptions(t *testing.T) {
	var buf bytes.Buffer
	if err := EncodeWith(&buf, smallModel(), EncodeOptions{Encoding: EncodingHuffman + 1}); err == nil || buf.Len() != 0 {
		t.Errorf("unknown encoding: %v, %d bytes written", err, buf.Len())
	}
	if _, err := Storage(smallModel(), EncodeOptions{Encoding: 9}); err == nil {
		t.Error("Storage with an unknown encoding: no error")
	}
	for _, enc := range allEncodings[1:] {
		rep, err := Storage(smallModel(), EncodeOptions{Encoding: enc})
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range rep.Layers {
			if l.Weights > 0 && l.Encoding != enc {
				t.Errorf("forced %v: layer %d stored as %v", enc, l.Index, l.Encoding)
			}
		}
	}
	if s := fmt.Sprint(allEncodings, WeightEncoding(7)); s != "[auto dense sparse huffman] WeightEncoding(7)" {
		t.Errorf("WeightEncoding strings: %s", s)
	}
}

func TestFileSizeLeNet5(t *testing.T) {
	// 431,080 weights: 8 bits -> ~431 KB, 4 bits -> ~216 KB, 2 bits -> ~108 KB dense.
	rng := rand.New(rand.NewPCG(17, 18))
	for _, bits := range []int{8, 4, 2} {
		m := lenet5(rng, bits, bits)
		dense := encodeWith(t, m, EncodeOptions{Encoding: EncodingDense})
		weights := 20*25 + 50*500 + 500*800 + 10*500
		if lo, hi := weights*bits/8, weights*bits/8+10000; len(dense) < lo || len(dense) > hi {
			t.Errorf("%d bits: %d bytes dense, want in [%d, %d]", bits, len(dense), lo, hi)
		}
		data := encode(t, m)
		if len(data) > len(dense) {
			t.Errorf("%d bits: Encode wrote %d bytes, more than dense (%d)", bits, len(data), len(dense))
		}
		// Summary accounts for every byte: header 34 + name, plus the layer records.
		total := 34 + len(m.Name)
		params := 0
		for _, s := range m.Summary() {
			total += s.Bytes
			params += s.Params
		}
		if total != len(data) {
			t.Errorf("%d bits: Summary bytes + header = %d, file = %d", bits, total, len(data))
		}
		if params != weights+20+50+500+10 {
			t.Errorf("%d bits: Summary params = %d", bits, params)
		}
		t.Logf("LeNet-5 at %d-bit weights (1/8 zeros): %d bytes dense, %d bytes as Encode picks", bits, len(dense), len(data))
	}
}

func TestSummary(t *testing.T) {
	s := smallModel().Summary()
	// Conv2D: kind, scale, geometry, quantization block, dense block of 8
	// 3-bit weights, arrays: mode, 2 one-byte varint biases, 2 multipliers,
	// 2 shifts. FullyConnected: 24 2-bit weights, 3 varint biases.
	want := []LayerSummary{
		{Index: 0, Kind: KindConv2D, OutC: 2, OutH: 4, OutW: 4, Params: 10, MACs: 2 * 4 * 4 * 4, WeightBits: 3, OutBits: 4,
			Bytes: 1 + 4 + 12 + 17 + 6 + 3 + 1 + 2 + 2*5, Nonzero: 6, Encoding: EncodingDense, Sparse: true},
		{Index: 1, Kind: KindMaxPool2D, OutC: 2, OutH: 2, OutW: 2, OutBits: 4, Bytes: 1 + 4 + 4},
		{Index: 2, Kind: KindFullyConnected, OutC: 3, OutH: 1, OutW: 1, Params: 27, MACs: 24, WeightBits: 2, OutBits: 8,
			Bytes: 1 + 4 + 8 + 17 + 6 + 6 + 1 + 3 + 3*5, Nonzero: 14, Encoding: EncodingDense, Sparse: true},
	}
	// Summary reports what NewRunner does: the lane-packed engine runs
	// both layers sparse; the SIMD engine (on AVX2 and VNNI CPUs) the conv
	// (by its cost model, simdSparse, the few entries of its 6 nonzeros
	// cost less than the dense product) but not the fully connected layer
	// (58% nonzero).
	lanesAuto := KernelsAuto.resolve() == KernelsLanes
	want[2].Sparse = lanesAuto
	if !reflect.DeepEqual(s, want) {
		t.Errorf("Summary:\n got %+v\nwant %+v", s, want)
	}
	// On the lane-packed engine tiny layers run sparse: the dense path's
	// fixed costs dominate. On LeNet-5 pruned as in Deep Compression,
	// conv2, fc1 and fc2 run sparse (conv1, 66% kept, is close to its
	// crossover). The SIMD engine runs conv2, fc1 and fc2 sparse too, and
	// conv1 at 8 bits (its cost model, simdSparse, chooses the sparse path
	// for conv1's shape at any density) but not at 4 (against VPMADDUBSW a
	// sparse slot counts double).
	for _, bits := range []int{8, 4} {
		m := prunedLeNet5(rand.New(rand.NewPCG(3, 4)), bits, bits, 16, false)
		var sum []bool
		for _, s := range m.Summary() {
			sum = append(sum, s.Sparse)
		}
		if r := m.NewRunner().SparseLayers(); !slices.Equal(r, sum) {
			t.Errorf("%d bits: SparseLayers %v, Summary %v", bits, r, sum)
		}
		got := m.NewRunnerWith(RunnerOptions{Kernels: KernelsLanes}).SparseLayers()
		if !got[2] || !got[4] || !got[5] || got[1] || got[3] {
			t.Errorf("%d bits: lane-packed engine's SparseLayers %v, want [? false true false true true]", bits, got)
		}
		simd := []bool{bits == 8, false, true, false, true, true}
		if lanesAuto && !slices.Equal(got, sum) || !lanesAuto && !slices.Equal(sum, simd) {
			t.Errorf("%d bits: Summary Sparse %v, lane-packed engine %v (the default: %v), SIMD engine's expected %v", bits, sum, got, lanesAuto, simd)
		}
	}
}

// testFiles returns the encoded test models: every file of testdata/ and
// the small model in every encoding.
func testFiles(t *testing.T) map[string][]byte {
	files := map[string][]byte{}
	for name, f := range testdataFiles() {
		if f.v1 {
			files[name] = encodeV1(f.m)
		} else {
			files[name] = encodeWith(t, f.m, f.opt)
		}
	}
	for _, enc := range allEncodings {
		files["small "+enc.String()] = encodeWith(t, smallModel(), EncodeOptions{Encoding: enc})
	}
	return files
}

func TestDecodeEveryTruncation(t *testing.T) {
	for name, data := range testFiles(t) {
		for n := 0; n < len(data); n++ {
			_, err := Decode(bytes.NewReader(data[:n]))
			var fe *FormatError
			if !errors.As(err, &fe) || !fe.Truncated || !strings.Contains(err.Error(), "truncated") {
				t.Fatalf("%s cut to %d of %d bytes: err = %v, want a truncation *FormatError", name, n, len(data), err)
			}
		}
	}
}

func TestDecodeEveryBitFlip(t *testing.T) {
	for name, data := range testFiles(t) {
		if len(data) > 2000 {
			continue
		}
		for i := range len(data) * 8 {
			bad := bytes.Clone(data)
			bad[i/8] ^= 1 << (i % 8)
			_, err := Decode(bytes.NewReader(bad))
			var fe *FormatError
			var ue *UnsupportedError
			switch {
			case err == nil:
				t.Fatalf("%s: flip of bit %d of byte %d: no error", name, i%8, i/8)
			case errors.As(err, &ue):
				if i/8 < 8 || i/8 >= 12 { // only version and flags are "unsupported"
					t.Errorf("%s: flip in byte %d: %v", name, i/8, err)
				}
			case !errors.As(err, &fe):
				t.Errorf("%s: flip in byte %d: %T %v, want *FormatError", name, i/8, err, err)
			}
		}
	}
}

// withCRC returns data with its trailing checksum recomputed.
func withCRC(data []byte) []byte {
	body := data[:len(data)-4]
	binary.LittleEndian.PutUint32(data[len(body):], crc32.ChecksumIEEE(body))
	return data
}

// TestDecodeCorruptFields changes length, count and shape fields of a valid
// file, fixes the checksum, and expects a clean error.
func TestDecodeCorruptFields(t *testing.T) {
	m := smallModel()
	data := encodeWith(t, m, EncodeOptions{Encoding: EncodingDense})
	v1 := encodeV1(m)
	n := len(m.Name)
	layer0 := 30 + n
	conv := layer0 + 5         // Conv2D geometry
	convQ := conv + 12         // quantization block
	convW := convQ + 17        // weight block
	convA := convW + 6 + 3     // per-channel arrays
	pool := convA + 1 + 2 + 10 // mode, 2 varint biases, 2 multipliers and shifts
	fc := pool + 9 + 5         // FullyConnected In
	fcA := fc + 8 + 17 + 6 + 6
	v1pool := convW + 6 + 3 + 2*9
	put16 := func(off int, v uint16) func([]byte) {
		return func(b []byte) { binary.LittleEndian.PutUint16(b[off:], v) }
	}
	put32 := func(off int, v uint32) func([]byte) {
		return func(b []byte) { binary.LittleEndian.PutUint32(b[off:], v) }
	}
	put8 := func(off int, v byte) func([]byte) { return func(b []byte) { b[off] = v } }
	const (
		format      = "format"      // *FormatError
		unsupported = "unsupported" // *UnsupportedError
		invalid     = "invalid"     // *ShapeError or *RangeError from Validate
		anyErr      = "any"         // the parse loses its place; any typed error
	)
	for _, tc := range []struct {
		name string
		edit func([]byte)
		want string // a name starting "v1 " edits the version-1 file
	}{
		{"name length +1", put16(12, uint16(n+1)), anyErr},
		{"name length max", put16(12, 0xffff), format},
		{"name length 0", put16(12, 0), anyErr},
		{"InC 0", put16(14+n, 0), invalid},
		{"InH max", put16(16+n, 0xffff), invalid},
		{"input zero -1", put32(20+n, 0xffffffff), invalid},
		{"layer count 0", put16(28+n, 0), format}, // trailing bytes
		{"layer count +1", put16(28+n, 4), format},
		{"layer count max", put16(28+n, 0xffff), format},
		{"layer count -1", put16(28+n, 2), format},
		{"kind 0", put8(layer0, 0), format},
		{"kind 9", put8(layer0, 9), format},
		{"kind conv->fc", put8(layer0, 2), anyErr},
		{"kind conv->pool", put8(layer0, 3), anyErr},
		{"conv InC max", put16(conv, 0xffff), format},
		{"conv OutC max", put16(conv+2, 0xffff), format},
		{"conv OutC 3", put16(conv+2, 3), format},
		{"conv KH 0", put16(conv+4, 0), format},
		{"conv stride 0", put16(conv+8, 0), invalid},
		{"conv pad max", put16(conv+10, 0xffff), invalid},
		{"conv out bits 0", put8(convQ+16, 0), invalid},
		{"conv clamp max 16", put32(convQ+12, 16), invalid},
		{"conv encoding sparse", put8(convW, 1), anyErr},
		{"conv encoding huffman", put8(convW, 2), anyErr},
		{"conv encoding 3", put8(convW, 3), unsupported},
		{"conv encoding 255", put8(convW, 255), unsupported},
		{"conv weight bits 0", put8(convW+1, 0), format},
		{"conv weight bits 9", put8(convW+1, 9), format},
		{"conv weight bits 8", put8(convW+1, 8), anyErr},
		{"conv weight count +1", put32(convW+2, 9), format},
		{"conv weight count -1", put32(convW+2, 7), format},
		{"conv weight count max", put32(convW+2, 0xffffffff), format},
		{"conv weight count 0", put32(convW+2, 0), format},
		{"conv arrays mode 4", put8(convA, 4), unsupported},
		{"conv arrays mode 0x80", put8(convA, 0x80), unsupported},
		{"conv arrays mode 0", put8(convA, 0), anyErr},
		{"conv arrays shared", put8(convA, 3), anyErr},
		{"conv bias varint long", put8(convA+1, 0x80), format},
		{"fc arrays mode 3", put8(fcA, 3), format}, // shared: 10 bytes left over
		{"fc multiplier 1", put32(fcA+4, 1), invalid},
		{"pool K 0", put16(pool+5, 0), invalid},
		{"pool stride max", put16(pool+7, 0xffff), invalid},
		{"fc In max", put32(fc, 0xffffffff), format},
		{"fc Out max", put32(fc+4, 0xffffffff), format},
		{"fc Out +1", put32(fc+4, 4), format},
		{"scale without flag", put16(10, 0), format},
		{"unknown flag", put16(10, 9), unsupported},
		{"unknown flag 15", put16(10, 1<<15|1), unsupported},
		{"v1 single rounding", put16(10, 2), unsupported},
		{"v1 weight scales", put16(10, 5), unsupported},
		{"weight scales flag, none stored", put16(10, 5), anyErr},
		{"version 4", put16(8, 4), unsupported},
		{"version 1", put16(8, 1), anyErr},
		{"version 0", put16(8, 0), unsupported},
		{"v1 encoding sparse", put8(convW, 1), unsupported},
		{"v1 encoding huffman", put8(convW, 2), unsupported},
		{"v1 version 2", put16(8, 2), anyErr},
		{"v1 shift 31", put8(v1pool-1, 31), invalid},
		{"v1 pool stride 0", put16(v1pool+7, 0), invalid},
	} {
		bad := bytes.Clone(data)
		if strings.HasPrefix(tc.name, "v1 ") {
			bad = bytes.Clone(v1)
		}
		tc.edit(bad)
		_, err := Decode(bytes.NewReader(withCRC(bad)))
		var fe *FormatError
		var ue *UnsupportedError
		var se *ShapeError
		var re *RangeError
		got := ""
		switch {
		case err == nil:
			t.Errorf("%s: no error", tc.name)
			continue
		case errors.As(err, &fe):
			got = format
		case errors.As(err, &ue):
			got = unsupported
		case errors.As(err, &se), errors.As(err, &re):
			got = invalid
		default:
			t.Errorf("%s: untyped error %T %v", tc.name, err, err)
			continue
		}
		if tc.want != anyErr && got != tc.want {
			t.Errorf("%s: %v (%s error), want a %s error", tc.name, err, got, tc.want)
		}
		t.Logf("%-24s %v", tc.name, err)
	}

	// Trailing bytes with a valid checksum.
	long := append(bytes.Clone(data[:len(data)-4]), 0, 0, 0, 0, 0)
	_, err := Decode(bytes.NewReader(withCRC(long)))
	var fe *FormatError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "after the last layer") {
		t.Errorf("trailing bytes: %v", err)
	}
	// Weight scales: the flag cleared on a file that stores them leaves their
	// bytes where the next field is expected.
	scales := encode(t, withWeightScales(smallModel(), rand.New(rand.NewPCG(7, 8))))
	cleared := bytes.Clone(scales)
	binary.LittleEndian.PutUint16(cleared[10:], 1|2)
	if _, err := Decode(bytes.NewReader(withCRC(cleared))); !errors.As(err, &fe) {
		t.Errorf("weight scales without their flag: %v, want *FormatError", err)
	}
	// Not a model at all.
	for _, in := range []string{"", "QATGO", "PK\x03\x04 not a model", "QATGOINX" + string(data[8:])} {
		_, err := Decode(strings.NewReader(in))
		if !errors.As(err, &fe) {
			t.Errorf("Decode(%.12q): %v, want *FormatError", in, err)
		}
	}
}

// TestDecodeRandomCorruption mutates random bytes of valid files and fixes the
// checksum. Decode must not panic, must refuse with a typed error, and whatever it
// accepts must re-encode to the same model and predict the same on every path.
func TestDecodeRandomCorruption(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	accepted := 0
	for i := range 4000 {
		m := smallModel()
		switch i % 4 {
		case 1:
			m = randomModel(rng)
		case 2, 3:
			m = compressible(rng)
		}
		data := encodeWith(t, m, EncodeOptions{Encoding: allEncodings[i/4%4]})
		for range 1 + rng.IntN(3) {
			data[12+rng.IntN(len(data)-16)] = byte(rng.UintN(256))
		}
		// With the checksum fixed the parser sees the corruption: it must refuse the file with a
		// typed error, or return a model that re-encodes to itself and runs the same on every
		// kernel path (fuzzDecode's checks; it fails the test otherwise).
		fixed := withCRC(data)
		if _, err := Decode(bytes.NewReader(fixed)); err == nil {
			accepted++
		}
		fuzzDecode(t, fixed)
	}
	// Both outcomes occur with this seed, so both checks above are exercised.
	if accepted == 0 || accepted == 4000 {
		t.Errorf("%d of 4000 corrupted files decoded: want some refused and some accepted", accepted)
	}
	t.Logf("%d of 4000 corrupted files were still valid models", accepted)
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

func TestDecodeReadError(t *testing.T) {
	_, err := Decode(io.MultiReader(strings.NewReader(Magic), failingReader{}))
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("err = %v, want the reader's error", err)
	}
}

func TestEncodeInvalid(t *testing.T) {
	m := smallModel()
	m.Layers[0].(*Conv2D).Weights[0] = 100
	var buf bytes.Buffer
	var re *RangeError
	if err := Encode(&buf, m); !errors.As(err, &re) {
		t.Errorf("Encode of invalid model: %v, want *RangeError", err)
	}
	if buf.Len() != 0 {
		t.Errorf("Encode wrote %d bytes of an invalid model", buf.Len())
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.qnet")
	m := smallModel()
	if err := WriteFile(path, m); err != nil {
		t.Fatal(err)
	}
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(path)
	if err != nil || !reflect.DeepEqual(got, m) {
		t.Fatalf("ReadFile after WriteFile: %v", err)
	}

	// An invalid model: error, old file intact, no temporary left.
	bad := smallModel()
	bad.Layers[2].(*FullyConnected).Bias = nil
	if err := WriteFile(path, bad); err == nil {
		t.Fatal("WriteFile of an invalid model: no error")
	}
	// A rename that fails: the target is a non-empty directory.
	target := filepath.Join(dir, "dir")
	if err := os.MkdirAll(filepath.Join(target, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(target, m); err == nil {
		t.Fatal("WriteFile over a directory: no error")
	}
	// A directory that does not exist.
	if err := WriteFile(filepath.Join(dir, "missing", "m.qnet"), m); err == nil {
		t.Fatal("WriteFile into a missing directory: no error")
	}

	now, err := os.ReadFile(path)
	if err != nil || !bytes.Equal(now, old) {
		t.Errorf("old file changed after failed writes (%v)", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 2 {
		t.Errorf("directory holds %v, want only model.qnet and dir (temporary files left?)", names)
	}

	// Overwriting with another valid model replaces the file.
	m2 := randomModel(rand.New(rand.NewPCG(1, 1)))
	if err := WriteFile(path, m2); err != nil {
		t.Fatal(err)
	}
	if got, err := ReadFile(path); err != nil || !reflect.DeepEqual(got, m2) {
		t.Errorf("after overwrite: %v", err)
	}
	if _, err := ReadFile(filepath.Join(dir, "nope")); err == nil {
		t.Error("ReadFile of a missing file: no error")
	}
}

func FuzzDecode(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.qnet"))
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
		for _, n := range []int{0, 7, 12, 30, len(data) / 2, len(data) - 5, len(data) - 1} {
			if n >= 0 && n < len(data) {
				f.Add(data[:n])
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzDecode(t, data)
		// Most mutations break the checksum; fix it to reach the parser too.
		if len(data) >= headerLen+trailerLen {
			fuzzDecode(t, withCRC(bytes.Clone(data)))
		}
	})
}

func fuzzDecode(t *testing.T, data []byte) {
	m, err := Decode(bytes.NewReader(data))
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
	// Whatever decodes re-encodes to a file of the same model, which
	// re-encodes to itself, and runs. (Files need not be byte-stable: a file
	// may use another encoding or other Huffman codes than Encode picks.) A
	// few bytes can describe a large all-zero layer; such models are only
	// decoded, to keep the fuzzer fast.
	weights := 0
	for _, a := range affineLayers(m) {
		weights += len(a.weights)
	}
	if weights > 1<<20 {
		return
	}
	again := encode(t, m)
	m2, err := Decode(bytes.NewReader(again))
	if err != nil {
		t.Fatalf("re-encoding a decoded file: %v", err)
	}
	if !reflect.DeepEqual(m2, m) {
		t.Fatalf("re-encoding a decoded file changes the model")
	}
	if !bytes.Equal(encode(t, m2), again) {
		t.Fatalf("Encode is not a fixed point")
	}
	macs := 0
	for _, s := range m.Summary() {
		macs += s.MACs + s.OutC*s.OutH*s.OutW
	}
	if macs <= 1<<18 {
		img := make([]uint8, m.InC*m.InH*m.InW)
		want := m.NewRunnerWith(RunnerOptions{Path: PathDense}).Predict(img)
		if got := m.NewRunnerWith(RunnerOptions{Path: PathSparse}).Predict(img); got != want {
			t.Fatalf("sparse path predicts %d, dense %d", got, want)
		}
	}
}

func TestZigzagVarint(t *testing.T) {
	for _, v := range []int32{0, -1, 1, -64, 63, 64, -65, 1 << 20, -(1 << 27), maxI32, minI32, maxI32 - 1, minI32 + 1} {
		b := binary.AppendUvarint(nil, uint64(zigzag(v)))
		if len(b) != uvarintLen(zigzag(v)) {
			t.Errorf("%d: %d bytes, uvarintLen says %d", v, len(b), uvarintLen(zigzag(v)))
		}
		p := &parser{b: b}
		if got := p.zigzagVarint("v"); got != v || p.err != nil || p.off != len(b) {
			t.Errorf("%d: read %d (%v, %d of %d bytes)", v, got, p.err, p.off, len(b))
		}
	}
	for _, tc := range []struct {
		b         []byte
		truncated bool
		msg       string
	}{
		{nil, true, "truncated"},
		{[]byte{0x80}, true, "truncated"},
		{[]byte{0x8a, 0x00}, false, "shortest"},
		{[]byte{0x80, 0x80, 0x00}, false, "shortest"},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0x1f}, false, "32 bits"},
		{[]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, false, "32 bits"},
		{bytes.Repeat([]byte{0xff}, 11), false, "32 bits"},
	} {
		p := &parser{b: tc.b}
		p.zigzagVarint("v")
		var fe *FormatError
		if !errors.As(p.err, &fe) || fe.Truncated != tc.truncated || !strings.Contains(fe.Msg, tc.msg) {
			t.Errorf("% x: %v, want a *FormatError (truncated %v) about %q", tc.b, p.err, tc.truncated, tc.msg)
		}
	}
}

// TestArraysModes checks that the per-channel arrays take their smallest
// form: shared multipliers only when all channels agree, varint biases only
// when shorter than int32.
func TestArraysModes(t *testing.T) {
	for _, tc := range []struct {
		name        string
		bias, mult  []int32
		shift       []int32
		mode, bytes int
	}{
		{"small biases, per-channel", []int32{1, -2, 3}, []int32{q1of2, q3of4, q1of2}, []int32{0, 0, 0}, 1, 1 + 3 + 15},
		{"large biases", []int32{1 << 29, -(1 << 29), maxI32 / 1000}, []int32{q1of2, q3of4, q1of2}, []int32{0, 0, 0}, 0, 1 + 12 + 15},
		{"shared", []int32{1, -2, 3}, []int32{q1of2, q1of2, q1of2}, []int32{-3, -3, -3}, 3, 1 + 3 + 5},
		{"shared, large biases", []int32{1 << 29, 1 << 29, 1 << 29}, []int32{q1of2, q1of2, q1of2}, []int32{0, 0, 0}, 2, 1 + 12 + 5},
		{"shifts differ", []int32{0, 0, 0}, []int32{q1of2, q1of2, q1of2}, []int32{0, 1, 0}, 1, 1 + 3 + 15},
		{"one channel", []int32{7}, []int32{q1of2}, []int32{2}, 1, 1 + 1 + 5},
	} {
		a := affine{rows: len(tc.bias), bias: tc.bias, multiplier: tc.mult, shift: tc.shift}
		b := appendArrays(nil, a)
		if int(b[0]) != tc.mode || len(b) != tc.bytes {
			t.Errorf("%s: mode %d, %d bytes; want mode %d, %d bytes", tc.name, b[0], len(b), tc.mode, tc.bytes)
		}
		p := &parser{b: b[1:]}
		var got affine
		p.arrays(0, &got, a.rows, b[0])
		if p.err != nil || p.off != len(b)-1 || !slices.Equal(got.bias, a.bias) ||
			!slices.Equal(got.multiplier, a.multiplier) || !slices.Equal(got.shift, a.shift) {
			t.Errorf("%s: read back %+v (%v)", tc.name, got, p.err)
		}
	}
}

// TestDecodeLargeSparseModel decodes an 83-byte file holding a layer of 2^20
// zero weights, and checks the limit on the weights of a whole file.
func TestDecodeLargeSparseModel(t *testing.T) {
	const in = 1 << 20
	fc := &FullyConnected{In: in, Out: 1, WeightBits: 8, Weights: make([]int8, in),
		Bias: []int32{0}, Multiplier: []int32{q1of2}, Shift: []int32{0}, ActMax: 255, OutBits: 8}
	m := &Model{InC: 1, InH: 1024, InW: 1024, Layers: []Layer{fc}}
	data := encode(t, m)
	got, err := Decode(bytes.NewReader(data))
	if err != nil || !reflect.DeepEqual(got, m) {
		t.Fatalf("%d-byte file: %v", len(data), err)
	}
	t.Logf("%d weights in a %d-byte file", in, len(data))

	block := encodeWith(t, m, EncodeOptions{Encoding: EncodingSparse})[30+1+4+8+17:][:6+1+1+4]
	p := &parser{b: block, version: 2, weights: MaxModelWeights - in + 1}
	p.weightBlock(0, in)
	var fe *FormatError
	if !errors.As(p.err, &fe) || !strings.Contains(fe.Msg, "limit") {
		t.Errorf("weights over MaxModelWeights: %v", p.err)
	}
	p = &parser{b: block, version: 2, weights: MaxModelWeights - in}
	if _, w := p.weightBlock(0, in); p.err != nil || len(w) != in {
		t.Errorf("weights at MaxModelWeights: %v", p.err)
	}
}
