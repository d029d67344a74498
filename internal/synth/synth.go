// Package synth makes the seeded synthetic image set that the tests of custom (not built-in)
// models share: 3 x 16 x 16 images of 4 classes, neither MNIST's shape nor its class count.
package synth

import (
	"math/rand/v2"

	"github.com/qatgo/qatgo/data"
)

// Channels, Height and Width are the images' shape; Classes their class count.
const (
	Channels, Height, Width = 3, 16, 16
	Classes                 = 4
)

// Squares returns n seeded images: class k is a bright 6 x 6 square in quadrant k (shifted by
// up to 2 pixels), in a colour of its own (channel k%3; all three channels for class 3), on
// noise below 80.
func Squares(n int, seed uint64) (*data.Set, error) {
	rng := rand.New(rand.NewPCG(seed, 7))
	const c, h, w = Channels, Height, Width
	imgs := make([]uint8, n*c*h*w)
	labels := make([]int, n)
	for i := range labels {
		k := rng.IntN(Classes)
		labels[i] = k
		img := imgs[i*c*h*w : (i+1)*c*h*w]
		for j := range img {
			img[j] = uint8(rng.IntN(80))
		}
		y0, x0 := 8*(k/2)+rng.IntN(3), 8*(k%2)+rng.IntN(3)
		for ch := 0; ch < c; ch++ {
			if ch == k%3 || k == 3 {
				for y := y0; y < y0+6; y++ {
					for x := x0; x < x0+6; x++ {
						img[ch*h*w+y*w+x] = uint8(170 + rng.IntN(86))
					}
				}
			}
		}
	}
	return data.FromUint8(imgs, labels, c, h, w)
}
