package main

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/qatgo/qatgo/report"
)

// cmdReport is `qat report RUN_DIR`: one Markdown page, RUN_DIR/report.md, with the run's
// pictures, results table and integer model summary.
func cmdReport(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("report", stderr)
	var eval report.EvalOptions
	evalFlags(fs, &eval)
	dirs, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(dirs) != 1 {
		return usagef(fs, "report needs exactly one run directory")
	}
	dir := dirs[0]
	all, err := report.Expand(dirs)
	if err != nil {
		return err
	}
	var root *report.Run
	var children []*report.Run
	for _, d := range all {
		r, err := report.Load(d)
		if err != nil {
			return err
		}
		if filepath.Clean(d) == filepath.Clean(dir) {
			root = r
			continue
		}
		p, err := report.Write(r, nil, eval)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s\n", p)
		children = append(children, r)
	}
	if root == nil {
		// A directory of stages only: a page of its own for the frontier and the links.
		root = &report.Run{Dir: dir, Name: filepath.Base(filepath.Clean(dir))}
	}
	p, err := report.Write(root, children, eval)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s\n", p)
	return nil
}
