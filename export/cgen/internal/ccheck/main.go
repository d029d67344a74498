package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/export/cgen"
	"github.com/qatgo/qatgo/export/cgen/internal/cbuild"
	"github.com/qatgo/qatgo/export/qnet"
)

func main() {
	model := flag.String("model", "", "integer model file (.qat)")
	cc := flag.String("cc", "cc", "C compiler")
	flags := flag.String("flags", strings.Join(cbuild.Strict, " "), "compiler flags (space separated)")
	execPrefix := flag.String("exec", "", "runner of the built binary, e.g. qemu-arm (space separated)")
	n := flag.Int("n", 10000, "test images (at most 10,000)")
	dataDir := flag.String("data", "", "MNIST idx directory (default: the embedded copy)")
	layout := flag.String("layout", "auto", "weight layout (see cgen.ParseLayout)")
	flag.Parse()
	if err := run(*model, *cc, *flags, *execPrefix, *dataDir, *layout, *n); err != nil {
		fmt.Fprintf(os.Stderr, "ccheck: %v\n", err)
		os.Exit(1)
	}
}

func run(model, cc, flags, execPrefix, dataDir, layoutName string, n int) error {
	if model == "" {
		return fmt.Errorf("needs --model FILE.qat")
	}
	m, err := qnet.ReadFile(model)
	if err != nil {
		return err
	}
	layout, err := cgen.ParseLayout(layoutName)
	if err != nil {
		return err
	}
	_, test, err := data.Load(dataDir)
	if err != nil {
		return err
	}
	if n < 1 || n > test.N {
		return fmt.Errorf("--n %d outside [1, %d]", n, test.N)
	}
	if m.InC*m.InH*m.InW != test.Rows*test.Cols {
		return fmt.Errorf("model input %dx%dx%d is not an MNIST image", m.InC, m.InH, m.InW)
	}
	files, rep, err := cgen.Generate(m, cgen.Options{Layout: layout})
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "ccheck")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	c := cbuild.Compiler{CC: cc, Flags: strings.Fields(flags), Exec: strings.Fields(execPrefix)}
	exe, err := c.Build(dir, files, false)
	if err != nil {
		return err
	}
	imgs := test.Subset(n).Images
	path := filepath.Join(dir, "t10k-images-idx3-ubyte")
	if err := cbuild.WriteIdx(path, imgs, n, test.Rows, test.Cols); err != nil {
		return err
	}
	start := time.Now()
	res, err := c.Run(exe, path, n, rep.OutputBytes)
	if err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	if err := cbuild.Compare(m, imgs, res); err != nil {
		return err
	}
	right := 0
	for i, r := range res {
		if r.Class == int(test.Labels[i]) {
			right++
		}
	}
	fmt.Printf("%s: %s %s%s: %d images, every output code and class equal to the engine's; accuracy %.2f%% (%.1f s)\n",
		model, cc, flags, map[bool]string{true: " via " + execPrefix, false: ""}[execPrefix != ""], n, 100*float64(right)/float64(n), secs)
	return nil
}
