package autograd

import (
	"fmt"
	"github.com/qatgo/qatgo/internal/f32"
	"hash"
	"hash/fnv"
	"sync/atomic"

	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

var opIDs atomic.Uint64

// opBase implements the bookkeeping every custom op shares, so that an op states only what
// differs: a name, a unique id in the hash (gorgonia silently merges nodes whose ops hash
// equal), the number of inputs, the "returns a fresh value" execution flags and, for an op
// whose output has the shape of one of its inputs, InferShape. An op with another output
// shape defines its own InferShape, which takes precedence over opBase's.
type opBase struct {
	name  string
	id    uint64
	arity int
	like  int // InferShape returns the shape of input like; -1: the op defines InferShape
}

// newOpBase is the base of an op with arity inputs that defines its own InferShape.
func newOpBase(name string, arity int) opBase {
	return opBase{name: name, id: opIDs.Add(1), arity: arity, like: -1}
}

// sameShapeOp is the base of an op with arity inputs whose output has the shape of input like.
func sameShapeOp(name string, arity, like int) opBase {
	b := newOpBase(name, arity)
	b.like = like
	return b
}

func (o opBase) Arity() int { return o.arity }

// InferShape returns the shape of input like (a copy).
func (o opBase) InferShape(in ...gorgonia.DimSizer) (tensor.Shape, error) {
	if o.like < 0 || o.like >= len(in) {
		return nil, fmt.Errorf("autograd: %s: no shape rule for %d inputs", o.name, len(in))
	}
	s, ok := in[o.like].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("autograd: %s: input %d has no shape", o.name, o.like)
	}
	return s.Clone(), nil
}

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

// floats returns the float32 backing of a tensor value.
func floats(v gorgonia.Value) ([]float32, tensor.Shape, error) {
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

// outBuf is an op's output tensor, kept across runs so that the steady state of training does
// not allocate. gorgonia v0.9.18's tape machine clears its registers on Reset and binds each
// run's return value to the node, so returning the same tensor every run is safe as long as
// the op (1) overwrites every element on each run and never reads what it returned before,
// and (2) is executed once per run, so that no two live values share the buffer. Later ops
// may still modify the tensor in place within a run (gorgonia's Reshape.UnsafeDo changes its
// shape, Add.UnsafeDo its values): get restores the shape, and (1) makes the values harmless.
// A value read from a node is therefore valid until the next run of its graph only.
type outBuf struct{ t *tensor.Dense }

// get returns the buffer with the given shape, allocating it on first use.
func (b *outBuf) get(shape tensor.Shape) *tensor.Dense {
	if b.t == nil || b.t.Shape().TotalSize() != shape.TotalSize() || b.t.IsView() {
		b.t = newF32(shape)
		return b.t
	}
	if !b.t.Shape().Eq(shape) {
		if err := b.t.Reshape(shape...); err != nil {
			b.t = newF32(shape)
		}
	}
	return b.t
}

// data is get(shape)'s float32 backing.
func (b *outBuf) data(shape tensor.Shape) (*tensor.Dense, []float32) {
	t := b.get(shape)
	return t, t.Data().([]float32)
}

// grow returns s resized to n, reallocating only when its capacity is short.
func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

func make32(s []int32, n int) []int32 {
	if cap(s) < n {
		return make([]int32, n)
	}
	return s[:n]
}

// growTo returns s with at least n elements (the existing ones kept).
func growTo[T any](s []T, n int) []T {
	if len(s) < n {
		s = append(s, make([]T, n-len(s))...)
	}
	return s
}

// The reductions of the ops (bias, ReLU-bias and conv weight gradients, LSQ step gradients,
// batch ranges) keep one partial result per part of f32.SplitRowsW and f32.SplitBatch, in
// arrays of two that they add in part order: this fails to compile unless
// f32.ReduceParts is 2.
const _ = uint(f32.ReduceParts-2) + uint(2-f32.ReduceParts)
