package qnet

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestPackBitsVectors(t *testing.T) {
	for _, tc := range []struct {
		vals []int8
		bits int
		want []byte
	}{
		{[]int8{-128, 127, 0, -1}, 8, []byte{0x80, 0x7f, 0x00, 0xff}},
		{[]int8{1, -1}, 4, []byte{0xf1}},              // first value in the low nibble
		{[]int8{-8, 7, 3}, 4, []byte{0x78, 0x03}},     // odd count: high nibble of the last byte is 0
		{[]int8{1, -1, 0, -2}, 2, []byte{0x8d}},       // 01 11 00 10, LSB first
		{[]int8{1, -1, 0, -2, 1}, 2, []byte{0x8d, 1}}, // 5th value starts a new byte
		{[]int8{1, 2, 3}, 3, []byte{0xd1, 0x00}},      // 001 010 011: the third straddles bytes
		{[]int8{-1, -1, -1}, 3, []byte{0xff, 0x01}},
		{[]int8{-16, 15}, 5, []byte{0xf0, 0x01}},
		{[]int8{-32, 31}, 6, []byte{0xe0, 0x07}},
		{[]int8{-64, 63}, 7, []byte{0xc0, 0x1f}},
		{nil, 5, []byte{}},
	} {
		got := PackBits(tc.vals, tc.bits)
		if !bytes.Equal(got, tc.want) {
			t.Errorf("PackBits(%v, %d) = %#x, want %#x", tc.vals, tc.bits, got, tc.want)
		}
		back, err := UnpackBits(got, len(tc.vals), tc.bits)
		if err != nil || !slices.Equal(back, tc.vals) {
			t.Errorf("UnpackBits(%#x, %d, %d) = %v, %v; want %v", got, len(tc.vals), tc.bits, back, err, tc.vals)
		}
	}
}

func TestPackBitsRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for bits := 2; bits <= 8; bits++ {
		lo, hi := -(1 << (bits - 1)), 1<<(bits-1)-1
		for n := 0; n <= 67; n++ {
			vals := make([]int8, n)
			for i := range vals {
				switch rng.IntN(4) {
				case 0:
					vals[i] = int8(lo)
				case 1:
					vals[i] = int8(hi)
				default:
					vals[i] = int8(lo + rng.IntN(hi-lo+1))
				}
			}
			packed := PackBits(vals, bits)
			if len(packed) != PackedLen(n, bits) || len(packed) != (n*bits+7)/8 {
				t.Fatalf("bits %d n %d: %d bytes, want %d", bits, n, len(packed), (n*bits+7)/8)
			}
			got, err := UnpackBits(packed, n, bits)
			if err != nil {
				t.Fatalf("bits %d n %d: %v", bits, n, err)
			}
			if !slices.Equal(got, vals) {
				t.Fatalf("bits %d n %d: round trip\n got %v\nwant %v", bits, n, got, vals)
			}
		}
		// Every value of the width, in order.
		var all []int8
		for v := lo; v <= hi; v++ {
			all = append(all, int8(v))
		}
		got, err := UnpackBits(PackBits(all, bits), len(all), bits)
		if err != nil || !slices.Equal(got, all) {
			t.Fatalf("bits %d: full range round trip: %v, %v", bits, got, err)
		}
	}
}

func TestUnpackBitsErrors(t *testing.T) {
	for _, tc := range []struct {
		name      string
		b         []byte
		n, bits   int
		truncated bool
	}{
		{"bits 1", []byte{0}, 1, 1, false},
		{"bits 9", []byte{0, 0}, 1, 9, false},
		{"negative n", []byte{0}, -1, 4, false},
		{"short", []byte{0}, 3, 4, true},
		{"huge n", []byte{0}, 1 << 62, 8, true},
		{"long", []byte{0, 0}, 1, 4, false},
		{"padding bits", []byte{0x10}, 1, 4, false},
		{"padding bits 3", []byte{0xff, 0x03}, 3, 3, false},
	} {
		_, err := UnpackBits(tc.b, tc.n, tc.bits)
		var fe *FormatError
		if !errors.As(err, &fe) {
			t.Errorf("%s: err = %v, want *FormatError", tc.name, err)
			continue
		}
		if fe.Truncated != tc.truncated {
			t.Errorf("%s: Truncated = %v, want %v (%v)", tc.name, fe.Truncated, tc.truncated, err)
		}
	}
}

func TestPackBitsPanics(t *testing.T) {
	for name, f := range map[string]func(){
		"bits 1":          func() { PackBits([]int8{0}, 1) },
		"bits 9":          func() { PackBits([]int8{0}, 9) },
		"4-bit overflow":  func() { PackBits([]int8{8}, 4) },
		"2-bit underflow": func() { PackBits([]int8{-3}, 2) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
