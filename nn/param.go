package nn

import (
	"math"
	"math/rand/v2"
)

// Param is a trainable tensor: a name, a shape and its float32 values.
type Param struct {
	Name  string
	Shape []int
	Data  []float32
	// Mask, when set, is the pruning mask of a weight tensor: 1 keeps a weight, 0 prunes it
	// (Prune). Graphs multiply the weights by it, so pruned weights are exactly zero and get
	// exactly zero gradient.
	Mask []float32
	// Shared, when set, makes the tensor a view of a trained codebook (Share).
	Shared *Shared
}

func newParam(name string, shape ...int) *Param {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return &Param{Name: name, Shape: shape, Data: make([]float32, n)}
}

// Size returns the number of values.
func (p *Param) Size() int { return len(p.Data) }

// heNormal fills p with N(0, 2/fanIn) values from rng (He initialization for ReLU layers).
func heNormal(p *Param, fanIn int, rng *rand.Rand) {
	std := math.Sqrt(2 / float64(fanIn))
	for i := range p.Data {
		p.Data[i] = float32(rng.NormFloat64() * std)
	}
}
