package train

import (
	"encoding/json"
	"flag"
	"strings"
	"testing"
)

// Every typed setting parses the names the CLI, the JSON configurations and old checkpoints use
// (spelled out here, not taken from the constants), keeps its value on a bad name, and encodes
// to JSON as the same string.
func TestTypedValues(t *testing.T) {
	var (
		mode  Mode
		opt   OptimizerKind
		sched Schedule
		pol   PrunePolicy
		ps    PruneSchedule
	)
	for _, c := range []struct {
		v     flag.Value
		names []string
		bad   string
	}{
		{&mode, []string{"float", "qat", "ptq"}, "int"},
		{&opt, []string{"sgd", "adam"}, "lbfgs"},
		{&sched, []string{"const", "cosine", "step"}, "linear"},
		{&pol, []string{"global", "layer", "quality"}, "random"},
		{&ps, []string{"cycles", "gradual"}, "linear"},
	} {
		for _, name := range c.names {
			if err := c.v.Set(name); err != nil || c.v.String() != name {
				t.Errorf("Set(%q): %v, value %q", name, err, c.v)
			}
			b, err := json.Marshal(c.v)
			if err != nil || string(b) != `"`+name+`"` {
				t.Errorf("%q encodes to JSON as %s (%v)", name, b, err)
			}
		}
		last := c.v.String()
		for _, bad := range []string{c.bad, "", strings.ToUpper(c.names[0])} {
			err := c.v.Set(bad)
			if err == nil || !strings.HasPrefix(err.Error(), "train: unknown ") || !strings.Contains(err.Error(), `"`+bad+`"`) {
				t.Errorf("Set(%q): err = %v, want a train error naming it", bad, err)
			}
			if c.v.String() != last {
				t.Errorf("a refused Set(%q) changed the value to %q", bad, c.v)
			}
		}
	}
	if DefaultConfig().Mode != "qat" || DefaultConfig().Optimizer != "adam" || DefaultConfig().Schedule != "cosine" {
		t.Errorf("defaults changed: %+v", DefaultConfig())
	}
}
