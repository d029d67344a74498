package data

import (
	"slices"
	"testing"
)

// synth returns a set of n images of 3x2 pixels whose pixels encode the image index, and
// labels i%10.
func synth(n int) *Set {
	s := &Set{N: n, Rows: 3, Cols: 2, Images: make([]uint8, n*6), Labels: make([]uint8, n)}
	for i := range n {
		for j := range 6 {
			s.Images[i*6+j] = uint8(i*6 + j)
		}
		s.Labels[i] = uint8(i % 10)
	}
	return s
}

func isPerm(p []int, n int) bool {
	if len(p) != n {
		return false
	}
	seen := make([]bool, n)
	for _, v := range p {
		if v < 0 || v >= n || seen[v] {
			return false
		}
		seen[v] = true
	}
	return true
}

func TestEpochDeterministic(t *testing.T) {
	s := synth(1000)
	b := NewBatcher(s, 32, true, 42)
	e3 := b.Epoch(3)
	if !isPerm(e3, s.N) {
		t.Fatal("Epoch(3) is not a permutation of 0..N-1")
	}
	// Same (seed, epoch), even from a fresh Batcher with another batch size (a resumed run):
	// the same order.
	if !slices.Equal(NewBatcher(s, 7, true, 42).Epoch(3), e3) || !slices.Equal(b.Epoch(3), e3) {
		t.Error("Epoch(3) is not a function of (seed, epoch)")
	}
	seen := map[string]bool{}
	for e := range 20 {
		p := b.Epoch(e)
		if !isPerm(p, s.N) {
			t.Fatalf("Epoch(%d) is not a permutation", e)
		}
		key := string(intsKey(p))
		if seen[key] {
			t.Errorf("Epoch(%d) repeats an earlier epoch's order", e)
		}
		seen[key] = true
	}
	if slices.Equal(NewBatcher(s, 32, true, 43).Epoch(3), e3) {
		t.Error("seeds 42 and 43 give the same order")
	}
	if id := NewBatcher(s, 32, false, 42).Epoch(5); len(id) != s.N || !isIdentity(id) {
		t.Error("Epoch without shuffle is not the identity")
	}
}

func isIdentity(p []int) bool {
	for i, v := range p {
		if v != i {
			return false
		}
	}
	return true
}

func intsKey(p []int) []byte {
	b := make([]byte, 0, 4*len(p))
	for _, v := range p {
		b = append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
	}
	return b
}

// TestEpochGolden freezes the shuffle: changing the generator would silently change every
// seeded run, so it must show up here.
func TestEpochGolden(t *testing.T) {
	got := NewBatcher(synth(10), 1, true, 1).Epoch(0)
	want := goldenEpoch
	if !slices.Equal(got, want) {
		t.Errorf("Epoch(0) of 10 with seed 1 = %v, want %v", got, want)
	}
}

// TestShuffleUniform checks that every index lands in every position about equally often.
func TestShuffleUniform(t *testing.T) {
	const n, trials = 5, 20000
	var count [n][n]int
	p := make([]int, n)
	for e := range trials {
		for i := range p {
			p[i] = i
		}
		shuffle(p, 7, uint64(e))
		for pos, v := range p {
			count[pos][v]++
		}
	}
	for pos := range n {
		for v := range n {
			// Expected 4000, standard deviation about 57.
			if c := count[pos][v]; c < 3700 || c > 4300 {
				t.Errorf("index %d at position %d %d times in %d, want about %d", v, pos, c, trials, trials/n)
			}
		}
	}
}

func TestNumBatches(t *testing.T) {
	for _, c := range []struct{ n, size, want int }{{100, 10, 10}, {105, 10, 10}, {9, 10, 0}, {60000, 64, 937}} {
		if got := NewBatcher(synth(c.n), c.size, false, 0).NumBatches(); got != c.want {
			t.Errorf("NumBatches(N=%d, size=%d) = %d, want %d", c.n, c.size, got, c.want)
		}
	}
}

