package train

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"github.com/qatgo/qatgo/train/checkpoint"
	"hash/crc32"
	"testing"

	"github.com/qatgo/qatgo/fakequant"
	"github.com/qatgo/qatgo/nn"
)

// A checkpoint written before nn.Config had a Rounding field (gob matches fields by name, so
// these stand-in types without it encode what such a checkpoint holds) decodes as
// RoundDouble, the rule it was trained with, and its model's simulation applies that rule.
// A new configuration records its rule, and the default is RoundSingle.
func TestCheckpointRounding(t *testing.T) {
	type oldQuant struct {
		WBits, ABits, LogitBits int
		PerChannel              bool
		Decay                   float64
		Delay                   int
	}
	type oldConfig struct { // the settings a real checkpoint holds (decoding validates them)
		Arch, Mode, Ops, Optimizer, Schedule, Out string
		Quant                                     oldQuant
		Epochs, BatchSize, EvalBatch              int
		LR, Momentum                              float64
	}
	type oldCheckpoint struct {
		Params []checkpoint.ParamState
		Ranges []checkpoint.RangeState
		Config oldConfig
	}
	m, err := nn.New("lenet300-100", nn.DefaultConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	ps, rs := checkpoint.Snapshot(m)
	old := oldCheckpoint{Params: ps, Ranges: rs, Config: oldConfig{Arch: "lenet300-100", Mode: "qat", Ops: "fast",
		Optimizer: "adam", Schedule: "cosine", Out: "runs/old", Epochs: 1, BatchSize: 64, EvalBatch: 100, LR: 1e-3, Momentum: 0.9,
		Quant: oldQuant{WBits: 8, ABits: 8, LogitBits: 8, PerChannel: true, Decay: 0.99}}}
	var payload bytes.Buffer
	if err := gob.NewEncoder(&payload).Encode(&old); err != nil {
		t.Fatal(err)
	}
	// The checkpoint framing (see the layout in train/checkpoint/format.go), written here independently.
	b := []byte("QATGOCKP")
	b = binary.LittleEndian.AppendUint16(b, 2)
	b = binary.LittleEndian.AppendUint64(b, uint64(payload.Len()))
	b = append(b, payload.Bytes()...)
	b = binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
	ck, err := DecodeCheckpoint(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if r := ck.Config.Quant.Rounding; r != fakequant.RoundDouble {
		t.Errorf("old checkpoint decodes with rounding %v, want double", r)
	}
	om, err := ck.Model()
	if err != nil {
		t.Fatal(err)
	}
	if om.Ctx.Rounding != fakequant.RoundDouble {
		t.Errorf("old checkpoint's simulation rounds %v, want double", om.Ctx.Rounding)
	}

	if r := DefaultConfig().Quant.Rounding; r != fakequant.RoundSingle {
		t.Errorf("default rounding %v, want single", r)
	}
	// Both rules survive a checkpoint round trip.
	for _, r := range []fakequant.Rounding{fakequant.RoundDouble, fakequant.RoundSingle} {
		cfg := DefaultConfig()
		cfg.Arch, cfg.Quant.Rounding = "lenet300-100", r
		var buf bytes.Buffer
		if err := EncodeCheckpoint(&buf, &Checkpoint{Params: ps, Ranges: rs, Config: cfg}); err != nil {
			t.Fatal(err)
		}
		ck, err := DecodeCheckpoint(&buf)
		if err != nil {
			t.Fatal(err)
		}
		nm, err := ck.Model()
		if err != nil {
			t.Fatal(err)
		}
		if ck.Config.Quant.Rounding != r || nm.Ctx.Rounding != r {
			t.Errorf("%v: decoded %v, simulation %v", r, ck.Config.Quant.Rounding, nm.Ctx.Rounding)
		}
	}
	bad := DefaultConfig()
	bad.Quant.Rounding = 7
	if err := bad.Validate(); err == nil {
		t.Error("rounding 7 validates")
	}
}
