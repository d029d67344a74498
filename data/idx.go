package data

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
)

// Magic numbers of the idx files: 0x08 means unsigned bytes, the last byte the number of
// dimensions.
const (
	ImagesMagic  = 0x00000803 // idx3-ubyte: N x Rows x Cols (one channel)
	Images4Magic = 0x00000804 // idx4-ubyte: N x Channels x Rows x Cols
	LabelsMagic  = 0x00000801 // idx1-ubyte: N
)

// Limits on headers read from untrusted files. MNIST is 28x28 (60,000 training images, 47 MB of
// pixels); the limits leave room for larger image sets (EMNIST letters: 98 MB; 40,000 RGB
// images of 32x32: 123 MB) while keeping what one file can make a reader allocate far below
// the memory of a small machine.
const (
	MaxDim        = 1024       // largest accepted Rows or Cols
	MaxCount      = 10_000_000 // largest accepted N
	MaxImageBytes = 128 << 20  // largest accepted N*Channels*Rows*Cols: 128 MiB per file
)

// NumClasses is the number of MNIST's classes, 0..9: the class count of a Set whose Classes is
// 0. A labels file may hold any byte value; a set read from files counts max label + 1 classes.
const NumClasses = 10

// MaxClasses is the largest class count of a set read from an idx labels file (labels are
// bytes).
const MaxClasses = 256

// readChunk is the first allocation when reading a payload; the buffer doubles from there
// as data actually arrives.
const readChunk = 1 << 20

// FormatError reports a malformed idx file or stream. Name is the file (or "images"/"labels"
// for a bare reader), Msg the problem; Err, when non-nil, is the underlying cause (for
// truncation, io.ErrUnexpectedEOF).
type FormatError struct {
	Name string
	Msg  string
	Err  error
}

func (e *FormatError) Error() string {
	s := "data: " + e.Name + ": " + e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *FormatError) Unwrap() error { return e.Err }

func formatErr(name, format string, args ...any) error {
	return &FormatError{Name: name, Msg: fmt.Sprintf(format, args...)}
}

// ReadImages parses an idx3-ubyte images stream (already decompressed) and returns the pixels,
// N*Rows*Cols bytes, row-major, one image after another. It reads exactly the bytes the header
// declares and leaves r positioned after them. It returns a *FormatError on bad input; an
// idx4 stream is refused too (ReadImagesCHW reads both).
func ReadImages(r io.Reader) (imgs []uint8, n, rows, cols int, err error) {
	imgs, n, _, rows, cols, err = readImages(r, "images", -1, false)
	return imgs, n, rows, cols, err
}

// ReadImagesCHW parses an idx3-ubyte (N x Rows x Cols: one channel) or idx4-ubyte (N x
// Channels x Rows x Cols) images stream (already decompressed) and returns the pixels,
// N*Channels*Rows*Cols bytes, CHW, one image after another, and the shape. It reads exactly
// the bytes the header declares. It returns a *FormatError on bad input.
func ReadImagesCHW(r io.Reader) (imgs []uint8, n, channels, rows, cols int, err error) {
	return readImages(r, "images", -1, true)
}

// ReadLabels parses an idx1-ubyte labels stream (already decompressed): any byte is a label
// (a set's class count is its largest label plus one). It reads exactly the bytes the header
// declares. It returns a *FormatError on bad input.
func ReadLabels(r io.Reader) (labels []uint8, err error) {
	return readLabels(r, "labels", -1)
}

