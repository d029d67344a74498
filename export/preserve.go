package export

import (
	"fmt"

	"github.com/qatgo/qatgo/export/qnet"
	"github.com/qatgo/qatgo/nn"
)

// LayerCompression is what the export kept of one layer's pruning and weight sharing.
type LayerCompression struct {
	Layer   string `json:"layer"`
	Weights int    `json:"weights"`
	// Kept is the number of weights the pruning mask keeps (all of them without a mask).
	Kept int `json:"kept"`
	// Nonzero is the number of nonzero integer weights in the exported layer: Kept, unless a
	// kept weight rounded to integer 0.
	Nonzero int `json:"nonzero"`
	// Clusters is the codebook size of a clustered layer (0 if not clustered), Distinct the
	// number of distinct nonzero integer weights exported.
	Clusters int `json:"clusters,omitempty"`
	Distinct int `json:"distinct"`
}

// CheckCompression compares the integer model qm with the model m it was converted from, and
// fails unless every stage's work survived (DESIGN invariant 3): every pruned weight is integer
// 0, and a clustered layer has at most k distinct nonzero integer weights.
func CheckCompression(m *nn.Model, qm *qnet.Model) ([]LayerCompression, error) {
	var ints [][]int8
	for _, l := range qm.Layers {
		switch t := l.(type) {
		case *qnet.Conv2D:
			ints = append(ints, t.Weights)
		case *qnet.FullyConnected:
			ints = append(ints, t.Weights)
		}
	}
	ls := m.Quantized()
	if len(ls) != len(ints) {
		return nil, fmt.Errorf("export: %d weighted layers in the model, %d in the integer model", len(ls), len(ints))
	}
	var out []LayerCompression
	for i, l := range ls {
		w, q := l.Weights(), ints[i]
		if len(q) != w.Size() {
			return nil, fmt.Errorf("export: %s: %d integer weights for %d", l.Name(), len(q), w.Size())
		}
		c := LayerCompression{Layer: l.Name(), Weights: w.Size(), Kept: w.Size()}
		distinct := map[int8]bool{}
		for j, v := range q {
			pruned := (w.Mask != nil && w.Mask[j] == 0) || (w.Shared != nil && w.Shared.Assign[j] < 0)
			if pruned {
				c.Kept--
				if v != 0 {
					return nil, fmt.Errorf("export: %s: pruned weight %d exported as %d", l.Name(), j, v)
				}
			}
			if v != 0 {
				c.Nonzero++
				distinct[v] = true
			}
		}
		c.Distinct = len(distinct)
		if w.Shared != nil {
			c.Clusters = len(w.Shared.Centroids.Data)
			if c.Distinct > c.Clusters {
				return nil, fmt.Errorf("export: %s: %d distinct integer weights from a codebook of %d", l.Name(), c.Distinct, c.Clusters)
			}
		}
		out = append(out, c)
	}
	return out, nil
}
