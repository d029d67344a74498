package cgen_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/qatgo/qatgo/export/cgen"
	"github.com/qatgo/qatgo/export/cgen/internal/cbuild"
	"github.com/qatgo/qatgo/export/qnet"
	"github.com/qatgo/qatgo/fakequant"
)

// compiler returns the machine's C compiler ($CC, else cc, else gcc). The
// tests that need it skip only where there is none, and fail instead when
// QATGO_REQUIRE_CC=1 (CI).
func compiler(t *testing.T) cbuild.Compiler {
	t.Helper()
	for _, cc := range []string{os.Getenv("CC"), "cc", "gcc"} {
		if cc == "" {
			continue
		}
		if p, err := exec.LookPath(cc); err == nil {
			return cbuild.Compiler{CC: p, Flags: cbuild.Strict}
		}
	}
	if os.Getenv("QATGO_REQUIRE_CC") == "1" {
		t.Fatal("no C compiler ($CC, cc or gcc) on PATH, and QATGO_REQUIRE_CC=1")
	}
	t.Skip("no C compiler ($CC, cc or gcc) on PATH: the generated C is not compiled (set QATGO_REQUIRE_CC=1 to fail instead)")
	return cbuild.Compiler{}
}

// sanitized is c with UBSan and ASan, every report fatal.
func sanitized(c cbuild.Compiler) cbuild.Compiler {
	c.Flags = append(append([]string(nil), c.Flags...), "-fsanitize=undefined,address", "-fno-sanitize-recover=all", "-g")
	return c
}

// check generates m with opt, compiles it with c (tracing every stage),
// runs it on imgs and compares every stage's codes, the output codes and
// the class with the engine.
func check(t *testing.T, c cbuild.Compiler, m *qnet.Model, opt cgen.Options, imgs []byte) *cgen.Report {
	t.Helper()
	files, rep, err := cgen.Generate(m, opt)
	if errors.Is(err, cgen.ErrLayout) {
		opt.Layout = cgen.LayoutAuto // a layer of m does not fit the layout asked for
		files, rep, err = cgen.Generate(m, opt)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := plainC(files.Source); err != nil {
		t.Fatalf("%s.c: %v", files.Name, err)
	}
	dir := t.TempDir()
	exe, err := c.Build(dir, files, true)
	if err != nil {
		t.Fatal(err)
	}
	size := m.InC * m.InH * m.InW
	n := len(imgs) / size
	path := filepath.Join(dir, "images.idx")
	if err := cbuild.WriteIdx(path, imgs, n, m.InH, m.InW*m.InC); err != nil {
		t.Fatal(err)
	}
	res, err := c.Run(exe, path, n, rep.OutputBytes)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if len(r.Trace) != len(rep.Stages) {
			t.Fatalf("image %d: %d stages traced, the code has %d", i, len(r.Trace), len(rep.Stages))
		}
	}
	if err := cbuild.Compare(m, imgs, res); err != nil {
		t.Fatalf("%s (layouts %v, rounding %v): %v", files.Name, layouts(rep), m.Rounding, err)
	}
	return rep
}

var forbidden = regexp.MustCompile(`\b(float|double|malloc|calloc|realloc|free)\b|<math\.h>|<stdlib\.h>`)

// plainC checks the promises of the generated source outside its comments:
// no floating point, no heap, no libm, and no file-scope variable that is
// not const (every top-level static is a const array or a function).
func plainC(src []byte) error {
	code := regexp.MustCompile(`(?s)/\*.*?\*/`).ReplaceAll(src, nil)
	if m := forbidden.Find(code); m != nil {
		return fmt.Errorf("the code uses %q", m)
	}
	for i, line := range strings.Split(string(code), "\n") {
		if strings.HasPrefix(line, "static ") && !strings.HasPrefix(line, "static const ") && !strings.Contains(line, "(") {
			return fmt.Errorf("line %d: file-scope variable: %s", i+1, line)
		}
	}
	return nil
}

func layouts(rep *cgen.Report) []string {
	var ls []string
	for _, s := range rep.Stages {
		ls = append(ls, s.Function+":"+s.Layout)
	}
	return ls
}

// images returns n random images of m plus one all 0 and one all 255.
func images(rng *rand.Rand, m *qnet.Model, n int) []byte {
	size := m.InC * m.InH * m.InW
	b := randImages(rng, n, size)
	b = append(b, make([]byte, size)...)
	for range size {
		b = append(b, 255)
	}
	return b
}

var allLayouts = []cgen.Layout{cgen.LayoutAuto, cgen.LayoutDense, cgen.LayoutSparse,
	cgen.DenseInt8, cgen.DenseInt4, cgen.DenseCodebook4, cgen.SparseDelta8, cgen.SparseTap16}

