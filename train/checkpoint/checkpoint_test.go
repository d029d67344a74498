package checkpoint

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/qatgo/qatgo/nn"
)

type payload struct {
	Name   string
	Params []ParamState
}

// frame writes the layout of format.go by hand (an independent reference for Encode).
func frame(version uint16, body []byte) []byte {
	b := []byte("QATGOCKP")
	b = binary.LittleEndian.AppendUint16(b, version)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(body)))
	b = append(b, body...)
	return binary.LittleEndian.AppendUint32(b, crc32.ChecksumIEEE(b))
}

func TestFormat(t *testing.T) {
	in := payload{Name: "x", Params: []ParamState{{Name: "w", Shape: []int{2}, Data: []float32{1, -2}}}}
	var buf bytes.Buffer
	if err := Encode(&buf, in); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	if want := frame(Version, b[18:len(b)-4]); !bytes.Equal(b, want) {
		t.Fatalf("Encode's framing differs from the documented layout")
	}
	var out payload
	if _, err := Decode(bytes.NewReader(b), &out); err != nil || out.Name != "x" || out.Params[0].Data[1] != -2 {
		t.Fatalf("round trip: %+v, %v", out, err)
	}
	// Version 1 files still load; anything else is refused.
	if _, err := Decode(bytes.NewReader(frame(1, b[18:len(b)-4])), &out); err != nil {
		t.Errorf("version 1: %v", err)
	}
	for name, bad := range map[string][]byte{
		"empty":     nil,
		"magic":     append([]byte("QATGOCKQ"), b[8:]...),
		"version 3": frame(3, b[18:len(b)-4]),
		"truncated": b[:len(b)-1],
		"flipped":   append(append(bytes.Clone(b[:30]), b[30]^1), b[31:]...),
		"payload":   frame(Version, []byte("not gob")),
	} {
		if _, err := Decode(bytes.NewReader(bad), &out); !errors.Is(err, ErrInvalid) || !strings.HasPrefix(err.Error(), "checkpoint: ") {
			t.Errorf("%s: err = %v, want an ErrInvalid", name, err)
		}
	}
	path := filepath.Join(t.TempDir(), "c.qck")
	if err := WriteFile(path, in); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, b) {
		t.Errorf("WriteFile wrote other bytes than Encode (%v)", err)
	}
}

// A trailer (train's custom-model spec) follows the record in the same gob stream; a file
// without one decodes with the trailer left as it was, and the record alone encodes to the
// same bytes whether or not a reader asks for a trailer.
func TestTrailer(t *testing.T) {
	in := payload{Name: "x", Params: []ParamState{{Name: "w", Shape: []int{2}, Data: []float32{1, -2}}}}
	var with, without bytes.Buffer
	if err := Encode(&with, in, "spec"); err != nil {
		t.Fatal(err)
	}
	if err := Encode(&without, in); err != nil {
		t.Fatal(err)
	}
	var out payload
	trailer := "unset"
	if n, err := Decode(bytes.NewReader(with.Bytes()), &out, &trailer); err != nil || n != 2 || trailer != "spec" || out.Name != "x" {
		t.Errorf("with trailer: n=%d trailer=%q err=%v", n, trailer, err)
	}
	trailer = "unset"
	if n, err := Decode(bytes.NewReader(without.Bytes()), &out, &trailer); err != nil || n != 1 || trailer != "unset" {
		t.Errorf("without trailer: n=%d trailer=%q err=%v", n, trailer, err)
	}
	if n, err := Decode(bytes.NewReader(with.Bytes()), &out); err != nil || n != 1 {
		t.Errorf("trailer not asked for: n=%d err=%v", n, err)
	}
	var wrong int
	if _, err := Decode(bytes.NewReader(with.Bytes()), &out, &wrong); !errors.Is(err, ErrInvalid) {
		t.Errorf("trailer of another type: err = %v, want an ErrInvalid", err)
	}
	if _, err := Decode(bytes.NewReader(with.Bytes())); err == nil {
		t.Error("Decode with no value: no error")
	}
}

// Snapshot and Restore carry a model's state to another model of the same architecture, and
// Restore refuses state that does not fit before writing anything.
func TestSnapshotRestore(t *testing.T) {
	a, err := nn.New("lenet300-100", nn.DefaultConfig(), 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := nn.New("lenet300-100", nn.DefaultConfig(), 2)
	if err != nil {
		t.Fatal(err)
	}
	a.ActQuantizers()[0].Min, a.ActQuantizers()[0].Max, a.ActQuantizers()[0].Seen = -1, 3, true
	ps, rs := Snapshot(a)
	before := append([]float32(nil), b.Params()[0].Data...)
	bad := append([]ParamState(nil), ps...)
	bad[1] = ParamState{Name: bad[1].Name, Shape: []int{7}, Data: make([]float32, 7)}
	if err := Restore(b, bad, rs); err == nil || !strings.HasPrefix(err.Error(), "checkpoint: ") {
		t.Fatalf("a parameter of the wrong shape: err = %v", err)
	}
	if !slices.Equal(b.Params()[0].Data, before) {
		t.Fatal("a refused Restore wrote parameters")
	}
	if err := Restore(b, ps, rs); err != nil {
		t.Fatal(err)
	}
	for i, p := range b.Params() {
		if !slices.Equal(p.Data, a.Params()[i].Data) {
			t.Fatalf("parameter %s differs after Restore", p.Name)
		}
	}
	if q := b.ActQuantizers()[0]; q.Min != -1 || q.Max != 3 || !q.Seen {
		t.Errorf("range after Restore: %+v", q)
	}
}
