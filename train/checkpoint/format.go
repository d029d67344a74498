package checkpoint

import (
	"bytes"
	"encoding/binary"
	"encoding/gob"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/qatgo/qatgo/internal/atomicfile"
)

// File layout (little-endian):
//
//	offset  size  field
//	0       8     magic "QATGOCKP"
//	8       2     version (2; version 1 files, which have no masks or codebooks, still load)
//	10      8     payload length L
//	18      L     payload: encoding/gob of the checkpoint value (train.Checkpoint)
//	18+L    4     CRC-32 (IEEE) of bytes [0, 18+L)
const (
	magic = "QATGOCKP"
	// Version 2 added pruning masks and codebooks: a reader of version 1 would drop them
	// and train pruned weights back, so it must refuse version 2 files. Version 1 files still
	// load (they hold dense models).
	Version = 2
	// MaxBytes bounds what Decode reads.
	MaxBytes = 1 << 30
	head     = 18
)

// ErrInvalid marks a corrupt, truncated or unsupported checkpoint.
var ErrInvalid = errors.New("checkpoint: corrupt or unsupported file")

// Encode writes vs (gob-encodable values, one gob stream in this order) in the checkpoint
// format. A file's first value is its record; values after it are optional trailers (train
// stores a custom model's spec there, so a built-in model's record encodes as it always did).
func Encode(w io.Writer, vs ...any) error {
	if len(vs) == 0 {
		return errors.New("checkpoint: encoding: no value")
	}
	var payload bytes.Buffer
	enc := gob.NewEncoder(&payload)
	for _, v := range vs {
		if err := enc.Encode(v); err != nil {
			return fmt.Errorf("checkpoint: encoding: %w", err)
		}
	}
	var buf bytes.Buffer
	buf.WriteString(magic)
	binary.Write(&buf, binary.LittleEndian, uint16(Version))
	binary.Write(&buf, binary.LittleEndian, uint64(payload.Len()))
	buf.Write(payload.Bytes())
	binary.Write(&buf, binary.LittleEndian, crc32.ChecksumIEEE(buf.Bytes()))
	_, err := w.Write(buf.Bytes())
	return err
}

// Decode reads a checkpoint into the pointers vs, checking magic, version, length and checksum
// before decoding the payload; a file that fails a check is an ErrInvalid. The first value
// is required; a trailing value the payload does not hold is left as it is, and n counts the
// values decoded.
func Decode(r io.Reader, vs ...any) (n int, err error) {
	if len(vs) == 0 {
		return 0, errors.New("checkpoint: decoding: no value")
	}
	b, err := io.ReadAll(io.LimitReader(r, MaxBytes+1))
	if err != nil {
		return 0, err
	}
	if len(b) > MaxBytes {
		return 0, fmt.Errorf("%w: larger than %d bytes", ErrInvalid, MaxBytes)
	}
	if len(b) < head+4 || string(b[:8]) != magic {
		return 0, fmt.Errorf("%w: not a qatgo checkpoint (magic)", ErrInvalid)
	}
	if ver := binary.LittleEndian.Uint16(b[8:]); ver != Version && ver != 1 {
		return 0, fmt.Errorf("%w: unsupported version %d", ErrInvalid, ver)
	}
	size := binary.LittleEndian.Uint64(b[10:])
	if size != uint64(len(b)-head-4) {
		return 0, fmt.Errorf("%w: payload length %d but %d bytes present (truncated?)", ErrInvalid, size, len(b)-head-4)
	}
	if crc32.ChecksumIEEE(b[:len(b)-4]) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return 0, fmt.Errorf("%w: checksum mismatch", ErrInvalid)
	}
	dec := gob.NewDecoder(bytes.NewReader(b[head : len(b)-4]))
	for i, v := range vs {
		switch err := dec.Decode(v); {
		case err == nil:
			n++
		case i > 0 && errors.Is(err, io.EOF): // no trailer
			return n, nil
		default:
			return n, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
	}
	return n, nil
}

// WriteFile writes v in the checkpoint format to path atomically: the file is either the old
// one or the complete new one, never half written.
func WriteFile(path string, vs ...any) error {
	return atomicfile.WriteFile(path, func(w io.Writer) error { return Encode(w, vs...) })
}
