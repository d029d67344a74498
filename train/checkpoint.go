package train

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/qatgo/qatgo/autograd"
	"github.com/qatgo/qatgo/internal/atomicfile"
	"github.com/qatgo/qatgo/nn"
)

// Checkpoint file layout (little-endian):
//
//	offset  size  field
//	0       8     magic "QATGOCKP"
//	8       2     version (2; version 1 files, which have no masks or codebooks, still load)
//	10      8     payload length L
//	18      L     payload: encoding/gob of Checkpoint
//	18+L    4     CRC-32 (IEEE) of bytes [0, 18+L)
const (
	ckptMagic = "QATGOCKP"
	// ckptVersion 2 added pruning masks and codebooks: a reader of version 1 would drop them
	// and train pruned weights back, so it must refuse version 2 files. Version 1 files still
	// load (they hold dense models).
	ckptVersion = 2
	// MaxCheckpointBytes bounds what LoadCheckpoint reads.
	MaxCheckpointBytes = 1 << 30
)

// CheckpointFile is the checkpoint's name inside a run directory.
const CheckpointFile = "checkpoint.qck"

// Checkpoint is everything needed to rebuild a model and continue its training exactly.
type Checkpoint struct {
	Epoch  int // completed epochs of this run
	Params []ParamState
	Ranges []RangeState // activation quantizers, in model order
	BN     []BNStats    // batch-norm running statistics, in model order
	// Compression holds the pruning masks and weight-sharing codebooks (none for dense models).
	Compression []CompressionState
	Opt         OptState
	Config      Config // the run's configuration (for resume)
	Metrics     []EpochMetrics
	Seconds     float64 // training seconds so far
	Finished    bool
	// Stage is "prune" or "cluster" for the checkpoints of those drivers ("" for training).
	Stage string
	// Steps are the learned ln(step) parameters of a model with Quantizer "lsq"
	// (nn.Model.LearnedSteps; none otherwise: older checkpoints decode without them).
	Steps []ParamState
}

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
		return fmt.Errorf("train: checkpoint has %d batch-norm stages, model %s has %d", len(bs), m.Arch, len(bns))
	}
	for i, bn := range bns {
		if len(bs[i].Mean) != len(bn.State.Mean) || len(bs[i].Var) != len(bn.State.Var) {
			return fmt.Errorf("train: batch-norm stage %d has %d channels in the checkpoint, %d in the model", i, len(bs[i].Mean), len(bn.State.Mean))
		}
		for c := range bs[i].Mean {
			if !finite(bs[i].Mean[c]) || !finite(bs[i].Var[c]) || bs[i].Var[c] < 0 {
				return fmt.Errorf("train: batch-norm stage %d channel %d has mean %v, variance %v", i, c, bs[i].Mean[c], bs[i].Var[c])
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
		return fmt.Errorf("train: checkpoint has %d parameters, model %s has %d", len(ps), m.Arch, len(params))
	}
	for i, p := range params {
		s := ps[i]
		if s.Name != p.Name || fmt.Sprint(s.Shape) != fmt.Sprint(p.Shape) {
			return fmt.Errorf("train: checkpoint parameter %d is %q %v, model %s has %q %v", i, s.Name, s.Shape, m.Arch, p.Name, p.Shape)
		}
		if len(s.Data) != len(p.Data) {
			return fmt.Errorf("train: checkpoint parameter %q %v holds %d values, want %d", s.Name, s.Shape, len(s.Data), len(p.Data))
		}
	}
	qs := m.ActQuantizers()
	if rs != nil && len(rs) != len(qs) {
		return fmt.Errorf("train: checkpoint has %d activation ranges, model has %d", len(rs), len(qs))
	}
	for i, r := range rs {
		if r.Seen && !(finite(r.Min) && finite(r.Max) && r.Min <= 0 && 0 <= r.Max) {
			return fmt.Errorf("train: checkpoint activation range %d is [%v, %v]: want finite bounds around 0", i, r.Min, r.Max)
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
		return fmt.Errorf("train: checkpoint has %d learned steps, model %s (quantizer %q) has %d", len(ss), m.Arch, m.Config.Quantizer, len(steps))
	}
	for i, p := range steps {
		s := ss[i]
		if s.Name != p.Name || len(s.Data) != len(p.Data) {
			return fmt.Errorf("train: checkpoint step %q (%d values) does not match model step %q (%d)", s.Name, len(s.Data), p.Name, len(p.Data))
		}
		for _, v := range s.Data {
			if e := math.Exp(float64(v)); !(e > 0) || math.IsInf(e, 0) {
				return fmt.Errorf("train: checkpoint step %q holds ln(step) %v: not a finite positive step", s.Name, v)
			}
		}
	}
	for i, p := range steps {
		copy(p.Data, ss[i].Data)
	}
	m.SyncSteps()
	return nil
}

// Model rebuilds the checkpoint's model with its parameters and ranges.
func (c *Checkpoint) Model() (*nn.Model, error) {
	// Config holds the model (Arch, Quant, Ops) and how its parameters were produced (Mode).
	cfg := c.Config
	m, err := cfg.newModel(cfg.Quant, 0)
	if err != nil {
		return nil, err
	}
	if err := Restore(m, c.Params, c.Ranges); err != nil {
		return nil, err
	}
	if err := RestoreBN(m, c.BN); err != nil {
		return nil, err
	}
	if err := RestoreCompression(m, c.Compression); err != nil {
		return nil, err
	}
	if err := RestoreSteps(m, c.Steps); err != nil {
		return nil, err
	}
	m.FoldBN = cfg.Mode != "float"
	// The simulation uses the ops the model was trained with.
	if m.Ops, err = nn.ParseOps(cfg.Ops); err != nil {
		return nil, err
	}
	if cfg.Mode == "float" {
		m.SetMode(autograd.ModeFloat)
	} else {
		m.SetMode(autograd.ModeEval)
	}
	return m, nil
}

// EncodeCheckpoint writes c in the checkpoint format.
func EncodeCheckpoint(w io.Writer, c *Checkpoint) error {
	var payload bytes.Buffer
	enc := gob.NewEncoder(&payload)
	if err := enc.Encode(c); err != nil {
		return fmt.Errorf("train: encoding checkpoint: %w", err)
	}
	// A custom model's spec follows the record as a second gob value (its JSON), so that the
	// record of a built-in network is encoded as before.
	if s := c.Config.customSpec(); s != nil {
		if err := enc.Encode(string(s.JSON())); err != nil {
			return fmt.Errorf("train: encoding checkpoint: %w", err)
		}
	}
	var buf bytes.Buffer
	buf.WriteString(ckptMagic)
	binary.Write(&buf, binary.LittleEndian, uint16(ckptVersion))
	binary.Write(&buf, binary.LittleEndian, uint64(payload.Len()))
	buf.Write(payload.Bytes())
	binary.Write(&buf, binary.LittleEndian, crc32.ChecksumIEEE(buf.Bytes()))
	_, err := w.Write(buf.Bytes())
	return err
}

// ErrCheckpoint marks a corrupt, truncated or unsupported checkpoint.
var ErrCheckpoint = errors.New("bad checkpoint")

// DecodeCheckpoint reads a checkpoint, checking magic, version, length and checksum before
// decoding the payload.
func DecodeCheckpoint(r io.Reader) (*Checkpoint, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxCheckpointBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxCheckpointBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrCheckpoint, MaxCheckpointBytes)
	}
	const head = 18
	if len(b) < head+4 || string(b[:8]) != ckptMagic {
		return nil, fmt.Errorf("%w: not a qatgo checkpoint (magic)", ErrCheckpoint)
	}
	if v := binary.LittleEndian.Uint16(b[8:]); v != ckptVersion && v != 1 {
		return nil, fmt.Errorf("%w: unsupported version %d", ErrCheckpoint, v)
	}
	n := binary.LittleEndian.Uint64(b[10:])
	if n != uint64(len(b)-head-4) {
		return nil, fmt.Errorf("%w: payload length %d but %d bytes present (truncated?)", ErrCheckpoint, n, len(b)-head-4)
	}
	if crc32.ChecksumIEEE(b[:len(b)-4]) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrCheckpoint)
	}
	var c Checkpoint
	dec := gob.NewDecoder(bytes.NewReader(b[head : len(b)-4]))
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCheckpoint, err)
	}
	var spec string
	switch err := dec.Decode(&spec); {
	case errors.Is(err, io.EOF): // a built-in network
	case err != nil:
		return nil, fmt.Errorf("%w: model spec: %v", ErrCheckpoint, err)
	default:
		s, err := nn.ParseSpec(strings.NewReader(spec))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCheckpoint, err)
		}
		if s.Name != c.Config.Arch {
			return nil, fmt.Errorf("%w: model spec %q for model %q", ErrCheckpoint, s.Name, c.Config.Arch)
		}
		c.Config.SetSpec(s)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	return &c, nil
}

// SaveCheckpoint writes c atomically to path. A checkpoint that fails Validate (a parameter
// that is not finite, say) is refused and nothing is written.
func SaveCheckpoint(path string, c *Checkpoint) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("train: refusing to write %s: %w", path, err)
	}
	return atomicfile.WriteFile(path, func(w io.Writer) error { return EncodeCheckpoint(w, c) })
}

// LoadCheckpoint reads a checkpoint file, or the checkpoint inside a run directory.
func LoadCheckpoint(path string) (*Checkpoint, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, CheckpointFile)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("train: %w", err)
	}
	defer f.Close()
	c, err := DecodeCheckpoint(f)
	if err != nil {
		return nil, fmt.Errorf("train: %s: %w", path, err)
	}
	return c, nil
}
