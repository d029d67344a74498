package fakequant

import (
	"fmt"
	"math"
)

// PerChannelSymmetric returns one SymmetricParams per output channel of the weights w, from
// the channel's largest |w|. w holds `channels` equal contiguous blocks: axis 0 of an OIHW
// convolution kernel or of an [out][in] matrix. NaNs are ignored.
//
// It panics if channels <= 0, if len(w) is not a multiple of channels, or if a block holds
// an infinite weight.
func PerChannelSymmetric(w []float32, channels int, s Scheme) []Params {
	per := blockSize("PerChannelSymmetric", len(w), channels)
	ps := make([]Params, channels)
	for c := range ps {
		absMax := 0.0
		for _, v := range w[c*per : (c+1)*per] {
			if a := math.Abs(float64(v)); a > absMax { // false for NaN: NaNs are ignored
				absMax = a
			}
		}
		ps[c] = SymmetricParams(absMax, s)
	}
	return ps
}

// FakeQuantizePerChannel fake-quantizes src into dst block by block: src holds len(ps) equal
// contiguous blocks and block i uses ps[i], as in FakeQuantizeSlice. dst may alias src.
// It panics if len(dst) != len(src), if ps is empty or if len(src) is not a multiple of len(ps).
func FakeQuantizePerChannel(dst, src []float32, ps []Params) {
	if len(dst) != len(src) {
		panic(fmt.Sprintf("fakequant: FakeQuantizePerChannel: len(dst) %d != len(src) %d", len(dst), len(src)))
	}
	per := blockSize("FakeQuantizePerChannel", len(src), len(ps))
	for c, p := range ps {
		lo, hi := c*per, (c+1)*per
		FakeQuantizeSlice(dst[lo:hi], src[lo:hi], p)
	}
}

// QuantizePerChannel quantizes src into dst block by block: block i of the len(ps) equal
// contiguous blocks uses ps[i], as in QuantizeSlice. It panics like FakeQuantizePerChannel.
func QuantizePerChannel(dst []int32, src []float32, ps []Params) {
	if len(dst) != len(src) {
		panic(fmt.Sprintf("fakequant: QuantizePerChannel: len(dst) %d != len(src) %d", len(dst), len(src)))
	}
	per := blockSize("QuantizePerChannel", len(src), len(ps))
	for c, p := range ps {
		lo, hi := c*per, (c+1)*per
		QuantizeSlice(dst[lo:hi], src[lo:hi], p)
	}
}

// blockSize returns n / channels, panicking unless it is a positive channel count that
// divides n.
func blockSize(fn string, n, channels int) int {
	if channels <= 0 {
		panic(fmt.Sprintf("fakequant: %s: %d channels", fn, channels))
	}
	if n%channels != 0 {
		panic(fmt.Sprintf("fakequant: %s: length %d not a multiple of %d channels", fn, n, channels))
	}
	return n / channels
}
