package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
)

// idx builds an idx stream: a magic, big-endian uint32 dimensions, then payload.
func idx(magic uint32, dims []uint32, payload []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, magic)
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, d)
	}
	return append(b, payload...)
}

func seq(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return b
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestReadImagesValid(t *testing.T) {
	pix := seq(3 * 2 * 5)
	in := idx(ImagesMagic, []uint32{3, 2, 5}, pix)
	r := bytes.NewReader(append(in, 0xAA)) // one byte after the declared data
	imgs, n, rows, cols, err := ReadImages(r)
	if err != nil || n != 3 || rows != 2 || cols != 5 || !bytes.Equal(imgs, pix) {
		t.Fatalf("ReadImages = %v, %d, %d, %d, %v", imgs, n, rows, cols, err)
	}
	if r.Len() != 1 {
		t.Errorf("ReadImages left %d bytes unread, want exactly the trailing 1", r.Len())
	}
	var buf bytes.Buffer
	if err := WriteImages(&buf, imgs, n, rows, cols); err != nil || !bytes.Equal(buf.Bytes(), in) {
		t.Errorf("WriteImages did not reproduce the input: %v", err)
	}
}

// An idx4 stream (N x C x H x W) round-trips through ReadImagesCHW and WriteImagesCHW, an idx3
// stream reads as one channel, and ReadImages (idx3 only) refuses idx4 naming both formats.
func TestReadImagesCHW(t *testing.T) {
	pix := seq(2 * 3 * 4 * 5)
	in := idx(Images4Magic, []uint32{2, 3, 4, 5}, pix)
	r := bytes.NewReader(append(in, 0xAA))
	imgs, n, c, rows, cols, err := ReadImagesCHW(r)
	if err != nil || n != 2 || c != 3 || rows != 4 || cols != 5 || !bytes.Equal(imgs, pix) {
		t.Fatalf("ReadImagesCHW = %d pixels, %dx%dx%dx%d, %v", len(imgs), n, c, rows, cols, err)
	}
	if r.Len() != 1 {
		t.Errorf("ReadImagesCHW left %d bytes unread, want exactly the trailing 1", r.Len())
	}
	var buf bytes.Buffer
	if err := WriteImagesCHW(&buf, imgs, n, c, rows, cols); err != nil || !bytes.Equal(buf.Bytes(), in) {
		t.Errorf("WriteImagesCHW did not reproduce the input: %v", err)
	}
	_, n, c, rows, cols, err = ReadImagesCHW(bytes.NewReader(idx(ImagesMagic, []uint32{3, 2, 5}, seq(30))))
	if err != nil || n != 3 || c != 1 || rows != 2 || cols != 5 {
		t.Errorf("ReadImagesCHW of idx3: %dx%dx%dx%d, %v", n, c, rows, cols, err)
	}
	_, _, _, _, err = ReadImages(bytes.NewReader(in))
	checkErr(t, err, "magic 0x00000804 is images (idx4-ubyte), want images (idx3-ubyte)", false)
}

func TestReadImagesCHWErrors(t *testing.T) {
	for _, c := range []struct {
		name      string
		in        []byte
		want      string
		truncated bool
	}{
		{"short idx4 header", idx(Images4Magic, []uint32{1, 3, 2}, nil), "truncated header: want 20 bytes, got 16", true},
		{"labels magic", idx(LabelsMagic, []uint32{1, 1, 2, 2}, seq(4)), "want images (idx3-ubyte) (0x00000803) or images (idx4-ubyte)", false},
		{"zero channels", idx(Images4Magic, []uint32{1, 0, 2, 2}, nil), "channel count 0", false},
		{"too many channels", idx(Images4Magic, []uint32{1, MaxChannels + 1, 2, 2}, nil), "channel count 4097", false},
		{"zero rows", idx(Images4Magic, []uint32{1, 3, 0, 2}, nil), "image size 0x2", false},
		{"product too big", idx(Images4Magic, []uint32{MaxCount, MaxChannels, MaxDim, MaxDim}, nil), "exceeds the limit", false},
		{"truncated pixels", idx(Images4Magic, []uint32{2, 3, 2, 2}, seq(23)), "2 images of 3x2x2 = 24 bytes, stream has 23", true},
		{"large header, little data", idx(Images4Magic, []uint32{40000, 3, 32, 32}, seq(5000)), "stream has 5000", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			imgs, _, _, _, _, err := ReadImagesCHW(bytes.NewReader(c.in))
			checkErr(t, err, c.want, c.truncated)
			if imgs != nil {
				t.Errorf("got %d pixels with the error", len(imgs))
			}
		})
	}
}