// readImages is ReadImages (idx4 refused) or, with idx4, ReadImagesCHW; size, when not
// negative, is the number of bytes the (decompressed) stream holds, checked against the header
// before the pixels are allocated.
func readImages(r io.Reader, name string, size int64, idx4 bool) (imgs []uint8, n, c, rows, cols int, err error) {
	magics := []uint32{ImagesMagic}
	if idx4 {
		magics = append(magics, Images4Magic)
	}
	hdr, magic, err := readHeader(r, name, magics...)
	if err != nil {
		return nil, 0, 0, 0, 0, err
	}
	hlen := len(hdr)
	dims := hdr[4:] // N, Rows, Cols
	uch := uint32(1)
	if magic == Images4Magic { // N, Channels, Rows, Cols
		uch = binary.BigEndian.Uint32(hdr[8:])
		dims = append(append([]byte(nil), hdr[4:8]...), hdr[12:20]...)
	}
	un := binary.BigEndian.Uint32(dims[0:])
	ur := binary.BigEndian.Uint32(dims[4:])
	uc := binary.BigEndian.Uint32(dims[8:])
	if un == 0 || un > MaxCount {
		return nil, 0, 0, 0, 0, formatErr(name, "image count %d out of range [1, %d]", un, MaxCount)
	}
	if uch == 0 || uch > MaxChannels {
		return nil, 0, 0, 0, 0, formatErr(name, "channel count %d out of range [1, %d]", uch, MaxChannels)
	}
	if ur == 0 || ur > MaxDim || uc == 0 || uc > MaxDim {
		return nil, 0, 0, 0, 0, formatErr(name, "image size %dx%d out of range [1, %d]", ur, uc, MaxDim)
	}
	shape := fmt.Sprintf("%dx%d", ur, uc)
	if magic == Images4Magic {
		shape = fmt.Sprintf("%dx%dx%d", uch, ur, uc)
	}
	// The factors are below 2^24, 2^13, 2^11 and 2^11, so the uint64 product cannot overflow.
	total := uint64(un) * uint64(uch) * uint64(ur) * uint64(uc)
	if total > MaxImageBytes || total > math.MaxInt {
		return nil, 0, 0, 0, 0, formatErr(name, "%d images of %s = %d bytes exceeds the limit of %d bytes",
			un, shape, total, min(uint64(MaxImageBytes), uint64(math.MaxInt)))
	}
	h := uint64(hlen)
	if size >= 0 && uint64(size) < h+total {
		return nil, 0, 0, 0, 0, &FormatError{Name: name, Err: io.ErrUnexpectedEOF,
			Msg: fmt.Sprintf("truncated pixel data: header declares %d images of %s = %d bytes, the stream has %d",
				un, shape, total, max(size-int64(hlen), 0))}
	}
	if size >= 0 && uint64(size) > h+total {
		return nil, 0, 0, 0, 0, formatErr(name, "trailing data: header declares %d images of %s = %d bytes of pixels, the stream has %d",
			un, shape, total, size-int64(hlen))
	}
	var buf []byte
	if size >= 0 {
		// The stream holds exactly the declared bytes: one allocation, no doubling.
		buf = make([]byte, total)
		var n int
		n, err = io.ReadFull(r, buf)
		buf = buf[:n]
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
	} else {
		buf, err = readBounded(r, int(total))
	}
	if err != nil {
		return nil, 0, 0, 0, 0, &FormatError{Name: name,
			Msg: fmt.Sprintf("truncated pixel data: header declares %d images of %s = %d bytes, stream has %d",
				un, shape, total, len(buf)), Err: err}
	}
	return buf, int(un), int(uch), int(ur), int(uc), nil
}

func readLabels(r io.Reader, name string, size int64) ([]uint8, error) {
	hdr, _, err := readHeader(r, name, LabelsMagic)
	if err != nil {
		return nil, err
	}
	un := binary.BigEndian.Uint32(hdr[4:])
	if un == 0 || un > MaxCount {
		return nil, formatErr(name, "label count %d out of range [1, %d]", un, MaxCount)
	}
	if size >= 0 && uint64(size) < 8+uint64(un) {
		return nil, &FormatError{Name: name, Err: io.ErrUnexpectedEOF,
			Msg: fmt.Sprintf("truncated label data: header declares %d labels, the stream has %d", un, max(size-8, 0))}
	}
	buf, err := readBounded(r, int(un))
	if err != nil {
		return nil, &FormatError{Name: name,
			Msg: fmt.Sprintf("truncated label data: header declares %d labels, stream has %d", un, len(buf)), Err: err}
	}
	return buf, nil
}

// headerLen is the header size of an idx file with the given magic: the magic and one uint32
// per dimension.
func headerLen(magic uint32) int { return 4 + 4*int(magic&0xff) }

// readHeader reads an idx header whose magic is one of magics and returns it (magic first,
// then the dimensions) with the magic found. A short stream is a truncated header (wrapping
// io.ErrUnexpectedEOF); another magic is named in the error.
func readHeader(r io.Reader, name string, magics ...uint32) ([]byte, uint32, error) {
	hdr := make([]byte, 4, 20)
	truncated := func(want, got int, err error) error {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return &FormatError{Name: name, Msg: fmt.Sprintf("truncated header: want %d bytes, got %d", want, got), Err: err}
	}
	if got, err := io.ReadFull(r, hdr); err != nil {
		return nil, 0, truncated(headerLen(magics[0]), got, err)
	}
	m := binary.BigEndian.Uint32(hdr)
	if !slices.Contains(magics, m) {
		wants := make([]string, len(magics))
		for i, w := range magics {
			wants[i] = fmt.Sprintf("%s (0x%08x)", kind(w), w)
		}
		want := strings.Join(wants, " or ")
		switch {
		case hdr[0] == 0x1f && hdr[1] == 0x8b:
			return nil, 0, formatErr(name, "stream is gzip-compressed, want decompressed %s", kind(magics[0]))
		case kind(m) != "":
			return nil, 0, formatErr(name, "magic 0x%08x is %s, want %s", m, kind(m), want)
		}
		return nil, 0, formatErr(name, "bad magic 0x%08x, want %s", m, want)
	}
	hdr = hdr[:headerLen(m)]
	if got, err := io.ReadFull(r, hdr[4:]); err != nil {
		return nil, 0, truncated(len(hdr), 4+got, err)
	}
	return hdr, m, nil
}

