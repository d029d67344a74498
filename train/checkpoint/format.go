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

// Encode writes v (a gob-encodable value) in the checkpoint format.
func Encode(w io.Writer, v any) error {
	var payload bytes.Buffer
	if err := gob.NewEncoder(&payload).Encode(v); err != nil {
		return fmt.Errorf("checkpoint: encoding: %w", err)
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

// Decode reads a checkpoint into v (a pointer), checking magic, version, length and checksum
// before decoding the payload; a file that fails a check is an ErrInvalid.
func Decode(r io.Reader, v any) error {
	b, err := io.ReadAll(io.LimitReader(r, MaxBytes+1))
	if err != nil {
		return err
	}
	if len(b) > MaxBytes {
		return fmt.Errorf("%w: larger than %d bytes", ErrInvalid, MaxBytes)
	}
	if len(b) < head+4 || string(b[:8]) != magic {
		return fmt.Errorf("%w: not a qatgo checkpoint (magic)", ErrInvalid)
	}
	if ver := binary.LittleEndian.Uint16(b[8:]); ver != Version && ver != 1 {
		return fmt.Errorf("%w: unsupported version %d", ErrInvalid, ver)
	}
	n := binary.LittleEndian.Uint64(b[10:])
	if n != uint64(len(b)-head-4) {
		return fmt.Errorf("%w: payload length %d but %d bytes present (truncated?)", ErrInvalid, n, len(b)-head-4)
	}
	if crc32.ChecksumIEEE(b[:len(b)-4]) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return fmt.Errorf("%w: checksum mismatch", ErrInvalid)
	}
	if err := gob.NewDecoder(bytes.NewReader(b[head : len(b)-4])).Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return nil
}

// WriteFile writes v in the checkpoint format to path atomically: the file is either the old
// one or the complete new one, never half written.
func WriteFile(path string, v any) error {
	return atomicfile.WriteFile(path, func(w io.Writer) error { return Encode(w, v) })
}
