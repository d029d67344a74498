package train

import (
	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/nn"
)

// ForEachBatch runs graph gr over the first limit images of s (all if limit <= 0) in order,
// in batches of gr.Batch; a last partial batch is padded with real images (data.FillPadded).
// fn receives the first index and the number of real images in the batch.
func ForEachBatch(gr *nn.Graph, s *data.Set, limit int, fn func(first, n int) error) error {
	n := s.N
	if limit > 0 && limit < n {
		n = limit
	}
	for first := 0; first < n; first += gr.Batch {
		cnt := min(gr.Batch, n-first)
		s.FillPadded(gr.Input(), first, cnt)
		if _, err := gr.Run(); err != nil {
			return err
		}
		if err := fn(first, cnt); err != nil {
			return err
		}
	}
	return nil
}

// Argmax returns the index of the largest value (lowest index on ties), the same rule as the
// integer engine.
func Argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// Predict runs the model (in its current mode) over the first limit images of s (all if
// limit <= 0) and returns the predicted classes.
func Predict(gr *nn.Graph, s *data.Set, limit int) ([]int, error) {
	var preds []int
	k := gr.Model.Classes
	err := ForEachBatch(gr, s, limit, func(first, n int) error {
		logits := gr.LogitsData()
		for i := 0; i < n; i++ {
			preds = append(preds, Argmax(logits[i*k:(i+1)*k]))
		}
		return nil
	})
	return preds, err
}

// Accuracy returns the fraction of preds equal to the labels of s.
func Accuracy(preds []int, s *data.Set) float64 {
	if len(preds) == 0 {
		return 0
	}
	ok := 0
	for i, p := range preds {
		if p == int(s.Labels[i]) {
			ok++
		}
	}
	return float64(ok) / float64(len(preds))
}

// Evaluate returns the accuracy of the model (in its current mode) on the first limit images.
func Evaluate(gr *nn.Graph, s *data.Set, limit int) (float64, error) {
	preds, err := Predict(gr, s, limit)
	if err != nil {
		return 0, err
	}
	return Accuracy(preds, s), nil
}
