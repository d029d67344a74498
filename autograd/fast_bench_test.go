package autograd_test

import (
	"testing"
	"time"

	"github.com/qatgo/qatgo/autograd"
	"gorgonia.org/gorgonia"
)

// convBenchGraph builds loss = sum(conv(x, w)) with the gradients of x and w on a tape
// machine, for one of LeNet-5's convolutions at batch 64.
func convBenchGraph(b *testing.B, cc convCase, conv func(x, w *gorgonia.Node) (*gorgonia.Node, error)) gorgonia.VM {
	rng := newRNG(31)
	g := gorgonia.NewGraph()
	x := input(g, "x", normals(rng, cc.n*cc.c*cc.h*cc.w, 1), cc.n, cc.c, cc.h, cc.w)
	w := input(g, "w", normals(rng, cc.o*cc.c*cc.k*cc.k, 0.3), cc.o, cc.c, cc.k, cc.k)
	y := must(b)(conv(x, w))
	loss := must(b)(gorgonia.Sum(y))
	if _, err := gorgonia.Grad(loss, x, w); err != nil {
		b.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(g)
	b.Cleanup(func() { vm.Close() })
	return vm
}

func runOnce(b *testing.B, vm gorgonia.VM) time.Duration {
	start := time.Now()
	err := vm.RunAll()
	vm.Reset()
	if err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// harnessGraph is the part of the benchmark graphs that is not the op under test: loss =
// sum(y) for an input y of the op's output shape, and its gradient (gorgonia materializes dy
// as a broadcast of ones).
func harnessGraph(b *testing.B, shape ...int) gorgonia.VM {
	g := gorgonia.NewGraph()
	size := 1
	for _, d := range shape {
		size *= d
	}
	y := input(g, "y", make([]float32, size), shape...)
	if _, err := gorgonia.Grad(must(b)(gorgonia.Sum(y)), y); err != nil {
		b.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(g)
	b.Cleanup(func() { vm.Close() })
	return vm
}

// BenchmarkConvForwardBackward times one forward and backward pass (y, dx, dw) of LeNet-5's
// two convolutions at batch 64 with gorgonia.Conv2d and with Conv2D, alternating the two in
// every iteration, and reports both times and their ratio (speedup = gorgonia / Conv2D). Both
// times include the harness (loss = sum(y) and its gradient), which is also timed alone;
// op-speedup is the ratio with the harness subtracted.
func BenchmarkConvForwardBackward(b *testing.B) {
	for _, layer := range []struct {
		name string
		cc   convCase
	}{{"conv1", convCases[0]}, {"conv2", convCases[1]}} {
		b.Run(layer.name, func(b *testing.B) {
			cc := layer.cc
			gvm := convBenchGraph(b, cc, func(x, w *gorgonia.Node) (*gorgonia.Node, error) { return gorgoniaConv(x, w, cc) })
			fvm := convBenchGraph(b, cc, func(x, w *gorgonia.Node) (*gorgonia.Node, error) {
				return autograd.Conv2D(x, w, cc.stride, cc.pad)
			})
			oh, ow := cc.outHW()
			hvm := harnessGraph(b, cc.n, cc.o, oh, ow)
			reportVersus(b, gvm, fvm, hvm)
		})
	}
}

// reportVersus runs the gorgonia graph, the fast graph and the harness alone in turn and
// reports their times and ratios.
func reportVersus(b *testing.B, gvm, fvm, hvm gorgonia.VM) {
	runOnce(b, gvm) // warm up: allocate values and buffers
	runOnce(b, fvm)
	runOnce(b, hvm)
	var tg, tf, th time.Duration
	for b.Loop() {
		tg += runOnce(b, gvm)
		tf += runOnce(b, fvm)
		th += runOnce(b, hvm)
	}
	n := float64(b.N)
	b.ReportMetric(float64(tg.Microseconds())/1e3/n, "gorgonia-ms/op")
	b.ReportMetric(float64(tf.Microseconds())/1e3/n, "fast-ms/op")
	b.ReportMetric(float64(th.Microseconds())/1e3/n, "harness-ms/op")
	b.ReportMetric(float64(tg)/float64(tf), "speedup")
	if tf > th {
		b.ReportMetric(float64(tg-th)/float64(tf-th), "op-speedup")
	}
}

// BenchmarkMaxPoolForwardBackward is BenchmarkConvForwardBackward for LeNet-5's first pool.
func BenchmarkMaxPoolForwardBackward(b *testing.B) {
	pc := poolCase{64, 20, 24, 24, 2, 2}
	build := func(pool func(x *gorgonia.Node) (*gorgonia.Node, error)) gorgonia.VM {
		g := gorgonia.NewGraph()
		x := input(g, "x", normals(newRNG(32), pc.n*pc.c*pc.h*pc.w, 1), pc.n, pc.c, pc.h, pc.w)
		loss := must(b)(gorgonia.Sum(must(b)(pool(x))))
		if _, err := gorgonia.Grad(loss, x); err != nil {
			b.Fatal(err)
		}
		vm := gorgonia.NewTapeMachine(g)
		b.Cleanup(func() { vm.Close() })
		return vm
	}
	gvm := build(func(x *gorgonia.Node) (*gorgonia.Node, error) {
		return gorgonia.MaxPool2D(x, []int{pc.k, pc.k}, []int{0, 0}, []int{pc.stride, pc.stride})
	})
	fvm := build(func(x *gorgonia.Node) (*gorgonia.Node, error) { return autograd.MaxPool2D(x, pc.k, pc.stride) })
	reportVersus(b, gvm, fvm, harnessGraph(b, pc.n, pc.c, (pc.h-pc.k)/pc.stride+1, (pc.w-pc.k)/pc.stride+1))
}