// kind names the file type of an idx magic number, "" if unknown.
func kind(magic uint32) string {
	switch magic {
	case ImagesMagic:
		return "images (idx3-ubyte)"
	case Images4Magic:
		return "images (idx4-ubyte)"
	case LabelsMagic:
		return "labels (idx1-ubyte)"
	}
	return ""
}

// readBounded reads exactly n bytes from r. It does not trust n: the buffer starts at
// readChunk bytes and doubles only as data arrives, so a short stream costs at most about
// twice its own size. On a short read it returns the bytes read and io.ErrUnexpectedEOF (or
// the reader's error).
func readBounded(r io.Reader, n int) ([]byte, error) {
	buf := make([]byte, min(n, readChunk))
	got := 0
	for {
		m, err := io.ReadFull(r, buf[got:])
		got += m
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return buf[:got], err
		}
		if got == n {
			return buf, nil
		}
		grown := make([]byte, min(n, 2*len(buf)))
		copy(grown, buf)
		buf = grown
	}
}

// WriteImages writes imgs, n images of rows x cols pixels, as an idx3-ubyte stream (not
// compressed). It returns an error if the shape is out of the limits ReadImages accepts or
// does not match len(imgs), or if w fails.
func WriteImages(w io.Writer, imgs []uint8, n, rows, cols int) error {
	if n <= 0 || n > MaxCount || rows <= 0 || rows > MaxDim || cols <= 0 || cols > MaxDim {
		return fmt.Errorf("data: WriteImages: shape %dx%dx%d out of range", n, rows, cols)
	}
	if uint64(n)*uint64(rows)*uint64(cols) != uint64(len(imgs)) {
		return fmt.Errorf("data: WriteImages: %d bytes of pixels, want %d*%d*%d", len(imgs), n, rows, cols)
	}
	var hdr [16]byte
	binary.BigEndian.PutUint32(hdr[0:], ImagesMagic)
	binary.BigEndian.PutUint32(hdr[4:], uint32(n))
	binary.BigEndian.PutUint32(hdr[8:], uint32(rows))
	binary.BigEndian.PutUint32(hdr[12:], uint32(cols))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(imgs)
	return err
}

// WriteImagesCHW writes imgs, n images of c x rows x cols pixels (CHW, one image after
// another), as an idx4-ubyte stream (not compressed; ReadImagesCHW and LoadSet read it). It
// returns an error if the shape is out of the limits the readers accept or does not match
// len(imgs), or if w fails.
func WriteImagesCHW(w io.Writer, imgs []uint8, n, c, rows, cols int) error {
	if n <= 0 || n > MaxCount || c <= 0 || c > MaxChannels || rows <= 0 || rows > MaxDim || cols <= 0 || cols > MaxDim {
		return fmt.Errorf("data: WriteImagesCHW: shape %dx%dx%dx%d out of range", n, c, rows, cols)
	}
	total := uint64(n) * uint64(c) * uint64(rows) * uint64(cols)
	if total != uint64(len(imgs)) {
		return fmt.Errorf("data: WriteImagesCHW: %d bytes of pixels, want %d*%d*%d*%d", len(imgs), n, c, rows, cols)
	}
	if total > MaxImageBytes {
		return fmt.Errorf("data: WriteImagesCHW: %d bytes of pixels, more than the readers' limit of %d", total, MaxImageBytes)
	}
	var hdr [20]byte
	binary.BigEndian.PutUint32(hdr[0:], Images4Magic)
	for i, d := range []int{n, c, rows, cols} {
		binary.BigEndian.PutUint32(hdr[4+4*i:], uint32(d))
	}
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(imgs)
	return err
}

// WriteLabels writes labels as an idx1-ubyte stream (not compressed). It returns an error if
// there are no labels or too many, or if w fails.
func WriteLabels(w io.Writer, labels []uint8) error {
	if len(labels) == 0 || len(labels) > MaxCount {
		return fmt.Errorf("data: WriteLabels: %d labels, want 1..%d", len(labels), MaxCount)
	}
	var hdr [8]byte
	binary.BigEndian.PutUint32(hdr[0:], LabelsMagic)
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(labels)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(labels)
	return err
}
