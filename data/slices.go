package data

import (
	"fmt"
	"math"
)

// MaxChannels bounds the channels of an in-memory set's images.
const MaxChannels = 4096

// MaxSliceClasses is the largest class count of an in-memory set: labels are stored as bytes.
const MaxSliceClasses = 256

// FromUint8 builds a Set from images already on the uint8 pixel grid: n = len(labels) images
// of c x h x w bytes each, CHW, one after another (the models see p/255). The class count is
// taken from the data: the largest label plus one (at least 2). The set owns copies of the
// slices.
func FromUint8(images []uint8, labels []int, c, h, w int) (*Set, error) {
	s, err := newSliceSet(len(images), labels, c, h, w)
	if err != nil {
		return nil, err
	}
	s.Images = append([]uint8(nil), images...)
	return s, nil
}

// FromFloat32 builds a Set from float images, mapping the range [lo, hi] the caller names
// linearly onto the pixel grid: p = round((x - lo)/(hi - lo) * 255), ties away from zero. The
// model then sees p/255 in [0, 1]; any further normalization is explicit, in the model
// (nn.Spec.Normalize). A value outside [lo, hi], or NaN, is an error naming its index: nothing
// is clipped silently. Layout and class count as in FromUint8.
func FromFloat32(images []float32, labels []int, c, h, w int, lo, hi float32) (*Set, error) {
	if !(hi > lo) || math.IsInf(float64(hi-lo), 0) {
		return nil, fmt.Errorf("data: pixel range [%v, %v]: want finite lo < hi", lo, hi)
	}
	s, err := newSliceSet(len(images), labels, c, h, w)
	if err != nil {
		return nil, err
	}
	s.Images = make([]uint8, len(images))
	span := float64(hi) - float64(lo)
	for i, x := range images {
		if !(x >= lo && x <= hi) {
			return nil, fmt.Errorf("data: value %d is %v, outside the pixel range [%v, %v]", i, x, lo, hi)
		}
		s.Images[i] = uint8(math.Round((float64(x) - float64(lo)) / span * 255))
	}
	return s, nil
}

func newSliceSet(values int, labels []int, c, h, w int) (*Set, error) {
	if c < 1 || c > MaxChannels || h < 1 || h > MaxDim || w < 1 || w > MaxDim {
		return nil, fmt.Errorf("data: image shape %dx%dx%d: want C in 1..%d, H and W in 1..%d", c, h, w, MaxChannels, MaxDim)
	}
	n := len(labels)
	if n == 0 {
		return nil, fmt.Errorf("data: no labels")
	}
	size := c * h * w // at most 4096*1024*1024: no overflow
	if values%size != 0 || values/size != n {
		return nil, fmt.Errorf("data: %d image values for %d labels of %dx%dx%d images (want %d)", values, n, c, h, w, n*size)
	}
	s := &Set{Labels: make([]uint8, n), N: n, Rows: h, Cols: w, Channels: c}
	top := 0
	for i, l := range labels {
		if l < 0 || l >= MaxSliceClasses {
			return nil, fmt.Errorf("data: label %d is %d, want 0..%d", i, l, MaxSliceClasses-1)
		}
		s.Labels[i] = uint8(l)
		top = max(top, l)
	}
	s.Classes = max(top+1, 2)
	return s, nil
}

// Split returns the first len-n images of s as the training part and the last n as a
// validation set, both sharing memory with s and keeping its shape and class count. n must be
// in 1..N-1.
func (s *Set) Split(n int) (train, val *Set, err error) {
	if n < 1 || n >= s.N {
		return nil, nil, fmt.Errorf("data: validation split of %d images from a set of %d: want 1..%d", n, s.N, s.N-1)
	}
	sz := s.ImageSize()
	k := s.N - n
	train = s.Subset(k)
	val = &Set{
		Images: s.Images[k*sz : s.N*sz : s.N*sz], Labels: s.Labels[k:s.N:s.N], N: n,
		Rows: s.Rows, Cols: s.Cols, Channels: s.Channels, Classes: s.Classes,
	}
	return train, val, nil
}
