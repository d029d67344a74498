package data

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// Magic numbers of the idx files: 0x08 means unsigned bytes, the last byte the number of
// dimensions.
const (
	ImagesMagic = 0x00000803 // idx3-ubyte: N x Rows x Cols
	LabelsMagic = 0x00000801 // idx1-ubyte: N
)

// Limits on headers read from untrusted files. MNIST is 28x28 (60,000 training images, 47 MB of
// pixels); the limits leave room for larger image sets (EMNIST letters: 98 MB) while keeping
// what one file can make a reader allocate far below the memory of a small machine.
const (
	MaxDim        = 1024       // largest accepted Rows or Cols
	MaxCount      = 10_000_000 // largest accepted N
	MaxImageBytes = 128 << 20  // largest accepted N*Rows*Cols: 128 MiB per file
)

// NumClasses is the number of label values: labels are 0..NumClasses-1.
const NumClasses = 10

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
// declares and leaves r positioned after them. It returns a *FormatError on bad input.
func ReadImages(r io.Reader) (imgs []uint8, n, rows, cols int, err error) {
	return readImages(r, "images", -1)
}

// ReadLabels parses an idx1-ubyte labels stream (already decompressed). Every label must be
// in 0..9. It reads exactly the bytes the header declares. It returns a *FormatError on bad
// input.
func ReadLabels(r io.Reader) (labels []uint8, err error) {
	return readLabels(r, "labels", -1)
}

// readImages is ReadImages; size, when not negative, is the number of bytes the (decompressed)
// stream holds, checked against the header before the pixels are allocated.
func readImages(r io.Reader, name string, size int64) (imgs []uint8, n, rows, cols int, err error) {
	var hdr [16]byte
	if err := readHeader(r, name, hdr[:], ImagesMagic); err != nil {
		return nil, 0, 0, 0, err
	}
	un := binary.BigEndian.Uint32(hdr[4:])
	ur := binary.BigEndian.Uint32(hdr[8:])
	uc := binary.BigEndian.Uint32(hdr[12:])
	if un == 0 || un > MaxCount {
		return nil, 0, 0, 0, formatErr(name, "image count %d out of range [1, %d]", un, MaxCount)
	}
	if ur == 0 || ur > MaxDim || uc == 0 || uc > MaxDim {
		return nil, 0, 0, 0, formatErr(name, "image size %dx%d out of range [1, %d]", ur, uc, MaxDim)
	}
	// Each factor is below 2^24 and 2^13, so the uint64 product cannot overflow.
	total := uint64(un) * uint64(ur) * uint64(uc)
	if total > MaxImageBytes || total > math.MaxInt {
		return nil, 0, 0, 0, formatErr(name, "%d images of %dx%d = %d bytes exceeds the limit of %d bytes",
			un, ur, uc, total, min(uint64(MaxImageBytes), uint64(math.MaxInt)))
	}
	if size >= 0 && uint64(size) < 16+total {
		return nil, 0, 0, 0, &FormatError{Name: name, Err: io.ErrUnexpectedEOF,
			Msg: fmt.Sprintf("truncated pixel data: header declares %d images of %dx%d = %d bytes, the stream has %d",
				un, ur, uc, total, max(size-16, 0))}
	}
	if size >= 0 && uint64(size) > 16+total {
		return nil, 0, 0, 0, formatErr(name, "trailing data: header declares %d images of %dx%d = %d bytes of pixels, the stream has %d",
			un, ur, uc, total, size-16)
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
		return nil, 0, 0, 0, &FormatError{Name: name,
			Msg: fmt.Sprintf("truncated pixel data: header declares %d images of %dx%d = %d bytes, stream has %d",
				un, ur, uc, total, len(buf)), Err: err}
	}
	return buf, int(un), int(ur), int(uc), nil
}

func readLabels(r io.Reader, name string, size int64) ([]uint8, error) {
	var hdr [8]byte
	if err := readHeader(r, name, hdr[:], LabelsMagic); err != nil {
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
	for i, l := range buf {
		if l >= NumClasses {
			return nil, formatErr(name, "label %d is %d, want 0..%d", i, l, NumClasses-1)
		}
	}
	return buf, nil
}

// readHeader fills hdr from r and checks its magic number.
func readHeader(r io.Reader, name string, hdr []byte, magic uint32) error {
	got, err := io.ReadFull(r, hdr)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return &FormatError{Name: name,
			Msg: fmt.Sprintf("truncated header: want %d bytes, got %d", len(hdr), got), Err: err}
	}
	m := binary.BigEndian.Uint32(hdr)
	if m == magic {
		return nil
	}
	switch {
	case hdr[0] == 0x1f && hdr[1] == 0x8b:
		return formatErr(name, "stream is gzip-compressed, want decompressed %s", kind(magic))
	case kind(m) != "":
		return formatErr(name, "magic 0x%08x is %s, want %s (0x%08x)", m, kind(m), kind(magic), magic)
	}
	return formatErr(name, "bad magic 0x%08x, want %s (0x%08x)", m, kind(magic), magic)
}

// kind names the file type of an idx magic number, "" if unknown.
func kind(magic uint32) string {
	switch magic {
	case ImagesMagic:
		return "images (idx3-ubyte)"
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

// WriteLabels writes labels as an idx1-ubyte stream (not compressed). It returns an error if
// there are no labels, too many, a label above 9, or if w fails.
func WriteLabels(w io.Writer, labels []uint8) error {
	if len(labels) == 0 || len(labels) > MaxCount {
		return fmt.Errorf("data: WriteLabels: %d labels, want 1..%d", len(labels), MaxCount)
	}
	for i, l := range labels {
		if l >= NumClasses {
			return fmt.Errorf("data: WriteLabels: label %d is %d, want 0..%d", i, l, NumClasses-1)
		}
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
