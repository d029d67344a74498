package f32

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// parallel2 runs f and g concurrently and returns when both are done; with GOMAXPROCS 1 it
// runs f, then g. Every caller splits its work in two fixed halves, so results never depend
// on which goroutine ran which half.
//
// g goes to a helper goroutine that, after each job, spins for up to helperSpin waiting for
// the next before it sleeps: a training step makes a few dozen short parallel sections with
// short serial gaps between them, and waking a parked thread for each (a new goroutine per
// call) left the second core idle for ~2.5 ms of a 14 ms LeNet-5 step (tens of microseconds
// per wake-up on this project's VM). A call made while the helper is busy (concurrent graphs,
// nested calls) runs g on a new goroutine instead.
func parallel2(f, g func()) {
	if runtime.GOMAXPROCS(0) < 2 {
		f()
		g()
		return
	}
	if !helper.busy.CompareAndSwap(false, true) {
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			g()
		}()
		f()
		wg.Wait()
		return
	}
	helper.once.Do(startHelper)
	helper.done.Store(false)
	helper.job.Store(&g)
	if helper.sleeping.Load() {
		select {
		case helper.wake <- struct{}{}:
		default:
		}
	}
	f()
	for i := 0; !helper.done.Load(); i++ {
		if i&1023 == 1023 {
			runtime.Gosched() // in case the helper waits for a P
		}
	}
	helper.busy.Store(false)
}

// helperSpin is how long the helper goroutine polls for a job before it sleeps: longer than
// the serial gaps of a training step (the optimizer's, between the backward pass and the
// update, outlasted 200 us and cost a ~300 us wake-up every step), short enough that an idle
// process stops spinning at once.
const helperSpin = 2 * time.Millisecond

var helper struct {
	once     sync.Once
	busy     atomic.Bool // a parallel2 call owns the helper
	job      atomic.Pointer[func()]
	done     atomic.Bool // the job has run
	sleeping atomic.Bool
	wake     chan struct{}
}

func startHelper() {
	helper.wake = make(chan struct{}, 1)
	go func() {
		for {
			if j := helper.job.Swap(nil); j != nil {
				(*j)()
				helper.done.Store(true)
				continue
			}
			// Poll for the next job, then sleep. sleeping is set before the last look at
			// job, and parallel2 stores job before it reads sleeping, so a job is never left
			// with the helper asleep.
			start := time.Now()
			for i := 1; helper.job.Load() == nil; i++ {
				if i&255 == 0 && time.Since(start) > helperSpin {
					helper.sleeping.Store(true)
					if helper.job.Load() == nil {
						<-helper.wake
					}
					helper.sleeping.Store(false)
					break
				}
			}
		}
	}()
}

// Parallel2 is the two-way split the ops use (see parallel2), for other code of a training
// step that splits its work in two fixed halves (train's optimizer update).
func Parallel2(f, g func()) { parallel2(f, g) }

// SplitBatch runs f(worker, lo, hi) for the images [0, h) and [h, n), h = (n+1)/2, on two
// goroutines. The partition depends on n only, which keeps reductions deterministic.
func SplitBatch(n int, f func(worker, lo, hi int)) {
	h := (n + 1) / 2
	if n < 2 {
		f(0, 0, n)
		f(1, n, n)
		return
	}
	parallel2(func() { f(0, 0, h) }, func() { f(1, h, n) })
}
