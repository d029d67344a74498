package export

import (
	"bytes"
	"fmt"

	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/export/qnet"
	"github.com/qatgo/qatgo/internal/atomicfile"
	"github.com/qatgo/qatgo/nn"
)

// Exported is an in-memory model's integer export: the model file's bytes, the integer model
// decoded from those bytes, and its comparison with the simulation.
type Exported struct {
	Int    *qnet.Model
	File   []byte
	Report Report
}

// FromModel exports a trained (QAT or PTQ) in-memory model, e.g. the one train.Fit returns:
// Convert, encode as a qat model file (automatic weight encoding), decode the bytes again and
// compare that integer model with the simulation on the first limit images of s (all if
// limit <= 0). Nothing is written; see Exported.WriteFile.
func FromModel(m *nn.Model, s *data.Set, limit int) (*Exported, error) {
	qm, err := Convert(m)
	if err != nil {
		return nil, err
	}
	var file bytes.Buffer
	if err := qnet.EncodeWith(&file, qm, qnet.EncodeOptions{}); err != nil {
		return nil, fmt.Errorf("export: encoding %s: %w", m.Arch, err)
	}
	if qm, err = qnet.Decode(bytes.NewReader(file.Bytes())); err != nil {
		return nil, err
	}
	rep, err := Compare(m, qm, s, limit, 100, nil)
	if err != nil {
		return nil, err
	}
	return &Exported{Int: qm, File: file.Bytes(), Report: *rep}, nil
}

// WriteFile writes the model file atomically (qat summary, cmd/infer and qat export --format
// onnx|c read it).
func (e *Exported) WriteFile(path string) error { return atomicfile.WriteBytes(path, e.File) }
