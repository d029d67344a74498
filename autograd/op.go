package autograd

import (
	"fmt"
	"hash"
	"hash/fnv"
	"sync/atomic"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

var opIDs atomic.Uint64

// opBase implements the bookkeeping every custom op shares: a name, a unique id in the hash
// (gorgonia silently merges nodes whose ops hash equal), and the "returns a fresh value"
// execution flags.
type opBase struct {
	name string
	id   uint64
}

func newOpBase(name string) opBase { return opBase{name: name, id: opIDs.Add(1)} }

func (o opBase) ReturnsPtr() bool      { return false }
func (o opBase) CallsExtern() bool     { return false }
func (o opBase) OverwritesInput() int  { return -1 }
func (o opBase) WriteHash(h hash.Hash) { fmt.Fprintf(h, "qatgo.%s#%d", o.name, o.id) }
func (o opBase) String() string        { return o.name }
func (o opBase) Hashcode() uint32 {
	h := fnv.New32a()
	o.WriteHash(h)
	return h.Sum32()
}

// f32 returns the float32 backing of a tensor value.
func f32(v gorgonia.Value) ([]float32, tensor.Shape, error) {
	t, ok := v.(tensor.Tensor)
	if !ok {
		return nil, nil, fmt.Errorf("autograd: expected a tensor, got %T", v)
	}
	d, ok := t.Data().([]float32)
	if !ok {
		return nil, nil, fmt.Errorf("autograd: expected float32 data, got %T", t.Data())
	}
	return d, t.Shape(), nil
}

// scalarF32 reads a float32 scalar value (a *F32, or a one-element tensor).
func scalarF32(v gorgonia.Value) (float32, error) {
	switch s := v.(type) {
	case *gorgonia.F32:
		return float32(*s), nil
	case tensor.Tensor:
		if d, ok := s.Data().([]float32); ok && len(d) == 1 {
			return d[0], nil
		}
		if d, ok := s.Data().(float32); ok {
			return d, nil
		}
	}
	return 0, fmt.Errorf("autograd: expected a float32 scalar, got %T", v)
}

// newF32 allocates a float32 tensor of the given shape.
func newF32(shape tensor.Shape) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape.Clone()...), tensor.WithBacking(make([]float32, shape.TotalSize())))
}
