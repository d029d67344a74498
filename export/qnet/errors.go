package qnet

import "fmt"

// A FormatError reports that the input is not a valid model file: bad magic,
// checksum mismatch, truncation, or a field that cannot be parsed.
type FormatError struct {
	Offset    int    // byte offset in the file where the problem was found
	Truncated bool   // the file ends before its structure does
	Msg       string // description
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("qnet: invalid model file at byte %d: %s", e.Offset, e.Msg)
}

// An UnsupportedError reports that the input uses a valid but unsupported
// feature of the format: another version, unknown flags, an unknown weight
// encoding or sparse sub-format, a weight encoding other than dense in a
// version-1 file, or an unknown mode of the per-channel arrays.
type UnsupportedError struct {
	Msg string
}

func (e *UnsupportedError) Error() string { return "qnet: unsupported: " + e.Msg }

// A ShapeError reports inconsistent shapes or slice lengths in a Model.
type ShapeError struct {
	Layer int       // index into Model.Layers, or -1 for the model itself
	Kind  LayerKind // kind of that layer, 0 for the model itself
	Msg   string
}

func (e *ShapeError) Error() string { return "qnet: " + where(e.Layer, e.Kind) + e.Msg }

// A RangeError reports a value outside its valid range in a Model: bit widths,
// zero points, clamp bounds, weights outside their narrow range, multipliers,
// or an int32 accumulator that could overflow.
type RangeError struct {
	Layer int       // index into Model.Layers, or -1 for the model itself
	Kind  LayerKind // kind of that layer, 0 for the model itself
	Msg   string
}

func (e *RangeError) Error() string { return "qnet: " + where(e.Layer, e.Kind) + e.Msg }

func where(layer int, kind LayerKind) string {
	if layer < 0 {
		return "model: "
	}
	return fmt.Sprintf("layer %d (%v): ", layer, kind)
}

func shapeErrorf(format string, args ...any) *ShapeError {
	return &ShapeError{Layer: -1, Msg: fmt.Sprintf(format, args...)}
}

func rangeErrorf(format string, args ...any) *RangeError {
	return &RangeError{Layer: -1, Msg: fmt.Sprintf(format, args...)}
}
