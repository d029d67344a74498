package train

import "math/rand/v2"

// shiftImages translates each image of the batch x (c planes of h x w, CHW) by a random offset
// in [-maxShift, maxShift] pixels on each axis, the same for all its planes, filling with 0
// (background). The offsets are a function of (seed, epoch, batch index), one pair per image
// whatever c, so augmented runs stay seeded and resumable. tmp holds at least h*w values.
func shiftImages(x []float32, n, c, h, w, maxShift int, seed uint64, epoch, batch int, tmp []float32) {
	rng := rand.New(rand.NewPCG(seed^0x5eed5eed, uint64(epoch)<<32|uint64(batch)))
	span := 2*maxShift + 1
	px := h * w
	for i := 0; i < n; i++ {
		dy, dx := rng.IntN(span)-maxShift, rng.IntN(span)-maxShift
		for ch := 0; ch < c; ch++ {
			img := x[(i*c+ch)*px : (i*c+ch+1)*px]
			copy(tmp, img)
			for y := 0; y < h; y++ {
				sy := y - dy
				for xx := 0; xx < w; xx++ {
					sx := xx - dx
					v := float32(0)
					if sy >= 0 && sy < h && sx >= 0 && sx < w {
						v = tmp[sy*w+sx]
					}
					img[y*w+xx] = v
				}
			}
		}
	}
}
