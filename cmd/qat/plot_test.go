package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// train draws its pictures unless --plot=false; qat plot and qat report work on the runs.
func TestPlotAndReport(t *testing.T) {
	on, off := t.TempDir(), t.TempDir()
	for _, c := range []struct {
		dir  string
		flag string
	}{{on, "--plot=true"}, {off, "--plot=false"}} {
		var out, errb bytes.Buffer
		args := []string{"train", "--epochs", "1", "--train-limit", "640", "--test-limit", "200", "--out", c.dir, "--quiet", c.flag}
		if err := run(args, &out, &errb); err != nil {
			t.Fatal(err, errb.String())
		}
		_, err := os.Stat(filepath.Join(c.dir, "plots", "training.png"))
		if (err == nil) != (c.dir == on) {
			t.Errorf("%s: training.png exists: %v", c.flag, err == nil)
		}
	}
	var out, errb bytes.Buffer
	if err := run([]string{"plot", off, on, "--out", t.TempDir()}, &out, &errb); err != nil {
		t.Fatal(err, errb.String())
	}
	for _, name := range []string{"training", "ranges", "weights"} {
		for _, ext := range []string{".png", ".svg"} {
			if _, err := os.Stat(filepath.Join(off, "plots", name+ext)); err != nil {
				t.Errorf("qat plot: %v", err)
			}
		}
	}
	if !strings.Contains(out.String(), "no .qat file") {
		t.Errorf("qat plot does not say why the runs are not on the frontier:\n%s", out.String())
	}
	// Several runs without --out: no frontier written anywhere, and the output says why.
	out.Reset()
	wd, _ := os.Getwd()
	if err := run([]string{"plot", off, on}, &out, &errb); err != nil {
		t.Fatal(err, errb.String())
	}
	if _, err := os.Stat(filepath.Join(wd, "plots")); err == nil || !strings.Contains(out.String(), "give --out DIR") {
		t.Errorf("several runs without --out: ./plots exists %v; output:\n%s", err == nil, out.String())
	}
	out.Reset()
	if err := run([]string{"report", on}, &out, &errb); err != nil {
		t.Fatal(err, errb.String())
	}
	b, err := os.ReadFile(filepath.Join(on, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "![training](plots/training.png)") || !strings.Contains(string(b), "| test accuracy (last evaluation) |") {
		t.Errorf("report.md:\n%s", b)
	}
}

func TestPlotUsageErrors(t *testing.T) {
	empty := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"plot"}, "at least one run directory"},
		{[]string{"plot", empty}, "not a run directory"},
		{[]string{"plot", filepath.Join(empty, "nope")}, "no such run directory"},
		{[]string{"report"}, "one run directory"},
		{[]string{"report", empty, empty}, "one run directory"},
	} {
		var out, errb bytes.Buffer
		err := run(c.args, &out, &errb)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("qat %v: error %v, want %q", c.args, err, c.want)
		}
	}
}
