package nn

import (
	"testing"

	"github.com/qatgo/qatgo/data"
)

// nn keeps its own copy of the MNIST statistics so that it does not import data; they must be
// data's.
func TestMNISTStatsMatchData(t *testing.T) {
	if mnistMean != data.Mean || mnistStd != data.Std {
		t.Fatalf("nn normalizes by mean %v std %v, data says %v %v", mnistMean, mnistStd, data.Mean, data.Std)
	}
}