// TestRandomModels compiles random models (convolutions with strides and
// padding, pools fused or not, fully connected layers; 8-bit, 4-bit and
// mixed 2..8-bit; dense, pruned, pruned and clustered; both rounding
// rules; every weight layout) and checks every stage's codes against the
// engine's.
func TestRandomModels(t *testing.T) {
	c := compiler(t)
	rng := rand.New(rand.NewPCG(17, 3))
	used := map[string]int{}
	rules := map[fakequant.Rounding]int{}
	fused := 0
	for i := range 32 {
		r := fakequant.Rounding(i % 2)
		bits := [][]int{{8}, {4}, {2, 3, 4, 5, 6, 7, 8}}[i/2%3]
		m := randomModel(rng, bits, r)
		m.Name = fmt.Sprintf("random%d", i)
		switch i % 4 {
		case 1:
			pruneShare(rng, m, []float64{rng.Float64(), 0.1, 0.02}, 0)
		case 2:
			pruneShare(rng, m, []float64{rng.Float64(), 0.3, 1}, 12)
		}
		if err := m.Validate(); err != nil {
			t.Fatal(err)
		}
		opt := cgen.Options{Layout: allLayouts[i%len(allLayouts)], NoFuse: i%5 == 4}
		rep := check(t, c, m, opt, images(rng, m, 30))
		for _, s := range rep.Stages {
			used[s.Layout]++
			if len(s.Layers) == 2 {
				fused++
			}
		}
		rules[r]++
	}
	t.Logf("stages per layout %v, fused conv+pool stages %d", used, fused)
	for _, l := range allLayouts[3:] {
		if used[l.String()] < 3 {
			t.Errorf("layout %v used by %d stages, want the random models to cover it", l, used[l.String()])
		}
	}
	if fused < 3 {
		t.Errorf("%d fused conv+pool stages, want the random models to cover them", fused)
	}
}

// TestSanitizers runs random models and a pruned and clustered LeNet-5
// under UBSan and ASan: no undefined behaviour, no out-of-bounds access.
func TestSanitizers(t *testing.T) {
	c := sanitized(compiler(t))
	rng := rand.New(rand.NewPCG(5, 8))
	for i := range 4 {
		m := randomModel(rng, []int{2, 4, 8}, fakequant.Rounding(i%2))
		m.Name = fmt.Sprintf("san%d", i)
		if i%2 == 1 {
			pruneShare(rng, m, []float64{0.5, 0.05}, 10)
		}
		check(t, c, m, cgen.Options{Layout: allLayouts[(2*i+1)%len(allLayouts)]}, images(rng, m, 10))
	}
	m := lenet5(rng, 8, 8, fakequant.RoundSingle)
	pruneShare(rng, m, []float64{0.66, 0.12, 0.08, 0.19}, 16)
	check(t, c, m, cgen.Options{}, images(rng, m, 4))
}

// TestLeNet5Random checks a random dense W4A4 LeNet-5 and a pruned and
// clustered W8A8 one (Deep Compression's kept fractions, 16 values), and
// that the latter's fully connected layers are stored sparse with codebook
// indices and its arena is far below the unfused one.
func TestLeNet5Random(t *testing.T) {
	c := compiler(t)
	rng := rand.New(rand.NewPCG(9, 9))
	m4 := lenet5(rng, 4, 4, fakequant.RoundDouble)
	rep := check(t, c, m4, cgen.Options{}, images(rng, m4, 20))
	if got := rep.Stages[0].Layout; got != cgen.DenseInt4.String() {
		t.Errorf("dense W4A4 conv1 stored as %s, want %v", got, cgen.DenseInt4)
	}
	// Fused: the arena holds the pooled conv outputs, 20x12x12 + 50x4x4 at most.
	if rep.ArenaBytes > 20*12*12+50*4*4 {
		t.Errorf("arena %d bytes, want at most %d with conv+pool fused", rep.ArenaBytes, 20*12*12+50*4*4)
	}
	m := lenet5(rng, 8, 8, fakequant.RoundSingle)
	pruneShare(rng, m, []float64{0.66, 0.12, 0.08, 0.19}, 16)
	rep = check(t, c, m, cgen.Options{}, images(rng, m, 20))
	t.Logf("pruned+clustered LeNet-5: %v, const %d bytes, arena %d", layouts(rep), rep.ConstBytes, rep.ArenaBytes)
	for _, s := range rep.Stages[2:] {
		if !strings.HasPrefix(s.Layout, "sparse") {
			t.Errorf("%s stored as %s, want a sparse layout at %d of %d nonzero", s.Function, s.Layout, s.Nonzero, s.Weights)
		}
	}
	_, unfused, err := cgen.Generate(m, cgen.Options{NoFuse: true})
	if err != nil {
		t.Fatal(err)
	}
	if unfused.ArenaBytes != 20*24*24+20*12*12 || rep.ArenaBytes >= unfused.ArenaBytes {
		t.Errorf("arena fused %d, unfused %d bytes; want unfused 20*24*24+20*12*12 = %d and fused smaller",
			rep.ArenaBytes, unfused.ArenaBytes, 20*24*24+20*12*12)
	}
}

// TestPlainC checks that plainC catches what it is meant to.
func TestPlainC(t *testing.T) {
	for src, ok := range map[string]bool{
		"/* double rounding */\nstatic const int8_t w[1] = {0};\nstatic int f(int x)\n": true,
		"static double x;\n":               false,
		"int f(void) { float y; }\n":       false,
		"static int counter;\n":            false,
		"#include <math.h>\n":              false,
		"void g(void) { malloc(4); }\n":    false,
		"static uint8_t buf[10];\n":        false,
		"/* static int ok; */ int a(void)": true,
	} {
		if err := plainC([]byte(src)); (err == nil) != ok {
			t.Errorf("plainC(%q) = %v, want ok %v", src, err, ok)
		}
	}
}
