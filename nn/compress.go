package nn

import (
	"fmt"

	"github.com/qatgo/qatgo/autograd"
	"gorgonia.org/gorgonia"
)

// Shared makes a weight tensor a view of a small codebook (Deep Compression's weight sharing):
// weight i is Centroids.Data[Assign[i]], or exactly 0 where Assign[i] is -1 (a pruned weight,
// member of no cluster). Graphs then train the centroids: the gradient of a centroid is the sum
// of the gradients of its member weights (autograd.Gather). Assignments never change.
type Shared struct {
	Centroids *Param
	Assign    []int32
}

// weight returns the node of a layer's weight tensor p in this graph: the codebook gather when p
// is shared, p masked by its pruning mask when it has one, else p itself. Pruned weights are
// therefore exactly zero in every graph and receive exactly zero gradient.
func (b *builder) weight(p *Param) (*gorgonia.Node, error) {
	switch {
	case p.Shared != nil:
		return autograd.Gather(b.param(p.Shared.Centroids), p.Shared.Assign, p.Shape...)
	case p.Mask != nil:
		return autograd.Mask(b.param(p), p.Mask)
	}
	return b.param(p), nil
}

// Prune sets p's pruning mask to keep (1 = kept, 0 = pruned, len = p.Size()) and zeroes the
// pruned weights. It refuses a shared tensor (prune before clustering) and a mask that would
// revive a weight pruned earlier: pruning only ever removes weights. The mask slice is p's own
// copy, so graphs built before the call see later calls too.
func (p *Param) Prune(keep []bool) error {
	if p.Shared != nil {
		return fmt.Errorf("nn: %s is shared by a codebook: prune before clustering", p.Name)
	}
	if len(keep) != len(p.Data) {
		return fmt.Errorf("nn: %s: mask has %d values, tensor %d", p.Name, len(keep), len(p.Data))
	}
	if p.Mask != nil {
		for i, k := range keep {
			if k && p.Mask[i] == 0 {
				return fmt.Errorf("nn: %s: weight %d was pruned before and cannot be revived", p.Name, i)
			}
		}
	} else {
		p.Mask = make([]float32, len(p.Data))
	}
	for i, k := range keep {
		if k {
			p.Mask[i] = 1
		} else {
			p.Mask[i], p.Data[i] = 0, 0
		}
	}
	return nil
}

// Share makes p a view of a codebook: centroids (k values) and one assignment per weight (-1
// for pruned weights). Pruned weights (mask 0) must be assigned -1 and kept ones a centroid. p's
// values become the codebook's (Materialize).
func (p *Param) Share(centroids []float32, assign []int32) error {
	if len(assign) != len(p.Data) {
		return fmt.Errorf("nn: %s: %d assignments for %d weights", p.Name, len(assign), len(p.Data))
	}
	for i, a := range assign {
		if a < -1 || int(a) >= len(centroids) {
			return fmt.Errorf("nn: %s: weight %d assigned to centroid %d of %d", p.Name, i, a, len(centroids))
		}
		if p.Mask != nil && (p.Mask[i] == 0) != (a == -1) {
			return fmt.Errorf("nn: %s: weight %d: pruning mask and assignment disagree", p.Name, i)
		}
	}
	c := newParam(p.Name+".centroids", len(centroids))
	copy(c.Data, centroids)
	p.Shared = &Shared{Centroids: c, Assign: append([]int32(nil), assign...)}
	p.Materialize()
	return nil
}

// Materialize writes a shared tensor's codebook values into Data (no-op otherwise), so that
// export and checkpoints, which read Data, see exactly what the graphs compute.
func (p *Param) Materialize() {
	if p.Shared == nil {
		return
	}
	c := p.Shared.Centroids.Data
	for i, a := range p.Shared.Assign {
		if a < 0 {
			p.Data[i] = 0
		} else {
			p.Data[i] = c[a]
		}
	}
}

// Nonzero counts the nonzero values of p.
func (p *Param) Nonzero() int {
	n := 0
	for _, v := range p.Data {
		if v != 0 {
			n++
		}
	}
	return n
}

// Materialize writes every shared weight tensor's codebook values into its Data.
func (m *Model) Materialize() {
	for _, l := range m.Quantized() {
		l.Weights().Materialize()
	}
}

// LayerSparsity is one layer's pruning state.
type LayerSparsity struct {
	Layer    string `json:"layer"`
	Weights  int    `json:"weights"`
	Nonzero  int    `json:"nonzero"`
	Masked   bool   `json:"masked"`
	Clusters int    `json:"clusters,omitempty"` // codebook size when shared
}

// Kept returns the kept fraction.
func (s LayerSparsity) Kept() float64 { return float64(s.Nonzero) / float64(s.Weights) }

// Sparsity reports, per quantizable layer, how many weights are nonzero (after Materialize).
func (m *Model) Sparsity() []LayerSparsity {
	var out []LayerSparsity
	for _, l := range m.Quantized() {
		w := l.Weights()
		s := LayerSparsity{Layer: l.Name(), Weights: w.Size(), Nonzero: w.Nonzero(), Masked: w.Mask != nil}
		if w.Shared != nil {
			s.Clusters = len(w.Shared.Centroids.Data)
		}
		out = append(out, s)
	}
	return out
}

// TotalSparsity returns the pruned fraction over the weight tensors of all quantizable layers.
func TotalSparsity(ls []LayerSparsity) float64 {
	var w, nz int
	for _, s := range ls {
		w += s.Weights
		nz += s.Nonzero
	}
	if w == 0 {
		return 0
	}
	return 1 - float64(nz)/float64(w)
}

// CheckShared refuses per-channel weight scales on a shared (clustered) layer: one float
// centroid would become a different integer in every channel, and the integer codebook would
// no longer have at most k entries.
func (m *Model) CheckShared() error {
	for _, l := range m.Quantized() {
		if l.Weights().Shared != nil && l.Quant().Config.PerChannel {
			return fmt.Errorf("nn: %s is clustered: it needs one weight scale per layer (--per-channel=false)", l.Name())
		}
	}
	return nil
}
