package autograd_test

import (
	"fmt"
	"log"

	"github.com/qatgo/qatgo/autograd"
	"github.com/qatgo/qatgo/fakequant"
	"gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// FakeQuant in a graph: the forward pass snaps x to a 4-bit grid over [-1, 2] (scale 0.2,
// zero point 5), and the gradient of sum(y) passes straight through inside the range and is 0
// outside it.
func ExampleFakeQuant() {
	g := gorgonia.NewGraph()
	data := []float32{-1.5, -0.33, 0.12, 0.47, 1.95, 2.5}
	x := gorgonia.NewTensor(g, tensor.Float32, 1, gorgonia.WithShape(len(data)), gorgonia.WithName("x"),
		gorgonia.WithValue(tensor.New(tensor.WithShape(len(data)), tensor.WithBacking(data))))

	// A frozen range, as after QAT or calibration.
	q := &autograd.ActQuantizer{
		Ctx:    &autograd.Context{Mode: autograd.ModeEval},
		Scheme: fakequant.Scheme{Bits: 4},
		Min:    -1, Max: 2, Seen: true,
	}
	y, err := autograd.FakeQuant(x, q)
	if err != nil {
		log.Fatal(err)
	}
	loss, err := gorgonia.Sum(y)
	if err != nil {
		log.Fatal(err)
	}
	grads, err := gorgonia.Grad(loss, x)
	if err != nil {
		log.Fatal(err)
	}
	vm := gorgonia.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		log.Fatal(err)
	}
	fmt.Println(q.Params())
	fmt.Printf("x  %5.2f\n", data)
	fmt.Printf("y  %5.2f\n", y.Value().Data())
	fmt.Printf("dx %5.2f\n", grads[0].Value().Data())
	// Output:
	// scale=0.2 zp=5 [0,15]
	// x  [-1.50 -0.33  0.12  0.47  1.95  2.50]
	// y  [-1.00 -0.40  0.20  0.40  2.00  2.00]
	// dx [ 0.00  1.00  1.00  1.00  1.00  0.00]
}
