package f32

import (
	"runtime"
	"sync/atomic"
	"testing"
)

// Run calls f once for every part, whatever the number of workers, including from inside
// another Run (nested calls take new goroutines).
func TestRunCoversEveryPartOnce(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for workers := 1; workers <= 4; workers++ {
		runtime.GOMAXPROCS(workers)
		for _, parts := range []int{0, 1, 2, 3, 5, 17} {
			counts := make([]atomic.Int32, parts)
			var inner atomic.Int32
			Run(parts, func(p int) {
				counts[p].Add(1)
				Run(3, func(int) { inner.Add(1) })
			})
			for p := range counts {
				if c := counts[p].Load(); c != 1 {
					t.Fatalf("%d workers, %d parts: part %d ran %d times", workers, parts, p, c)
				}
			}
			if got := inner.Load(); got != int32(3*parts) {
				t.Fatalf("%d workers, %d parts: %d nested parts ran, want %d", workers, parts, got, 3*parts)
			}
		}
	}
}

// Part cuts [0, n) into parts contiguous pieces that cover it once; for two parts it is the
// halves [0, (n+1)/2), [(n+1)/2, n).
func TestPartCovers(t *testing.T) {
	for n := 0; n < 40; n++ {
		for parts := 1; parts <= 6; parts++ {
			next := 0
			for i := range parts {
				lo, hi := Part(n, parts, i)
				if lo != next || hi < lo {
					t.Fatalf("Part(%d, %d, %d) = [%d, %d), want start %d", n, parts, i, lo, hi, next)
				}
				next = hi
			}
			if next != n {
				t.Fatalf("Part(%d, %d, .) ends at %d", n, parts, next)
			}
		}
		if lo, hi := Part(n, 2, 1); lo != min((n+1)/2, n) || hi != n {
			t.Fatalf("Part(%d, 2, 1) = [%d, %d)", n, lo, hi)
		}
	}
}

// The reductions' cut does not depend on the number of workers: SplitRowsW and SplitBatch
// report the same parts for 1 to 4 workers.
func TestReductionCutIndependentOfWorkers(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	type cut [ReduceParts][2]int
	for _, rows := range []int{0, 1, 2, 7, 1 << 14, 3<<14 + 1} {
		var want cut
		for workers := 1; workers <= 4; workers++ {
			runtime.GOMAXPROCS(workers)
			var got, gotB cut
			SplitRowsW(rows, 1, func(p, lo, hi int) { got[p] = [2]int{lo, hi} })
			SplitBatch(rows, func(p, lo, hi int) { gotB[p] = [2]int{lo, hi} })
			if workers == 1 {
				want = got
			}
			if got != want {
				t.Fatalf("SplitRowsW(%d), %d workers: parts %v, with 1 worker %v", rows, workers, got, want)
			}
			if lo, hi := Part(rows, ReduceParts, 1); rows >= 2 && gotB[1] != [2]int{lo, hi} {
				t.Fatalf("SplitBatch(%d): parts %v", rows, gotB)
			}
		}
	}
}
