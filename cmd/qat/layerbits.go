package main

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/qatgo/qatgo/nn"
)

// layerBits is the --layer-bits flag: per-layer overrides "conv1=8:8,fc2=8:4", each
// NAME=WBITS:ABITS. Per-channel weights follow --per-channel (applied by inheritPerChannel
// once all flags are parsed).
type layerBits struct {
	cfg *nn.Config
}

func (f layerBits) String() string {
	if f.cfg == nil || len(f.cfg.Layers) == 0 {
		return ""
	}
	var parts []string
	for name, q := range f.cfg.Layers {
		parts = append(parts, fmt.Sprintf("%s=%d:%d", name, q.WBits, q.ABits))
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func (f layerBits) Set(s string) error {
	if f.cfg.Layers == nil {
		f.cfg.Layers = map[string]nn.LayerQ{}
	}
	for _, item := range strings.Split(s, ",") {
		name, bits, ok := strings.Cut(item, "=")
		w, a, ok2 := strings.Cut(bits, ":")
		if !ok || !ok2 || name == "" {
			return fmt.Errorf("%q: want NAME=WBITS:ABITS", item)
		}
		wb, err1 := strconv.Atoi(w)
		ab, err2 := strconv.Atoi(a)
		if err1 != nil || err2 != nil {
			return fmt.Errorf("%q: bits must be integers", item)
		}
		f.cfg.Layers[name] = nn.LayerQ{WBits: wb, ABits: ab}
	}
	return nil
}

// inheritPerChannel gives every --layer-bits override the model-wide --per-channel setting.
func inheritPerChannel(cfg *nn.Config) {
	for name, q := range cfg.Layers {
		q.PerChannel = cfg.PerChannel
		cfg.Layers[name] = q
	}
}
