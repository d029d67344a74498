package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// gzipIdx writes an images file whose header declares n images of rows x cols, followed by
// pixels zero bytes (compressed: a zero run costs about 1/1000 of its size).
func gzipIdx(t *testing.T, path string, n, rows, cols uint32, pixels int) {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	hdr := make([]byte, 16)
	binary.BigEndian.PutUint32(hdr, ImagesMagic)
	binary.BigEndian.PutUint32(hdr[4:], n)
	binary.BigEndian.PutUint32(hdr[8:], rows)
	binary.BigEndian.PutUint32(hdr[12:], cols)
	zw.Write(hdr)
	zero := make([]byte, 1<<20)
	for pixels > 0 {
		k := min(pixels, len(zero))
		zw.Write(zero[:k])
		pixels -= k
	}
	zw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestGzipBombRefusedBeforeAllocation: a small gzip file whose header declares far more pixels
// than it holds (or more than the limit) is refused, allocating little; the declared count is
// checked against the decompressed size before the pixels are allocated.
func TestGzipBombRefusedBeforeAllocation(t *testing.T) {
	dir := t.TempDir()
	labels := filepath.Join(dir, "labels")
	var lb bytes.Buffer
	if err := WriteLabels(&lb, make([]uint8, 64)); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(labels, lb.Bytes(), 0o644)
	for _, c := range []struct {
		name             string
		n, rows, cols    uint32
		pixels           int
		want             string
		maxAlloc, maxGzB int
	}{
		// The case: 64 images of 4096x4096 in about 1 MB of gzip.
		{"4096x4096", 64, 4096, 4096, 64 << 20, "out of range", 4 << 20, 1 << 20},
		// Within the shape limits but declaring 64 MiB with 8 MiB present.
		{"short", 64, 1024, 1024, 8 << 20, "the stream has", 4 << 20, 1 << 20},
		// Over the per-file limit of the decompressed stream (MaxImageBytes plus the largest
		// header, idx4's 20 bytes).
		{"long", 100, 28, 28, MaxImageBytes + 5, "decompresses to more than", 4 << 20, 1 << 20},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.name+".gz")
			gzipIdx(t, path, c.n, c.rows, c.cols, c.pixels)
			if st, _ := os.Stat(path); st.Size() > int64(c.maxGzB) {
				t.Fatalf("test file has %d bytes of gzip", st.Size())
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := LoadSet(path, labels)
			runtime.ReadMemStats(&after)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("LoadSet: %v, want an error containing %q", err, c.want)
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > uint64(c.maxAlloc) {
				t.Errorf("allocated %d bytes before refusing", got)
			}
		})
	}
}

// TestPlainFileSizeChecked: a plain file shorter than its header declares is refused before
// the pixels are allocated.
func TestPlainFileSizeChecked(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "images")
	in := idx(ImagesMagic, []uint32{100, 1024, 1024}, seq(1000))
	os.WriteFile(path, in, 0o644)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := LoadSet(path, path)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "the stream has 1000") {
		t.Fatalf("LoadSet: %v", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 1<<20 {
		t.Errorf("allocated %d bytes before refusing", got)
	}
}

// TestLoadTestOnly: LoadTest needs and reads only the two test files.
func TestLoadTestOnly(t *testing.T) {
	_, test := loadReal(t)
	te := test.Subset(50)
	dir := t.TempDir()
	writeSet(t, dir, setFiles[2], setFiles[3], te, true)
	got, err := LoadTest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !sameSet(got, te) {
		t.Error("LoadTest returned another set")
	}
	if _, _, err := Load(dir); err == nil {
		t.Error("Load without training files: no error (the test would not show LoadTest skips them)")
	}
	if _, err := LoadTrain(dir); err == nil {
		t.Error("LoadTrain without training files: no error")
	}
}