func TestReadLabelsValid(t *testing.T) {
	// Any byte is a label: the class count comes from the data.
	if labels, err := ReadLabels(bytes.NewReader(idx(LabelsMagic, []uint32{3}, []byte{1, 10, 255}))); err != nil || !bytes.Equal(labels, []byte{1, 10, 255}) {
		t.Errorf("labels 1, 10, 255: %v, %v", labels, err)
	}
	in := idx(LabelsMagic, []uint32{10}, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	labels, err := ReadLabels(bytes.NewReader(in))
	if err != nil || !bytes.Equal(labels, in[8:]) {
		t.Fatalf("ReadLabels = %v, %v", labels, err)
	}
	var buf bytes.Buffer
	if err := WriteLabels(&buf, labels); err != nil || !bytes.Equal(buf.Bytes(), in) {
		t.Errorf("WriteLabels did not reproduce the input: %v", err)
	}
}

func TestReadImagesErrors(t *testing.T) {
	for _, c := range []struct {
		name      string
		in        []byte
		want      string // in the message
		truncated bool   // wraps io.ErrUnexpectedEOF
	}{
		{"empty", nil, "truncated header", true},
		{"short header", idx(ImagesMagic, []uint32{1, 28}, nil), "truncated header: want 16 bytes, got 12", true},
		{"bad magic", idx(0x12345678, []uint32{1, 2, 2}, seq(4)), "bad magic 0x12345678", false},
		{"labels magic", idx(LabelsMagic, []uint32{1, 2, 2}, seq(4)), "is labels", false},
		{"idx2 magic", idx(0x00000802, []uint32{1, 2, 2}, seq(4)), "bad magic", false},
		{"gzip", gz(idx(ImagesMagic, []uint32{1, 2, 2}, seq(4))), "gzip-compressed", false},
		{"zero images", idx(ImagesMagic, []uint32{0, 2, 2}, nil), "image count 0", false},
		{"zero rows", idx(ImagesMagic, []uint32{1, 0, 2}, nil), "image size 0x2", false},
		{"zero cols", idx(ImagesMagic, []uint32{1, 2, 0}, nil), "image size 2x0", false},
		{"rows too big", idx(ImagesMagic, []uint32{1, MaxDim + 1, 1}, nil), "out of range", false},
		{"cols too big", idx(ImagesMagic, []uint32{1, 1, 1 << 31}, nil), "out of range", false},
		{"count too big", idx(ImagesMagic, []uint32{MaxCount + 1, 1, 1}, nil), "image count", false},
		{"count max uint32", idx(ImagesMagic, []uint32{0xffffffff, 28, 28}, nil), "image count", false},
		{"product too big", idx(ImagesMagic, []uint32{MaxCount, MaxDim, MaxDim}, nil), "exceeds the limit", false},
		{"no pixels", idx(ImagesMagic, []uint32{2, 2, 2}, nil), "stream has 0", true},
		{"truncated pixels", idx(ImagesMagic, []uint32{2, 2, 2}, seq(7)), "= 8 bytes, stream has 7", true},
		{"large header, little data", idx(ImagesMagic, []uint32{60000, 28, 28}, seq(5000)), "stream has 5000", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			imgs, _, _, _, err := ReadImages(bytes.NewReader(c.in))
			checkErr(t, err, c.want, c.truncated)
			if imgs != nil {
				t.Errorf("got %d pixels with the error", len(imgs))
			}
		})
	}
}

