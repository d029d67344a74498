package checkpoint

import (
	"fmt"
	"math"

	"github.com/qatgo/qatgo/nn"
)

// CompressionState is one weight tensor's pruning mask and codebook in a checkpoint.
type CompressionState struct {
	Param     string
	Mask      []uint8   // 1 kept, 0 pruned; nil: no mask
	Centroids []float32 // the codebook; nil: not shared
	Assign    []int32   // per weight: centroid index, -1 for pruned weights
}

// SnapshotCompression copies the masks and codebooks of m's weight tensors (only those that
// have one).
func SnapshotCompression(m *nn.Model) []CompressionState {
	var cs []CompressionState
	for _, l := range m.Quantized() {
		w := l.Weights()
		if w.Mask == nil && w.Shared == nil {
			continue
		}
		s := CompressionState{Param: w.Name}
		if w.Mask != nil {
			s.Mask = make([]uint8, len(w.Mask))
			for i, v := range w.Mask {
				if v != 0 {
					s.Mask[i] = 1
				}
			}
		}
		if w.Shared != nil {
			s.Centroids = append([]float32(nil), w.Shared.Centroids.Data...)
			s.Assign = append([]int32(nil), w.Shared.Assign...)
		}
		cs = append(cs, s)
	}
	return cs
}

// RestoreCompression installs masks and codebooks into m (whose parameters are already
// restored), checking every length and value; the weights must agree with them (pruned
// weights zero).
func RestoreCompression(m *nn.Model, cs []CompressionState) error {
	byName := map[string]*nn.Param{}
	for _, l := range m.Quantized() {
		byName[l.Weights().Name] = l.Weights()
	}
	for _, s := range cs {
		w, ok := byName[s.Param]
		if !ok {
			return fmt.Errorf("checkpoint: checkpoint compresses %q, which is not a weight tensor of %s", s.Param, m.Arch)
		}
		if s.Mask != nil {
			if len(s.Mask) != w.Size() {
				return fmt.Errorf("checkpoint: mask of %s has %d values, tensor %d", s.Param, len(s.Mask), w.Size())
			}
			keep := make([]bool, len(s.Mask))
			for i, v := range s.Mask {
				if v > 1 {
					return fmt.Errorf("checkpoint: mask of %s has value %d at %d", s.Param, v, i)
				}
				if v == 0 && w.Data[i] != 0 {
					return fmt.Errorf("checkpoint: %s: weight %d is pruned but nonzero (%v)", s.Param, i, w.Data[i])
				}
				keep[i] = v == 1
			}
			w.Mask, w.Shared = nil, nil
			if err := w.Prune(keep); err != nil {
				return err
			}
		}
		if s.Centroids != nil {
			for i, c := range s.Centroids {
				if math.IsNaN(float64(c)) || math.IsInf(float64(c), 0) {
					return fmt.Errorf("checkpoint: centroid %d of %s is %v", i, s.Param, c)
				}
			}
			if err := w.Share(s.Centroids, s.Assign); err != nil {
				return err
			}
		}
	}
	return nil
}
