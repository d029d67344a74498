package data

import (
	"math"
	"strings"
	"testing"
)

func TestFromUint8(t *testing.T) {
	// 3 images of 2 x 2 x 3, labels 0, 4, 2: 5 classes from the data.
	imgs := make([]uint8, 3*12)
	for i := range imgs {
		imgs[i] = uint8(i)
	}
	s, err := FromUint8(imgs, []int{0, 4, 2}, 2, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if s.N != 3 || s.ChannelCount() != 2 || s.Rows != 2 || s.Cols != 3 || s.ClassCount() != 5 || s.ImageSize() != 12 {
		t.Fatalf("set %d images %dx%dx%d, %d classes", s.N, s.ChannelCount(), s.Rows, s.Cols, s.ClassCount())
	}
	imgs[12] = 99 // the set owns a copy
	if got := s.Image(1); got[0] != 12 || got[11] != 23 || cap(got) != 12 {
		t.Fatalf("image 1 = %v (cap %d)", got, cap(got))
	}
	// Fill: p/255 over the whole CHW image, one-hot over 5 classes.
	b := NewBatcher(s, 3, false, 0)
	x, y, lab := make([]float32, 3*12), make([]float32, 3*5), make([]uint8, 3)
	b.Fill(nil, 0, x, y, lab)
	if x[12+11] != float32(23)/255 || y[5+4] != 1 || y[5+3] != 0 || lab[2] != 2 {
		t.Fatalf("Fill: x %v, y %v, labels %v", x[12:24], y[5:10], lab)
	}
	if err := s.CheckInput(2, 2, 3); err != nil {
		t.Error(err)
	}
	if err := s.CheckInput(1, 2, 3); err == nil {
		t.Error("CheckInput accepted 1 channel for a 2-channel set")
	}
	if err := s.CheckClasses(10); err == nil {
		t.Error("CheckClasses accepted 10 classes for a 5-class set")
	}
	// A single class still makes a two-class problem.
	if s, err := FromUint8(make([]uint8, 4), []int{0, 0, 0, 0}, 1, 1, 1); err != nil || s.ClassCount() != 2 {
		t.Errorf("one label value: %v classes, %v", s.ClassCount(), err)
	}
	for _, c := range []struct {
		imgs    int
		labels  []int
		c, h, w int
		want    string
	}{
		{12, []int{0}, 1, 2, 2, "12 image values for 1 labels"},
		{0, nil, 1, 2, 2, "no labels"},
		{4, []int{256}, 1, 2, 2, "label 0 is 256"},
		{4, []int{-1}, 1, 2, 2, "label 0 is -1"},
		{4, []int{0}, 0, 2, 2, "image shape 0x2x2"},
		{4, []int{0}, 1, MaxDim + 1, 2, "image shape"},
	} {
		_, err := FromUint8(make([]uint8, c.imgs), c.labels, c.c, c.h, c.w)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c, err, c.want)
		}
	}
}

func TestFromFloat32(t *testing.T) {
	// [-1, 1] onto 0..255: -1 -> 0, 1 -> 255, 0 -> 127.5 -> 128 (half away from zero).
	s, err := FromFloat32([]float32{-1, 0, 1, 0.5}, []int{1}, 1, 2, 2, -1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Images; got[0] != 0 || got[1] != 128 || got[2] != 255 || got[3] != 191 {
		t.Fatalf("pixels %v, want [0 128 255 191]", got)
	}
	for _, c := range []struct {
		x      []float32
		lo, hi float32
		want   string
	}{
		{[]float32{0, 0, 0, 1.01}, 0, 1, "value 3 is 1.01, outside"},
		{[]float32{0, float32(math.NaN()), 0, 0}, 0, 1, "value 1 is NaN"},
		{[]float32{0, 0, 0, 0}, 1, 1, "want finite lo < hi"},
		{[]float32{0, 0, 0, 0}, float32(math.Inf(-1)), 1, "want finite lo < hi"},
	} {
		if _, err := FromFloat32(c.x, []int{0}, 1, 2, 2, c.lo, c.hi); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v in [%v, %v]: %v, want %q", c.x, c.lo, c.hi, err, c.want)
		}
	}
}

func TestSplit(t *testing.T) {
	imgs := make([]uint8, 5*3)
	for i := range imgs {
		imgs[i] = uint8(i)
	}
	s, err := FromUint8(imgs, []int{0, 1, 2, 0, 1}, 3, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	tr, val, err := s.Split(2)
	if err != nil {
		t.Fatal(err)
	}
	if tr.N != 3 || val.N != 2 || val.Image(0)[0] != 9 || val.Labels[1] != 1 || val.ClassCount() != 3 || val.ChannelCount() != 3 || tr.ClassCount() != 3 {
		t.Fatalf("split: train %d, val %d, val image 0 %v", tr.N, val.N, val.Image(0))
	}
	for _, n := range []int{0, 5, -1} {
		if _, _, err := s.Split(n); err == nil {
			t.Errorf("Split(%d) of 5 accepted", n)
		}
	}
}
