package checkpoint

import (
	"fmt"
	"math"

	"github.com/qatgo/qatgo/nn"
)

// ParamState is a parameter's values.
type ParamState struct {
	Name  string
	Shape []int
	Data  []float32
}

// BNStats are a batch-norm stage's running statistics.
type BNStats struct{ Mean, Var []float64 }

// RangeState is an activation quantizer's tracked range.
type RangeState struct {
	Min, Max float64
	Seen     bool
	Steps    int
}

// SnapshotBN copies a model's batch-norm running statistics.
func SnapshotBN(m *nn.Model) []BNStats {
	var bs []BNStats
	for _, bn := range m.BatchNorms() {
		bs = append(bs, BNStats{Mean: append([]float64(nil), bn.State.Mean...), Var: append([]float64(nil), bn.State.Var...)})
	}
	return bs
}

// RestoreBN writes batch-norm running statistics into m.
func RestoreBN(m *nn.Model, bs []BNStats) error {
	bns := m.BatchNorms()
	if len(bs) != len(bns) {
		return fmt.Errorf("checkpoint: checkpoint has %d batch-norm stages, model %s has %d", len(bs), m.Arch, len(bns))
	}
	for i, bn := range bns {
		if len(bs[i].Mean) != len(bn.State.Mean) || len(bs[i].Var) != len(bn.State.Var) {
			return fmt.Errorf("checkpoint: batch-norm stage %d has %d channels in the checkpoint, %d in the model", i, len(bs[i].Mean), len(bn.State.Mean))
		}
		for c := range bs[i].Mean {
			if !finite(bs[i].Mean[c]) || !finite(bs[i].Var[c]) || bs[i].Var[c] < 0 {
				return fmt.Errorf("checkpoint: batch-norm stage %d channel %d has mean %v, variance %v", i, c, bs[i].Mean[c], bs[i].Var[c])
			}
		}
	}
	for i, bn := range bns {
		copy(bn.State.Mean, bs[i].Mean)
		copy(bn.State.Var, bs[i].Var)
	}
	return nil
}

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// Snapshot copies a model's parameters and ranges (shared weights materialized first).
func Snapshot(m *nn.Model) ([]ParamState, []RangeState) {
	m.Materialize()
	var ps []ParamState
	for _, p := range m.Params() {
		ps = append(ps, ParamState{Name: p.Name, Shape: append([]int(nil), p.Shape...), Data: append([]float32(nil), p.Data...)})
	}
	var rs []RangeState
	for _, q := range m.ActQuantizers() {
		rs = append(rs, RangeState{Min: q.Min, Max: q.Max, Seen: q.Seen, Steps: q.Steps})
	}
	return ps, rs
}

// Restore writes parameters (and ranges, if any) into m, checking names and shapes.
func Restore(m *nn.Model, ps []ParamState, rs []RangeState) error {
	params := m.Params()
	if len(ps) != len(params) {
		return fmt.Errorf("checkpoint: checkpoint has %d parameters, model %s has %d", len(ps), m.Arch, len(params))
	}
	for i, p := range params {
		s := ps[i]
		if s.Name != p.Name || fmt.Sprint(s.Shape) != fmt.Sprint(p.Shape) {
			return fmt.Errorf("checkpoint: checkpoint parameter %d is %q %v, model %s has %q %v", i, s.Name, s.Shape, m.Arch, p.Name, p.Shape)
		}
		if len(s.Data) != len(p.Data) {
			return fmt.Errorf("checkpoint: checkpoint parameter %q %v holds %d values, want %d", s.Name, s.Shape, len(s.Data), len(p.Data))
		}
	}
	qs := m.ActQuantizers()
	if rs != nil && len(rs) != len(qs) {
		return fmt.Errorf("checkpoint: checkpoint has %d activation ranges, model has %d", len(rs), len(qs))
	}
	for i, r := range rs {
		if r.Seen && !(finite(r.Min) && finite(r.Max) && r.Min <= 0 && 0 <= r.Max) {
			return fmt.Errorf("checkpoint: checkpoint activation range %d is [%v, %v]: want finite bounds around 0", i, r.Min, r.Max)
		}
	}
	for i, p := range params {
		copy(p.Data, ps[i].Data)
	}
	for i, r := range rs {
		q := qs[i]
		q.Min, q.Max, q.Seen, q.Steps = r.Min, r.Max, r.Seen, r.Steps
	}
	return nil
}

// SnapshotSteps copies a model's learned steps (nil for a model without them).
func SnapshotSteps(m *nn.Model) []ParamState {
	var ps []ParamState
	for _, p := range m.LearnedSteps() {
		ps = append(ps, ParamState{Name: p.Name, Shape: append([]int(nil), p.Shape...), Data: append([]float32(nil), p.Data...)})
	}
	return ps
}

// RestoreSteps writes learned steps into m, checking names, shapes and values, and makes them
// the quantizers' (nn.Model.SyncSteps).
func RestoreSteps(m *nn.Model, ss []ParamState) error {
	steps := m.LearnedSteps()
	if len(ss) != len(steps) {
		return fmt.Errorf("checkpoint: checkpoint has %d learned steps, model %s (quantizer %q) has %d", len(ss), m.Arch, m.Config.Quantizer, len(steps))
	}
	for i, p := range steps {
		s := ss[i]
		if s.Name != p.Name || len(s.Data) != len(p.Data) {
			return fmt.Errorf("checkpoint: checkpoint step %q (%d values) does not match model step %q (%d)", s.Name, len(s.Data), p.Name, len(p.Data))
		}
		for _, v := range s.Data {
			if e := math.Exp(float64(v)); !(e > 0) || math.IsInf(e, 0) {
				return fmt.Errorf("checkpoint: checkpoint step %q holds ln(step) %v: not a finite positive step", s.Name, v)
			}
		}
	}
	for i, p := range steps {
		copy(p.Data, ss[i].Data)
	}
	m.SyncSteps()
	return nil
}
