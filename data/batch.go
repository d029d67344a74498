package data

import (
	"fmt"
	"math/bits"
)

// pixelScale[p] = float32(p)/255, the pixel scaling of Fill.
var pixelScale = func() (t [256]float32) {
	for p := range t {
		t[p] = float32(p) / 255
	}
	return t
}()

// A Batcher cuts a Set into full batches in a per-epoch order.
type Batcher struct {
	set     *Set
	size    int
	shuffle bool
	seed    uint64
}

// NewBatcher returns a Batcher over s with the given batch size. With shuffle, Epoch returns a
// permutation derived from (seed, epoch); without, the identity. It panics if s is nil or
// batchSize <= 0.
func NewBatcher(s *Set, batchSize int, shuffle bool, seed uint64) *Batcher {
	if s == nil {
		panic("data: NewBatcher with nil set")
	}
	if batchSize <= 0 {
		panic(fmt.Sprintf("data: NewBatcher with batch size %d, want > 0", batchSize))
	}
	return &Batcher{set: s, size: batchSize, shuffle: shuffle, seed: seed}
}

// Set returns the set b batches.
func (b *Batcher) Set() *Set { return b.set }

// BatchSize returns the number of images per batch.
func (b *Batcher) BatchSize() int { return b.size }

// NumBatches returns the number of full batches, N / batchSize; a last partial batch is
// dropped.
func (b *Batcher) NumBatches() int { return b.set.N / b.size }

// Epoch returns the order of the images in epoch epoch: a new slice holding a permutation of
// 0..N-1. With shuffling it is a deterministic function of (seed, epoch) alone, so a run
// resumed at epoch e reproduces the order of the uninterrupted run; without, it is the
// identity.
func (b *Batcher) Epoch(epoch int) []int {
	perm := make([]int, b.set.N)
	for i := range perm {
		perm[i] = i
	}
	if b.shuffle {
		shuffle(perm, b.seed, uint64(epoch))
	}
	return perm
}

// Fill copies batch i of the order perm into the caller's buffers: the pixels of image
// perm[i*batchSize+k] scaled to p/255 (not normalized by Mean and Std) into
// dst[k*Rows*Cols:(k+1)*Rows*Cols], its label one-hot into oneHot[k*10:(k+1)*10] and as a
// number into lab[k]. oneHot and lab may be nil. A nil perm means the identity order. Fill does
// not allocate.
//
// It panics if i is not in [0, NumBatches()), if len(dst) != batchSize*Rows*Cols, if oneHot is
// non-nil and len(oneHot) != batchSize*10, if lab is non-nil and len(lab) != batchSize, or if
// perm is too short or holds an index out of range.
func (b *Batcher) Fill(perm []int, i int, dst []float32, oneHot []float32, lab []uint8) {
	s := b.set
	sz, classes := s.ImageSize(), s.ClassCount()
	switch {
	case i < 0 || i >= b.NumBatches():
		panic(fmt.Sprintf("data: Fill batch %d out of range [0, %d)", i, b.NumBatches()))
	case len(dst) != b.size*sz:
		panic(fmt.Sprintf("data: Fill dst has length %d, want %d*%d", len(dst), b.size, sz))
	case oneHot != nil && len(oneHot) != b.size*classes:
		panic(fmt.Sprintf("data: Fill oneHot has length %d, want %d*%d", len(oneHot), b.size, classes))
	case lab != nil && len(lab) != b.size:
		panic(fmt.Sprintf("data: Fill lab has length %d, want %d", len(lab), b.size))
	case perm != nil && len(perm) < (i+1)*b.size:
		panic(fmt.Sprintf("data: Fill perm has length %d, too short for batch %d of %d", len(perm), i, b.size))
	}
	for k := 0; k < b.size; k++ {
		idx := i*b.size + k
		if perm != nil {
			idx = perm[idx]
		}
		if idx < 0 || idx >= s.N {
			panic(fmt.Sprintf("data: Fill perm[%d] = %d out of range [0, %d)", i*b.size+k, idx, s.N))
		}
		out := dst[k*sz : (k+1)*sz]
		for j, p := range s.Images[idx*sz : (idx+1)*sz] {
			out[j] = pixelScale[p]
		}
		l := s.Labels[idx]
		if int(l) >= classes {
			panic(fmt.Sprintf("data: Fill label of image %d is %d, want 0..%d", idx, l, classes-1))
		}
		if oneHot != nil {
			row := oneHot[k*classes : (k+1)*classes]
			clear(row)
			row[l] = 1
		}
		if lab != nil {
			lab[k] = l
		}
	}
}