func TestReadLabelsErrors(t *testing.T) {
	for _, c := range []struct {
		name      string
		in        []byte
		want      string
		truncated bool
	}{
		{"empty", nil, "truncated header", true},
		{"short header", []byte{0, 0, 8, 1, 0}, "want 8 bytes, got 5", true},
		{"bad magic", idx(0xdeadbeef, []uint32{1}, []byte{1}), "bad magic 0xdeadbeef", false},
		{"images magic", idx(ImagesMagic, []uint32{1}, []byte{1}), "is images", false},
		{"gzip", gz(idx(LabelsMagic, []uint32{1}, []byte{1})), "gzip-compressed", false},
		{"zero labels", idx(LabelsMagic, []uint32{0}, nil), "label count 0", false},
		{"count too big", idx(LabelsMagic, []uint32{MaxCount + 1}, nil), "label count", false},
		{"truncated", idx(LabelsMagic, []uint32{5}, []byte{1, 2, 3}), "declares 5 labels, stream has 3", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			labels, err := ReadLabels(bytes.NewReader(c.in))
			checkErr(t, err, c.want, c.truncated)
			if labels != nil {
				t.Errorf("got %d labels with the error", len(labels))
			}
		})
	}
}

func checkErr(t *testing.T, err error, want string, truncated bool) {
	t.Helper()
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v, want a *FormatError", err)
	}
	if !strings.HasPrefix(err.Error(), "data: ") || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %q, want it to contain %q", err, want)
	}
	if got := errors.Is(err, io.ErrUnexpectedEOF); got != truncated {
		t.Errorf("errors.Is(err, io.ErrUnexpectedEOF) = %v, want %v (err %v)", got, truncated, err)
	}
}

// TestReadImagesDoesNotTrustHeader: a header promising 125 MB (just under MaxImageBytes)
// followed by a few bytes must not allocate anywhere near the promise.
func TestReadImagesDoesNotTrustHeader(t *testing.T) {
	in := idx(ImagesMagic, []uint32{MaxImageBytes / (32 * 32), 32, 32}, seq(3<<20))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, _, _, err := ReadImages(bytes.NewReader(in))
	runtime.ReadMemStats(&after)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
		t.Errorf("allocated %d bytes for 3 MiB of data", alloc)
	}

	in = idx(LabelsMagic, []uint32{MaxCount}, []byte{1, 2, 3})
	runtime.ReadMemStats(&before)
	_, err = ReadLabels(bytes.NewReader(in))
	runtime.ReadMemStats(&after)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Errorf("allocated %d bytes for 3 bytes of data", alloc)
	}
}

// TestReadBoundedChunks reads payloads around the chunk boundaries through a reader that
// returns one odd-sized piece at a time.
func TestReadBoundedChunks(t *testing.T) {
	for _, n := range []int{1, readChunk - 1, readChunk, readChunk + 1, 3*readChunk + 17} {
		src := seq(n)
		got, err := readBounded(&dribble{r: bytes.NewReader(src), max: 4093}, n)
		if err != nil || !bytes.Equal(got, src) || cap(got) != n {
			t.Errorf("n=%d: err %v, equal %v, cap %d", n, err, bytes.Equal(got, src), cap(got))
		}
		got, err = readBounded(bytes.NewReader(src[:n-1]), n)
		if !errors.Is(err, io.ErrUnexpectedEOF) || len(got) != n-1 {
			t.Errorf("n=%d short: err %v, got %d bytes", n, err, len(got))
		}
	}
}

// dribble returns at most max bytes per Read.
type dribble struct {
	r   io.Reader
	max int
}

