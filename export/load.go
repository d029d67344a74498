package export

import (
	"io"
	"os"

	"github.com/qatgo/qatgo/data"
	"github.com/qatgo/qatgo/export/qnet"
	"github.com/qatgo/qatgo/train"
)

// LoadInteger returns the integer model of from: an integer model file (one that starts
// with qnet.Magic) read as it is, or a trained checkpoint (file or run directory) converted by
// Convert, with CheckCompression's checks of what pruning and clustering built.
func LoadInteger(from string) (*qnet.Model, error) {
	if isModelFile(from) {
		return qnet.ReadFile(from)
	}
	ck, err := train.LoadCheckpoint(from)
	if err != nil {
		return nil, err
	}
	m, err := ck.Model()
	if err != nil {
		return nil, err
	}
	qm, err := Convert(m)
	if err != nil {
		return nil, err
	}
	if _, err := CheckCompression(m, qm); err != nil {
		return nil, err
	}
	return qm, nil
}

// isModelFile reports whether path is a regular file that starts with qnet.Magic.
func isModelFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		return false
	}
	head := make([]byte, len(qnet.Magic))
	_, err = io.ReadFull(f, head)
	return err == nil && string(head) == qnet.Magic
}

// IntegerAccuracy is the integer engine's accuracy on the first limit images of s (all if
// limit <= 0 or beyond s), and the number of images.
func IntegerAccuracy(qm *qnet.Model, s *data.Set, limit int) (float64, int) {
	n := s.N
	if limit > 0 && limit < n {
		n = limit
	}
	if n == 0 {
		return 0, 0
	}
	pred := make([]int, n)
	qm.NewRunner().PredictBatch(s.Images[:n*s.ImageSize()], n, pred)
	ok := 0
	for i, p := range pred {
		if p == int(s.Labels[i]) {
			ok++
		}
	}
	return float64(ok) / float64(n), n
}
