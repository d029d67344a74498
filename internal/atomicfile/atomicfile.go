package atomicfile

import (
	"io"
	"os"
	"path/filepath"
	"strings"
)

// tempPrefix is the name prefix of path's temporary files (digits follow).
func tempPrefix(base string) string { return "." + base + ".tmp" }

// StaleTemps lists the temporary files of path left in its directory by writes that did not
// finish: the names "." + base + ".tmp" followed by one or more digits.
func StaleTemps(path string) []string {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	prefix := tempPrefix(base)
	var out []string
	for _, e := range ents {
		name := e.Name()
		rest, ok := strings.CutPrefix(name, prefix)
		if !ok || rest == "" || strings.Trim(rest, "0123456789") != "" || !e.Type().IsRegular() {
			continue
		}
		out = append(out, filepath.Join(dir, name))
	}
	return out
}

// WriteFile writes path through write, atomically (see the package documentation), with mode
// 0644. Stale temporary files of path are removed first.
func WriteFile(path string, write func(io.Writer) error) (err error) {
	for _, s := range StaleTemps(path) {
		os.Remove(s)
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, tempPrefix(base)+"*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = write(f); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	// Make the rename itself durable; not all systems can sync a directory.
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// WriteBytes writes b to path atomically (see WriteFile).
func WriteBytes(path string, b []byte) error {
	return WriteFile(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}
