package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runJSON runs a command with --json among args and returns its JSON object, which must be all
// of stdout, and the human-readable lines, which must all be on stderr.
func runJSON(t *testing.T, args ...string) (map[string]any, string) {
	t.Helper()
	var out, errb bytes.Buffer
	if err := run(args, &out, &errb); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, errb.String())
	}
	var res map[string]any
	dec := json.NewDecoder(&out)
	if err := dec.Decode(&res); err != nil {
		t.Fatalf("%v: stdout is not a JSON object: %v\n%s", args, err, out.String())
	}
	if dec.More() {
		t.Fatalf("%v: stdout holds more than one JSON object", args)
	}
	return res, errb.String()
}

// prune -> sensitivity -> cluster -> export through the commands, then the whole pipeline from
// a --config file, on a small subset.
func TestPruneClusterCompressCommands(t *testing.T) {
	dir := t.TempDir()
	small := []string{"--train-limit", "640", "--test-limit", "200", "--quiet", "--json"}
	runJSON(t, append([]string{"train", "--mode", "float", "--epochs", "1", "--out", filepath.Join(dir, "float")}, small...)...)

	res, out := runJSON(t, append([]string{"prune", "--from", filepath.Join(dir, "float"), "--target", "0.9", "--cycles", "2", "--retrain-epochs", "1", "--quant-delay", "5", "--out", filepath.Join(dir, "pruned")}, small...)...)
	if s := res["sparsity"].(float64); s < 0.899 || s > 0.901 {
		t.Errorf("prune sparsity %v, want 0.90", s)
	}
	if _, ok := res["test_accuracy"]; !ok {
		t.Errorf("prune JSON lacks test_accuracy: %v", res)
	}
	if !strings.Contains(out, "Han et al.") || !strings.Contains(out, "cycle") {
		t.Errorf("prune output lacks the per-cycle table:\n%s", out)
	}

	res, out = runJSON(t, "sensitivity", "--from", filepath.Join(dir, "pruned"), "--sparsities", "0.5,0.95", "--test-limit", "100", "--quiet", "--json")
	if rows := res["layers"].([]any); len(rows) != 4 {
		t.Errorf("sensitivity: %d rows, want 4", len(rows))
	}
	if !strings.Contains(out, "--layer-target") {
		t.Errorf("sensitivity prints no suggestion:\n%s", out)
	}

	runJSON(t, append([]string{"cluster", "--from", filepath.Join(dir, "pruned"), "--k", "8", "--epochs", "1", "--quant-delay", "5", "--out", filepath.Join(dir, "clustered")}, small...)...)
	model := filepath.Join(dir, "c.qat")
	res, out = runJSON(t, "export", "--from", filepath.Join(dir, "clustered"), "--out", model, "--test-limit", "200", "--quiet", "--json")
	if res["agreement"].(float64) != 1 {
		t.Errorf("agreement %v", res["agreement"])
	}
	for _, c := range res["compression"].([]any) {
		c := c.(map[string]any)
		if c["distinct"].(float64) > 8 || c["nonzero"].(float64) != c["kept"].(float64) {
			t.Errorf("layer %v: %v", c["layer"], c)
		}
	}
	if !strings.Contains(out, "huffman") || !strings.Contains(out, "Table 3") {
		t.Errorf("export of a clustered model does not report Huffman storage:\n%s", out)
	}

	// The pipeline, configured by a file with a flag on top.
	var cfgOut, errb bytes.Buffer
	if err := run([]string{"compress", "--print-config", "--k", "4"}, &cfgOut, &errb); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(dir, "pipeline.json")
	if err := os.WriteFile(cfgFile, cfgOut.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	res, out = runJSON(t, append([]string{"compress", "--config", cfgFile, "--from", filepath.Join(dir, "float"), "--out", filepath.Join(dir, "pipe"),
		"--target", "0.8", "--cycles", "1", "--retrain-epochs", "1", "--cluster-epochs", "1"}, small...)...)
	for _, k := range []string{"bytes", "compression_ratio", "test_accuracy"} {
		if _, ok := res[k]; !ok {
			t.Errorf("compress JSON lacks %q", k)
		}
	}
	st, err := os.Stat(filepath.Join(dir, "pipe", "model.qat"))
	if err != nil || float64(st.Size()) != res["bytes"].(float64) {
		t.Errorf("pipeline reported %v bytes, file %v (%v)", res["bytes"], st, err)
	}
	if stages := res["stages"].([]any); len(stages) != 4 {
		t.Errorf("%d stages, want input, pruned, no-Huffman, final:\n%s", len(stages), out)
	}
	exp := res["export"].(map[string]any)
	for _, c := range exp["compression"].([]any) {
		if c := c.(map[string]any); c["distinct"].(float64) > 4 {
			t.Errorf("--config k 4: layer %v has %v distinct values", c["layer"], c["distinct"])
		}
	}
}

func TestCompressBadInput(t *testing.T) {
	for _, args := range [][]string{
		{"prune"},
		{"prune", "--from", "x", "--policy", "random"},
		{"cluster", "--from", "x", "--k", "0"},
		{"compress", "--from", "x", "--encoding", "zip"},
		{"sensitivity", "--from", "x", "--sparsities", "0.5,abc"},
		{"export", "--from", "x", "--out", "y", "--encoding", "zip"},
	} {
		var out, errb bytes.Buffer
		if code := exitCode(run(args, &out, &errb), &errb, "qat"); code != 2 {
			t.Errorf("%v: exit status %d, want 2 (usage)", args, code)
		}
	}
	var out, errb bytes.Buffer
	if code := exitCode(run([]string{"compress", "--config", "/nonexistent.json"}, &out, &errb), &errb, "qat"); code != 1 {
		t.Errorf("missing --config file: exit status %d, want 1", code)
	}
}

// Values of a --config file survive unless a flag is given; unknown keys are errors.
func TestCompressConfigFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.json")
	cfg := `{"cluster": {"k": 8, "train": {"augment": 0, "seed": 7, "quant": {"wbits": 4}}}, "prune": {"target": 0.9, "train": {"test_limit": 500}}}`
	if err := os.WriteFile(file, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	print := func(args ...string) map[string]any {
		var out, errb bytes.Buffer
		if err := run(append([]string{"compress", "--config", file, "--print-config"}, args...), &out, &errb); err != nil {
			t.Fatal(err, errb.String())
		}
		var m map[string]any
		if err := json.Unmarshal(out.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	get := func(m map[string]any, path ...string) any {
		var v any = m
		for _, k := range path {
			v = v.(map[string]any)[k]
		}
		return v
	}
	m := print()
	for _, c := range []struct {
		path []string
		want float64
	}{
		{[]string{"cluster", "k"}, 8}, {[]string{"cluster", "train", "augment"}, 0}, {[]string{"cluster", "train", "seed"}, 7},
		{[]string{"cluster", "train", "quant", "wbits"}, 4}, {[]string{"prune", "target"}, 0.9}, {[]string{"prune", "train", "test_limit"}, 500},
		{[]string{"prune", "train", "augment"}, 2}, {[]string{"prune", "train", "quant", "wbits"}, 8},
	} {
		if got := get(m, c.path...); got != c.want {
			t.Errorf("%v = %v, want %v", c.path, got, c.want)
		}
	}
	m = print("--augment", "1", "--k", "32")
	if get(m, "cluster", "train", "augment") != 1.0 || get(m, "prune", "train", "augment") != 1.0 || get(m, "cluster", "k") != 32.0 {
		t.Errorf("flags do not override the file: %v", m)
	}
	// An unknown key, at the top or nested (a CamelCase name of a field whose key is snake_case
	// among them), is a one-line usage error naming it.
	for _, c := range []struct{ json, key string }{
		{`{"clustr": {"k": 8}}`, `"clustr"`},
		{`{"cluster": {"kk": 8}}`, `"kk"`},
		{`{"prune": {"train": {"BatchSize": 32}}}`, `"BatchSize"`},
	} {
		if err := os.WriteFile(file, []byte(c.json), 0o644); err != nil {
			t.Fatal(err)
		}
		var out, errb bytes.Buffer
		err := run([]string{"compress", "--config", file, "--print-config"}, &out, &errb)
		if code := exitCode(err, &errb, "qat"); code != 2 || !strings.Contains(errb.String(), c.key) || strings.Count(errb.String(), "\n") != 1 || out.Len() != 0 {
			t.Errorf("%s: exit status %d, stderr %q, stdout %q; want 2 and one line naming %s", c.json, code, errb.String(), out.String(), c.key)
		}
	}
}

// --print-config writes snake_case keys, and a file it printed, read back with --config, gives
// the same configuration: printing it again gives the same bytes, flags given the first time
// (settings away from the defaults, in both stages) included.
func TestPrintConfigRoundTrip(t *testing.T) {
	dir := t.TempDir()
	print := func(args ...string) []byte {
		t.Helper()
		var out, errb bytes.Buffer
		if err := run(append([]string{"compress", "--print-config"}, args...), &out, &errb); err != nil {
			t.Fatal(err, errb.String())
		}
		return out.Bytes()
	}
	first := print("--from", "runs/x", "--out", filepath.Join(dir, "o"), "--k", "8", "--target", "0.7", "--prune-mode", "float",
		"--init", "kmeans++", "--prune-schedule", "gradual", "--layer-target", "fc1=0.9", "--layer-k", "conv1=32",
		"--wbits", "4", "--abits", "6", "--rounding", "double", "--seed", "9", "--encoding", "sparse", "--skip-cluster")
	var keys func(v any, path string)
	keys = func(v any, path string) {
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		for k, x := range m {
			if k != strings.ToLower(k) || strings.ContainsAny(k, "-. ") {
				if !strings.HasSuffix(path, "layer_targets") && !strings.HasSuffix(path, "layer_k") { // layer names are data
					t.Errorf("key %s%s is not snake_case", path, k)
				}
			}
			keys(x, path+k+".")
		}
	}
	var m map[string]any
	if err := json.Unmarshal(first, &m); err != nil {
		t.Fatal(err)
	}
	keys(m, "")
	for _, want := range []string{`"prune_schedule": "gradual"`, `"init": "kmeans++"`, `"mode": "float"`, `"fc1": 0.9`, `"conv1": 32`, `"rounding": "double"`, `"skip_cluster": true`} {
		if !bytes.Contains(first, []byte(want)) {
			t.Errorf("print-config lacks %s:\n%s", want, first)
		}
	}
	file := filepath.Join(dir, "c.json")
	if err := os.WriteFile(file, first, 0o644); err != nil {
		t.Fatal(err)
	}
	if again := print("--config", file); !bytes.Equal(again, first) {
		t.Errorf("print-config -> --config -> print-config changed the configuration:\n%s\nthen\n%s", first, again)
	}
}

func TestFilterFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--k", "4", "--config", "a.json"}, "--config a.json"},
		{[]string{"-config=b.json", "--k", "4"}, "-config=b.json"},
		{[]string{"--config=c.json"}, "--config=c.json"},
		{[]string{"--configx", "d"}, ""},
		{[]string{"--config"}, ""},
	} {
		if got := strings.Join(filterFlag(c.args, "config"), " "); got != c.want {
			t.Errorf("filterFlag(%v) = %q, want %q", c.args, got, c.want)
		}
	}
}