func TestFill(t *testing.T) {
	s := synth(50)
	const size = 4
	b := NewBatcher(s, size, true, 9)
	perm := b.Epoch(2)
	dst := make([]float32, size*6)
	oneHot := make([]float32, size*NumClasses)
	lab := make([]uint8, size)
	for i := range oneHot {
		oneHot[i] = -1 // Fill must clear stale values
	}
	for i := range b.NumBatches() {
		b.Fill(perm, i, dst, oneHot, lab)
		for k := range size {
			idx := perm[i*size+k]
			for j := range 6 {
				if want := float32(s.Images[idx*6+j]) / 255; dst[k*6+j] != want {
					t.Fatalf("batch %d sample %d pixel %d = %v, want %v", i, k, j, dst[k*6+j], want)
				}
			}
			if lab[k] != s.Labels[idx] {
				t.Fatalf("batch %d sample %d label %d, want %d", i, k, lab[k], s.Labels[idx])
			}
			for c := range NumClasses {
				want := float32(0)
				if c == int(s.Labels[idx]) {
					want = 1
				}
				if oneHot[k*NumClasses+c] != want {
					t.Fatalf("batch %d sample %d oneHot[%d] = %v, want %v", i, k, c, oneHot[k*NumClasses+c], want)
				}
			}
		}
	}
	// nil perm: identity order; nil oneHot and lab.
	b.Fill(nil, 2, dst, nil, nil)
	if dst[0] != float32(s.Images[2*size*6])/255 {
		t.Errorf("Fill(nil perm, batch 2) starts with %v, want image %d", dst[0], 2*size)
	}
	if pixelScale[255] != 1 || pixelScale[0] != 0 {
		t.Errorf("pixel scale of 0, 255 = %v, %v", pixelScale[0], pixelScale[255])
	}
}

func TestFillDoesNotAllocate(t *testing.T) {
	s := synth(256)
	b := NewBatcher(s, 32, true, 1)
	perm := b.Epoch(0)
	dst := make([]float32, 32*6)
	oneHot := make([]float32, 32*NumClasses)
	lab := make([]uint8, 32)
	if a := testing.AllocsPerRun(100, func() { b.Fill(perm, 3, dst, oneHot, lab) }); a != 0 {
		t.Errorf("Fill allocates %v times per call", a)
	}
}

func TestBatcherMisuse(t *testing.T) {
	s := synth(20)
	b := NewBatcher(s, 4, false, 0)
	dst := make([]float32, 4*6)
	perm := b.Epoch(0)
	mustPanic(t, "NewBatcher(size 0)", func() { NewBatcher(s, 0, false, 0) })
	mustPanic(t, "NewBatcher(size -1)", func() { NewBatcher(s, -1, false, 0) })
	mustPanic(t, "NewBatcher(nil)", func() { NewBatcher(nil, 1, false, 0) })
	mustPanic(t, "Fill(batch -1)", func() { b.Fill(perm, -1, dst, nil, nil) })
	mustPanic(t, "Fill(batch NumBatches)", func() { b.Fill(perm, b.NumBatches(), dst, nil, nil) })
	mustPanic(t, "Fill(short dst)", func() { b.Fill(perm, 0, dst[:5], nil, nil) })
	mustPanic(t, "Fill(short oneHot)", func() { b.Fill(perm, 0, dst, make([]float32, 39), nil) })
	mustPanic(t, "Fill(short lab)", func() { b.Fill(perm, 0, dst, nil, make([]uint8, 3)) })
	mustPanic(t, "Fill(short perm)", func() { b.Fill(perm[:7], 1, dst, nil, nil) })
	mustPanic(t, "Fill(perm out of range)", func() { b.Fill([]int{0, 1, 2, 20}, 0, dst, nil, nil) })
}

func BenchmarkFill64(b *testing.B) {
	train, _ := loadReal(b)
	bt := NewBatcher(train, 64, true, 1)
	perm := bt.Epoch(0)
	dst := make([]float32, 64*train.Rows*train.Cols)
	oneHot := make([]float32, 64*NumClasses)
	b.SetBytes(int64(64 * train.Rows * train.Cols))
	for i := 0; b.Loop(); i++ {
		bt.Fill(perm, i%bt.NumBatches(), dst, oneHot, nil)
	}
}

func BenchmarkLoad(b *testing.B) {
	dir, err := DefaultDir()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, _, err := Load(dir); err != nil {
			b.Fatal(err)
		}
	}
}

// goldenEpoch is Epoch(0) of a 10-image set with seed 1, recorded from this implementation and
// checked against an independent Python transcription of SplitMix64 + Lemire + Fisher-Yates.
var goldenEpoch = []int{5, 6, 1, 8, 7, 4, 3, 9, 0, 2}
