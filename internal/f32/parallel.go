package f32

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// The scheduler: work is cut into parts whose bounds depend only on the size of the work (and,
// for elementwise work, on the number of workers, which cannot change its result), and the
// parts run on up to Workers() goroutines. Two kinds of split:
//
//   - elementwise (SplitRows, SplitItems, Sgemm): every output element is computed by the
//     same operations whatever part it falls in, so any cut gives the same bits; the work is
//     cut into Workers() parts.
//   - reductions (SplitRowsW, SplitBatch, the per-part sums of dW and db): the work is always
//     cut into ReduceParts parts, each summed in order, and the callers add the part sums in
//     part order. The cut does not depend on the number of workers, so neither do the bits.
//
// A part runs on the calling goroutine or on a helper goroutine; which one never matters.

// ReduceParts is the fixed number of parts a reduction is cut into (whatever the number of
// workers): the partial sums of conv dW, bias and ReLU-bias gradients, LSQ step gradients.
const ReduceParts = 2

// maxWorkers bounds Workers.
const maxWorkers = 64

// Workers returns the number of goroutines work is spread over: GOMAXPROCS, at most maxWorkers.
func Workers() int { return max(1, min(runtime.GOMAXPROCS(0), maxWorkers)) }

// Part returns the bounds of part i of n items cut into parts parts of ceil(n/parts) items
// (the last ones shorter or empty).
func Part(n, parts, i int) (lo, hi int) {
	size := (n + parts - 1) / parts
	return min(i*size, n), min((i+1)*size, n)
}

// Run calls f(i) for every part i in [0, parts) and returns when all have returned. With W =
// min(parts, Workers()) workers, worker j runs parts j, j+W, j+2W, ... in order; worker 0 is
// the calling goroutine, the others are helper goroutines. f must give the same result
// whichever goroutine runs a part.
//
// A helper, after each job, spins for up to helperSpin waiting for the next before it sleeps:
// a training step makes a few dozen short parallel sections with short serial gaps between
// them, and waking a parked thread for each (a new goroutine per call) left the second core
// idle for ~2.5 ms of a 14 ms LeNet-5 step (tens of microseconds per wake-up on this project's
// VM). A call made while the helpers are busy (concurrent graphs, nested calls) runs its
// parts on new goroutines instead.
func Run(parts int, f func(part int)) {
	w := min(parts, Workers())
	if w <= 1 {
		for i := range parts {
			f(i)
		}
		return
	}
	if !pool.busy.CompareAndSwap(false, true) {
		var wg sync.WaitGroup
		for j := 1; j < w; j++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				runShare(j, w, parts, f)
			}()
		}
		runShare(0, w, parts, f)
		wg.Wait()
		return
	}
	// The helpers are the owner's (busy) until it stores busy false.
	for len(pool.helpers) < w-1 {
		pool.helpers = append(pool.helpers, startHelper())
	}
	for j := 1; j < w; j++ {
		h := pool.helpers[j-1]
		job := func() { runShare(j, w, parts, f) }
		h.done.Store(false)
		h.job.Store(&job)
		if h.sleeping.Load() {
			select {
			case h.wake <- struct{}{}:
			default:
			}
		}
	}
	runShare(0, w, parts, f)
	for j := 1; j < w; j++ {
		h := pool.helpers[j-1]
		for i := 0; !h.done.Load(); i++ {
			if i&1023 == 1023 {
				runtime.Gosched() // in case the helper waits for a P
			}
		}
	}
	pool.busy.Store(false)
}

// runShare runs worker j's parts of w workers.
func runShare(j, w, parts int, f func(int)) {
	for i := j; i < parts; i += w {
		f(i)
	}
}

// helperSpin is how long a helper goroutine polls for a job before it sleeps: longer than
// the serial gaps of a training step (the optimizer's, between the backward pass and the
// update, outlasted 200 us and cost a ~300 us wake-up every step), short enough that an idle
// process stops spinning at once.
const helperSpin = 2 * time.Millisecond

var pool struct {
	busy    atomic.Bool // a Run call owns the helpers
	helpers []*helper
}