// shuffle permutes p in place by Fisher-Yates with a SplitMix64 stream keyed by (seed,
// stream). It is defined here, not taken from math/rand, so that orders are the same under
// every Go version.
func shuffle(p []int, seed, stream uint64) {
	// mix64 is a bijection, so distinct streams of one seed get distinct states.
	r := splitMix{state: mix64(mix64(seed) ^ stream)}
	for i := len(p) - 1; i > 0; i-- {
		j := r.below(uint64(i) + 1)
		p[i], p[j] = p[j], p[i]
	}
}

// splitMix is the SplitMix64 generator (Steele, Lea, Flood 2014).
type splitMix struct{ state uint64 }

const golden = 0x9e3779b97f4a7c15

func (r *splitMix) next() uint64 {
	r.state += golden
	return mix64(r.state)
}

// mix64 is the SplitMix64 output function, a bijection on uint64.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// below returns a uniform value in [0, n), n > 0, by Lemire's multiply-and-reject method.
func (r *splitMix) below(n uint64) uint64 {
	hi, lo := bits.Mul64(r.next(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(r.next(), n)
		}
	}
	return hi
}

// FillPadded copies images first..first+n-1 of s into dst as p/255 for a batch of size
// len(dst)/(Rows*Cols), in order, and pads the rest of the batch with copies of image first
// (real images, so statistics taken over the batch stay plausible). The caller reads only the
// first n results. It panics if n < 1, n exceeds the batch, the images are out of range, or
// len(dst) is not a whole number of images.
func (s *Set) FillPadded(dst []float32, first, n int) {
	px := s.ImageSize()
	batch := len(dst) / px
	if px == 0 || len(dst)%px != 0 || n < 1 || n > batch || first < 0 || first+n > s.N {
		panic(fmt.Sprintf("data: FillPadded(first %d, n %d) into %d values with %d-pixel images of a set of %d", first, n, len(dst), px, s.N))
	}
	for i := 0; i < batch; i++ {
		src := first
		if i < n {
			src = first + i
		}
		out := dst[i*px : (i+1)*px]
		for j, p := range s.Image(src) {
			out[j] = pixelScale[p]
		}
	}
}

// MismatchError says that a set does not fit a model: its image shape or its classes. The
// commands report it as a usage error (the --data and --model or --from given do not fit).
type MismatchError struct{ Msg string }

func (e *MismatchError) Error() string { return "data: " + e.Msg }

func mismatch(format string, args ...any) error {
	return &MismatchError{Msg: fmt.Sprintf(format, args...)}
}

// CheckInput returns a *MismatchError unless the set's images are c x h x w.
func (s *Set) CheckInput(c, h, w int) error {
	if s.ChannelCount() != c || s.Rows != h || s.Cols != w {
		return mismatch("images are %dx%dx%d (CxHxW), the model takes %dx%dx%d", s.ChannelCount(), s.Rows, s.Cols, c, h, w)
	}
	return nil
}

// CheckClasses returns a *MismatchError unless the set has the given number of classes (the
// test of a set a model trains on).
func (s *Set) CheckClasses(classes int) error {
	if s.ClassCount() != classes {
		return mismatch("the set has %d classes, the model outputs %d", s.ClassCount(), classes)
	}
	return nil
}

// CheckLabels returns a *MismatchError unless every label of the set is below classes (a
// model's output count): the test of a set a model only evaluates, which may lack its top
// classes.
func (s *Set) CheckLabels(classes int) error {
	if s.ClassCount() > classes {
		return mismatch("the set has %d classes (labels up to %d), the model outputs %d", s.ClassCount(), s.ClassCount()-1, classes)
	}
	return nil
}

// CheckShape returns a *MismatchError unless the set's images are h x w (any channels: see
// CheckInput).
func (s *Set) CheckShape(h, w int) error {
	if s.Rows != h || s.Cols != w {
		return mismatch("images are %dx%d, the model takes %dx%d", s.Cols, s.Rows, w, h)
	}
	return nil
}
