package train

import "testing"

func TestShiftImages(t *testing.T) {
	const h, w = 5, 5
	x := make([]float32, 2*h*w)
	for i := range x {
		x[i] = float32(i%(h*w) + 1)
	}
	orig := append([]float32(nil), x...)
	tmp := make([]float32, h*w)
	shiftImages(x, 2, h, w, 2, 7, 0, 0, tmp)
	y := append([]float32(nil), x...)
	// Same (seed, epoch, batch): same shifts.
	copy(x, orig)
	shiftImages(x, 2, h, w, 2, 7, 0, 0, tmp)
	for i := range x {
		if x[i] != y[i] {
			t.Fatal("shifts are not reproducible")
		}
	}
	// Every image is its original translated: find the offset that explains it.
	for n := 0; n < 2; n++ {
		found := false
		for dy := -2; dy <= 2 && !found; dy++ {
			for dx := -2; dx <= 2 && !found; dx++ {
				ok := true
				for yy := 0; yy < h && ok; yy++ {
					for xx := 0; xx < w && ok; xx++ {
						want := float32(0)
						if sy, sx := yy-dy, xx-dx; sy >= 0 && sy < h && sx >= 0 && sx < w {
							want = orig[n*h*w+sy*w+sx]
						}
						ok = y[n*h*w+yy*w+xx] == want
					}
				}
				found = ok
			}
		}
		if !found {
			t.Fatalf("image %d is not a translation of the original", n)
		}
	}
}
