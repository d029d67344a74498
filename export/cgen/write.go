package cgen

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/qatgo/qatgo/export/qnet"
)

// WriteFiles generates the C code of m and writes <name>.h and <name>.c into
// dir (created if missing), each atomically (qnet.WriteAtomic: a crash
// leaves the old file or the new one, never a mix). It returns the paths
// written and the report.
func WriteFiles(dir string, m *qnet.Model, opt Options) (paths []string, rep *Report, err error) {
	f, rep, err := Generate(m, opt)
	if err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	for _, file := range []struct {
		ext  string
		data []byte
	}{{".h", f.Header}, {".c", f.Source}} {
		path := filepath.Join(dir, f.Name+file.ext)
		if err := qnet.WriteAtomic(path, func(w io.Writer) error {
			_, err := w.Write(file.data)
			return err
		}); err != nil {
			return nil, nil, fmt.Errorf("writing %s: %w", path, err)
		}
		paths = append(paths, path)
	}
	return paths, rep, nil
}