type helper struct {
	job      atomic.Pointer[func()]
	done     atomic.Bool // the job has run
	sleeping atomic.Bool
	wake     chan struct{}
}

func startHelper() *helper {
	h := &helper{wake: make(chan struct{}, 1)}
	go func() {
		for {
			if j := h.job.Swap(nil); j != nil {
				(*j)()
				h.done.Store(true)
				continue
			}
			// Poll for the next job, then sleep. sleeping is set before the last look at
			// job, and Run stores job before it reads sleeping, so a job is never left with
			// the helper asleep.
			start := time.Now()
			for i := 1; h.job.Load() == nil; i++ {
				if i&255 == 0 && time.Since(start) > helperSpin {
					h.sleeping.Store(true)
					if h.job.Load() == nil {
						<-h.wake
					}
					h.sleeping.Store(false)
					break
				}
			}
		}
	}()
	return h
}

// elementwiseParallelMin is the number of elements from which the split functions use more
// than one goroutine; below it the handoff costs more than it saves.
const elementwiseParallelMin = 1 << 14

// SplitRows runs f over [0, rows) cut into Workers() parts when rows*width is large enough,
// else on the calling goroutine in one call. For elementwise work only (see the top of this
// file): the cut depends on the number of workers.
func SplitRows(rows, width int, f func(lo, hi int)) {
	parts := Workers()
	if rows < 2 || rows*width < elementwiseParallelMin || parts < 2 {
		f(0, rows)
		return
	}
	parts = min(parts, rows)
	Run(parts, func(i int) {
		if lo, hi := Part(rows, parts, i); lo < hi {
			f(lo, hi)
		}
	})
}

// CopyHalves is copy(dst, src) split over the workers: the identity passes of inactive
// quantizers (float training, the quant delay) and of signed weights' STE move whole
// activation and weight tensors every step (fc1's 400,000 weights, conv1's 737,280 outputs).
func CopyHalves(dst, src []float32) {
	SplitRows(len(src), 1, func(lo, hi int) { copy(dst[lo:hi], src[lo:hi]) })
}

// SplitRowsW runs f(part, lo, hi) for the ReduceParts parts of [0, rows), each part once,
// on up to ReduceParts workers: for reductions, each part summing into its own slot. Below
// elementwiseParallelMin elements (or with fewer than 2 rows) part 0 takes every row and the
// other parts none. The cut depends on rows and width only.
func SplitRowsW(rows, width int, f func(part, lo, hi int)) {
	if rows < 2 || rows*width < elementwiseParallelMin {
		f(0, 0, rows)
		for p := 1; p < ReduceParts; p++ {
			f(p, rows, rows)
		}
		return
	}
	Run(ReduceParts, func(p int) {
		lo, hi := Part(rows, ReduceParts, p)
		f(p, lo, hi)
	})
}

// SplitBatch runs f(part, lo, hi) for the ReduceParts parts of the images [0, n), each on up
// to ReduceParts workers: for the conv weight gradient, whose part sums are added in part
// order. The cut depends on n only.
func SplitBatch(n int, f func(part, lo, hi int)) {
	if n < 2 {
		f(0, 0, n)
		for p := 1; p < ReduceParts; p++ {
			f(p, n, n)
		}
		return
	}
	Run(ReduceParts, func(p int) {
		lo, hi := Part(n, ReduceParts, p)
		f(p, lo, hi)
	})
}

// ItemParts is the number of parts SplitItems cuts n independent items into: min(n,
// Workers()), at least 1. Callers size their per-part scratch buffers with it.
func ItemParts(n int) int { return max(1, min(n, Workers())) }

// SplitItems runs f(part, lo, hi) for the parts of [0, n) cut into parts parts (ItemParts(n)),
// for work whose items are independent (any cut gives the same bits), with per-part scratch
// buffers indexed by part.
func SplitItems(n, parts int, f func(part, lo, hi int)) {
	Run(parts, func(p int) {
		lo, hi := Part(n, parts, p)
		f(p, lo, hi)
	})
}
