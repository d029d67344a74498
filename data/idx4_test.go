package data

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeCHWSet writes images (idx4 when c > 1, else idx3) and labels under the standard names of
// split ("train" or "t10k") in dir.
func writeCHWSet(t *testing.T, dir, split string, imgs []uint8, labels []uint8, n, c, h, w int) {
	t.Helper()
	var ib, lb bytes.Buffer
	var err error
	if c > 1 {
		err = WriteImagesCHW(&ib, imgs, n, c, h, w)
	} else {
		err = WriteImages(&ib, imgs, n, h, w)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteLabels(&lb, labels); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, split+"-images-idx3-ubyte"), ib.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, split+"-labels-idx1-ubyte"), lb.Bytes(), 0o644)
}

// Load reads idx4 images (any C x H x W) and labels of any class count: the set's Channels
// come from the images, its Classes from the largest label of both sets plus one.
func TestLoadIdx4AnyClasses(t *testing.T) {
	dir := t.TempDir()
	const c, h, w = 3, 4, 5
	writeCHWSet(t, dir, "train", seq(6*c*h*w), []uint8{0, 1, 2, 3, 4, 0}, 6, c, h, w)
	writeCHWSet(t, dir, "t10k", seq(2*c*h*w), []uint8{6, 1}, 2, c, h, w)
	tr, te, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Set{tr, te} {
		if s.ChannelCount() != c || s.Rows != h || s.Cols != w || s.ClassCount() != 7 {
			t.Errorf("set of %d: %dx%dx%d, %d classes; want %dx%dx%d, 7", s.N, s.ChannelCount(), s.Rows, s.Cols, s.ClassCount(), c, h, w)
		}
	}
	if !bytes.Equal(tr.Image(1), seq(6 * c * h * w)[c*h*w:2*c*h*w]) {
		t.Error("image 1 is not the second CHW block of the file")
	}
	// LoadTest alone counts the test labels only.
	if te, err := LoadTest(dir); err != nil || te.ClassCount() != 7 {
		t.Errorf("LoadTest: %v", err)
	}
	// Training and test images of different channel counts are refused, naming both shapes.
	writeCHWSet(t, dir, "t10k", seq(2*h*w), []uint8{0, 1}, 2, 1, h, w)
	if _, _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "training images are 3x4x5 but test images") || !strings.Contains(err.Error(), "are 1x4x5") {
		t.Errorf("mismatched channels: %v", err)
	}
	// A truncated idx4 file is a *FormatError wrapping io.ErrUnexpectedEOF.
	var ib bytes.Buffer
	WriteImagesCHW(&ib, seq(2*c*h*w), 2, c, h, w)
	os.WriteFile(filepath.Join(dir, "t10k-images-idx3-ubyte"), ib.Bytes()[:ib.Len()-7], 0o644)
	_, err = LoadTest(dir)
	var fe *FormatError
	if !errors.As(err, &fe) || !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), "truncated pixel data") {
		t.Errorf("truncated idx4: %v", err)
	}
}

func FuzzReadImagesCHW(f *testing.F) {
	f.Add(idx(Images4Magic, []uint32{2, 3, 2, 2}, seq(24)))
	f.Add(idx(Images4Magic, []uint32{1, 1, 1, 1}, []byte{255}))
	f.Add(idx(Images4Magic, []uint32{2, 3, 2, 2}, seq(23)))
	f.Add(idx(Images4Magic, []uint32{MaxCount, MaxChannels, MaxDim, MaxDim}, nil))
	f.Add(idx(ImagesMagic, []uint32{3, 2, 5}, seq(30)))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		imgs, n, c, rows, cols, err := ReadImagesCHW(bytes.NewReader(in))
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *FormatError", err)
			}
			return
		}
		if n < 1 || c < 1 || c > MaxChannels || rows < 1 || rows > MaxDim || cols < 1 || cols > MaxDim || len(imgs) != n*c*rows*cols {
			t.Fatalf("accepted shape %dx%dx%dx%d with %d pixels", n, c, rows, cols, len(imgs))
		}
		var buf bytes.Buffer
		if in[3] == 3 {
			err = WriteImages(&buf, imgs, n, rows, cols)
		} else {
			err = WriteImagesCHW(&buf, imgs, n, c, rows, cols)
		}
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), in[:buf.Len()]) {
			t.Fatal("writing does not reproduce the accepted prefix of the input")
		}
	})
}
