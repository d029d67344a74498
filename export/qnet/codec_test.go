package qnet

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
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

// testdataModels are the models stored in testdata/, the fuzz seeds.
func testdataModels() map[string]*Model {
	return map[string]*Model{
		"small.qnet":  smallModel(),
		"random.qnet": randomModel(rand.New(rand.NewPCG(2024, 1))),
	}
}

// TestWriteTestdata rewrites testdata/ with -update; without it, it checks
// that the files still decode to the models that produced them and that
// encoding is byte-for-byte stable (the format has not drifted).
func TestWriteTestdata(t *testing.T) {
	for name, m := range testdataModels() {
		path := filepath.Join("testdata", name)
		if *update {
			if err := os.MkdirAll("testdata", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := WriteFile(path, m); err != nil {
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
		if !reflect.DeepEqual(got, m) {
			t.Errorf("%s decodes to a different model than the one that wrote it", name)
		}
		if !bytes.Equal(encode(t, got), data) {
			t.Errorf("%s: re-encoding changes the bytes", name)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	models := []*Model{smallModel()}
	rng := rand.New(rand.NewPCG(15, 16))
	for range 100 {
		models = append(models, randomModel(rng))
	}
	for _, bits := range []int{8, 5, 4, 3, 2} {
		models = append(models, lenet5(rng, bits, 8))
	}
	for i, m := range models {
		data := encode(t, m)
		got, err := Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("model %d: %v", i, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Fatalf("model %d: decoded model differs\n got %+v\nwant %+v", i, got, m)
		}
	}
}

func TestFileSizeLeNet5(t *testing.T) {
	// 431,080 weights: 8 bits -> ~431 KB, 4 bits -> ~216 KB, 2 bits -> ~108 KB.
	rng := rand.New(rand.NewPCG(17, 18))
	for _, bits := range []int{8, 4, 2} {
		m := lenet5(rng, bits, bits)
		data := encode(t, m)
		weights := 20*25 + 50*500 + 500*800 + 10*500
		if lo, hi := weights*bits/8, weights*bits/8+10000; len(data) < lo || len(data) > hi {
			t.Errorf("%d bits: %d bytes, want in [%d, %d]", bits, len(data), lo, hi)
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
		t.Logf("LeNet-5 at %d-bit weights: %d bytes", bits, len(data))
	}
}

func TestSummary(t *testing.T) {
	s := smallModel().Summary()
	want := []LayerSummary{
		{Index: 0, Kind: KindConv2D, OutC: 2, OutH: 4, OutW: 4, Params: 10, MACs: 2 * 4 * 4 * 4, WeightBits: 3, OutBits: 4,
			Bytes: 1 + 4 + 12 + 17 + 6 + 3 + 2*9},
		{Index: 1, Kind: KindMaxPool2D, OutC: 2, OutH: 2, OutW: 2, OutBits: 4, Bytes: 1 + 4 + 4},
		{Index: 2, Kind: KindFullyConnected, OutC: 3, OutH: 1, OutW: 1, Params: 27, MACs: 24, WeightBits: 2, OutBits: 8,
			Bytes: 1 + 4 + 8 + 17 + 6 + 6 + 3*9},
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("Summary:\n got %+v\nwant %+v", s, want)
	}
}

func TestDecodeEveryTruncation(t *testing.T) {
	for name, m := range testdataModels() {
		data := encode(t, m)
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
	data := encode(t, smallModel())
	for i := range len(data) * 8 {
		bad := bytes.Clone(data)
		bad[i/8] ^= 1 << (i % 8)
		_, err := Decode(bytes.NewReader(bad))
		var fe *FormatError
		var ue *UnsupportedError
		switch {
		case err == nil:
			t.Fatalf("flip of bit %d of byte %d: no error", i%8, i/8)
		case errors.As(err, &ue):
			if i/8 < 8 || i/8 >= 12 { // only version and flags are "unsupported"
				t.Errorf("flip in byte %d: %v", i/8, err)
			}
		case !errors.As(err, &fe):
			t.Errorf("flip in byte %d: %T %v, want *FormatError", i/8, err, err)
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
	data := encode(t, m)
	n := len(m.Name)
	layer0 := 30 + n
	conv := layer0 + 5  // Conv2D geometry
	convQ := conv + 12  // quantization block
	convW := convQ + 17 // weight block
	pool := convW + 6 + 3 + 2*9
	fc := pool + 9 + 5 // FullyConnected In
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
		want string
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
		{"conv encoding sparse", put8(convW, 1), unsupported},
		{"conv encoding huffman", put8(convW, 2), unsupported},
		{"conv encoding 255", put8(convW, 255), unsupported},
		{"conv weight bits 0", put8(convW+1, 0), format},
		{"conv weight bits 9", put8(convW+1, 9), format},
		{"conv weight bits 8", put8(convW+1, 8), anyErr},
		{"conv weight count +1", put32(convW+2, 9), format},
		{"conv weight count -1", put32(convW+2, 7), format},
		{"conv weight count max", put32(convW+2, 0xffffffff), format},
		{"conv weight count 0", put32(convW+2, 0), format},
		{"pool K 0", put16(pool+5, 0), invalid},
		{"pool stride max", put16(pool+7, 0xffff), invalid},
		{"fc In max", put32(fc, 0xffffffff), format},
		{"fc Out max", put32(fc+4, 0xffffffff), format},
		{"fc Out +1", put32(fc+4, 4), format},
		{"scale without flag", put16(10, 0), format},
		{"unknown flag", put16(10, 3), unsupported},
		{"version 2", put16(8, 2), unsupported},
		{"version 0", put16(8, 0), unsupported},
	} {
		bad := bytes.Clone(data)
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
	// Not a model at all.
	for _, in := range []string{"", "QATGO", "PK\x03\x04 not a model", "QATGOINX" + string(data[8:])} {
		_, err := Decode(strings.NewReader(in))
		if !errors.As(err, &fe) {
			t.Errorf("Decode(%.12q): %v, want *FormatError", in, err)
		}
	}
}

// TestDecodeRandomCorruption mutates random bytes of valid files and fixes the
// checksum. Decode must not panic; whatever it accepts must be valid and run.
func TestDecodeRandomCorruption(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	accepted := 0
	for i := range 3000 {
		m := smallModel()
		if i%2 == 1 {
			m = randomModel(rng)
		}
		data := encode(t, m)
		for range 1 + rng.IntN(3) {
			data[12+rng.IntN(len(data)-16)] = byte(rng.UintN(256))
		}
		got, err := Decode(bytes.NewReader(withCRC(data)))
		if err != nil {
			continue
		}
		accepted++
		r := got.NewRunner()
		r.Predict(make([]uint8, got.InC*got.InH*got.InW))
	}
	t.Logf("%d of 3000 corrupted files were still valid models", accepted)
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
	// Whatever decodes re-encodes to the same bytes and runs.
	if again := encode(t, m); !bytes.Equal(again, data) {
		t.Fatalf("re-encoding a decoded file changes it")
	}
	macs := 0
	for _, s := range m.Summary() {
		macs += s.MACs + s.OutC*s.OutH*s.OutW
	}
	if macs <= 1<<18 {
		m.NewRunner().Predict(make([]uint8, m.InC*m.InH*m.InW))
	}
}
