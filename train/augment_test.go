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
	shiftImages(x, 2, 1, h, w, 2, 7, 0, 0, tmp)
	y := append([]float32(nil), x...)
	// Same (seed, epoch, batch): same shifts.
	copy(x, orig)
	shiftImages(x, 2, 1, h, w, 2, 7, 0, 0, tmp)
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

// A multi-channel image moves as one: every plane gets the offset a one-channel image gets
// from the same (seed, epoch, batch).
func TestShiftImagesChannels(t *testing.T) {
	const n, c, h, w = 3, 3, 6, 7
	one := make([]float32, n*h*w)
	for i := range one {
		one[i] = float32(i%(h*w) + 1 + 100*(i/(h*w)))
	}
	rgb := make([]float32, n*c*h*w)
	for i := 0; i < n; i++ {
		for ch := 0; ch < c; ch++ {
			copy(rgb[(i*c+ch)*h*w:], one[i*h*w:(i+1)*h*w])
		}
	}
	tmp := make([]float32, h*w)
	shiftImages(one, n, 1, h, w, 2, 9, 1, 4, tmp)
	shiftImages(rgb, n, c, h, w, 2, 9, 1, 4, tmp)
	moved := false
	for i := 0; i < n; i++ {
		for ch := 0; ch < c; ch++ {
			for j := 0; j < h*w; j++ {
				if rgb[(i*c+ch)*h*w+j] != one[i*h*w+j] {
					t.Fatalf("image %d plane %d pixel %d: %v, the one-channel shift gives %v", i, ch, j, rgb[(i*c+ch)*h*w+j], one[i*h*w+j])
				}
			}
		}
		moved = moved || one[i*h*w] != float32(1+100*i)
	}
	if !moved {
		t.Error("no image moved: the test shows nothing")
	}
}