func (d *dribble) Read(p []byte) (int, error) { return d.r.Read(p[:min(len(p), d.max)]) }

func TestWriteErrors(t *testing.T) {
	var buf bytes.Buffer
	for _, c := range []struct {
		name string
		err  error
	}{
		{"images zero n", WriteImages(&buf, nil, 0, 1, 1)},
		{"images wrong length", WriteImages(&buf, seq(5), 1, 2, 2)},
		{"images rows too big", WriteImages(&buf, seq(MaxDim+1), 1, MaxDim+1, 1)},
		{"labels empty", WriteLabels(&buf, nil)},
		{"idx4 zero channels", WriteImagesCHW(&buf, nil, 1, 0, 1, 1)},
		{"idx4 wrong length", WriteImagesCHW(&buf, seq(11), 1, 3, 2, 2)},
		{"idx4 too many channels", WriteImagesCHW(&buf, seq(MaxChannels+1), 1, MaxChannels+1, 1, 1)},
		{"idx4 over the limit", WriteImagesCHW(&buf, make([]byte, MaxImageBytes+4), 1, 4, 1<<10, 1<<13+1)},
	} {
		if c.err == nil {
			t.Errorf("%s: no error", c.name)
		}
	}
	if buf.Len() != 0 {
		t.Errorf("failed writes wrote %d bytes", buf.Len())
	}
}

func FuzzReadImages(f *testing.F) {
	f.Add(idx(ImagesMagic, []uint32{3, 2, 5}, seq(30)))
	f.Add(idx(ImagesMagic, []uint32{1, 1, 1}, []byte{255}))
	f.Add(idx(ImagesMagic, []uint32{2, 2, 2}, seq(7)))
	f.Add(idx(ImagesMagic, []uint32{0, 2, 2}, nil))
	f.Add(idx(ImagesMagic, []uint32{MaxCount, MaxDim, MaxDim}, nil))
	f.Add(idx(LabelsMagic, []uint32{1, 2, 2}, seq(4)))
	f.Add(gz(idx(ImagesMagic, []uint32{1, 2, 2}, seq(4))))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		imgs, n, rows, cols, err := ReadImages(bytes.NewReader(in))
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *FormatError", err)
			}
			return
		}
		if n < 1 || n > MaxCount || rows < 1 || rows > MaxDim || cols < 1 || cols > MaxDim || len(imgs) != n*rows*cols {
			t.Fatalf("accepted shape %dx%dx%d with %d pixels", n, rows, cols, len(imgs))
		}
		var buf bytes.Buffer
		if err := WriteImages(&buf, imgs, n, rows, cols); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), in[:buf.Len()]) {
			t.Fatal("WriteImages does not reproduce the accepted prefix of the input")
		}
	})
}

func FuzzReadLabels(f *testing.F) {
	f.Add(idx(LabelsMagic, []uint32{10}, []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}))
	f.Add(idx(LabelsMagic, []uint32{1}, []byte{9}))
	f.Add(idx(LabelsMagic, []uint32{3}, []byte{1, 10, 3}))
	f.Add(idx(LabelsMagic, []uint32{5}, []byte{1, 2}))
	f.Add(idx(LabelsMagic, []uint32{0xffffffff}, nil))
	f.Add(idx(ImagesMagic, []uint32{1}, []byte{1}))
	f.Add(gz(idx(LabelsMagic, []uint32{1}, []byte{1})))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		labels, err := ReadLabels(bytes.NewReader(in))
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *FormatError", err)
			}
			return
		}
		if len(labels) < 1 || len(labels) > MaxCount {
			t.Fatalf("accepted %d labels", len(labels))
		}
		var buf bytes.Buffer
		if err := WriteLabels(&buf, labels); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), in[:buf.Len()]) {
			t.Fatal("WriteLabels does not reproduce the accepted prefix of the input")
		}
	})
}
