package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// --rounding: an unknown rule is a one-line error; compress sets both stages' rule from the flag
// and otherwise keeps the default (single) or the --config file's.
func TestRoundingFlag(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	err := run([]string{"train", "--rounding", "nearest", "--out", dir}, &out, &errb)
	if err == nil || !strings.Contains(err.Error(), `rounding "nearest"`) || strings.Contains(err.Error(), "\n") {
		t.Errorf("--rounding nearest: %v", err)
	}
	rules := func(args ...string) [2]string {
		t.Helper()
		var out, errb bytes.Buffer
		if err := run(append([]string{"compress", "--print-config"}, args...), &out, &errb); err != nil {
			t.Fatal(err, errb.String())
		}
		var m struct {
			Prune struct {
				Train struct {
					Quant struct {
						Rounding string `json:"rounding"`
					} `json:"quant"`
				} `json:"train"`
			} `json:"prune"`
			Cluster struct {
				Train struct {
					Quant struct {
						Rounding string `json:"rounding"`
					} `json:"quant"`
				} `json:"train"`
			} `json:"cluster"`
		}
		if err := json.Unmarshal(out.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		return [2]string{m.Prune.Train.Quant.Rounding, m.Cluster.Train.Quant.Rounding}
	}
	if got := rules(); got != [2]string{"single", "single"} {
		t.Errorf("default: %v", got)
	}
	if got := rules("--rounding", "double"); got != [2]string{"double", "double"} {
		t.Errorf("--rounding double: %v", got)
	}
	file := filepath.Join(dir, "c.json")
	if err := os.WriteFile(file, []byte(`{"cluster": {"train": {"quant": {"rounding": "double"}}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := rules("--config", file); got != [2]string{"single", "double"} {
		t.Errorf("--config with the cluster stage's rule: %v", got)
	}
}
