package train

import "math/rand/v2"

// shiftImages translates each h x w image of the batch x by a random offset in
// [-maxShift, maxShift] pixels on each axis, filling with 0 (background). The offsets are a
// function of (seed, epoch, batch index), so augmented runs stay seeded and resumable.
func shiftImages(x []float32, n, h, w, maxShift int, seed uint64, epoch, batch int, tmp []float32) {
	rng := rand.New(rand.NewPCG(seed^0x5eed5eed, uint64(epoch)<<32|uint64(batch)))
	span := 2*maxShift + 1
	px := h * w
	for i := 0; i < n; i++ {
		dy, dx := rng.IntN(span)-maxShift, rng.IntN(span)-maxShift
		img := x[i*px : (i+1)*px]
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
