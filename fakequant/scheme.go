package fakequant

import (
	"fmt"
	"strconv"
	"strings"
)

// Scheme describes an integer grid: the set of codes q of equation (1).
//
//	unsigned:        [0, 2^Bits - 1]             uint8 [0, 255],   uint4 [0, 15]
//	signed:          [-2^(Bits-1), 2^(Bits-1)-1] int8 [-128, 127], int4 [-8, 7]
//	signed, narrow:  [-2^(Bits-1)+1, 2^(Bits-1)-1] int8n [-127, 127], int4n [-7, 7]
//
// The zero value is not a valid Scheme; see Validate.
type Scheme struct {
	Bits   int  // 2..8
	Signed bool // int grid [-2^(b-1), 2^(b-1)-1] vs uint grid [0, 2^b-1]
	Narrow bool // signed only: drop the most negative code, e.g. int8 [-127,127], int4 [-7,7]
}

// Validate returns an error naming the problem if Bits is outside 2..8 or if Narrow is set on
// an unsigned scheme, and nil otherwise.
func (s Scheme) Validate() error {
	if s.Bits < 2 || s.Bits > 8 {
		return fmt.Errorf("fakequant: scheme %s: bits %d outside 2..8", s, s.Bits)
	}
	if s.Narrow && !s.Signed {
		return fmt.Errorf("fakequant: scheme %s: narrow range needs a signed scheme", s)
	}
	return nil
}

// Range returns the smallest and largest code of the grid (see the table on Scheme).
// It panics if s is invalid (see Validate).
func (s Scheme) Range() (qmin, qmax int32) {
	if err := s.Validate(); err != nil {
		panic(err)
	}
	if !s.Signed {
		return 0, 1<<s.Bits - 1
	}
	qmin, qmax = -1<<(s.Bits-1), 1<<(s.Bits-1)-1
	if s.Narrow {
		qmin++
	}
	return qmin, qmax
}

// String returns the scheme's short name: "uint" or "int", the bit width, and "n" for a narrow
// range, e.g. "uint8", "int8n", "int4". ParseScheme reads it back.
func (s Scheme) String() string {
	var b strings.Builder
	if !s.Signed {
		b.WriteByte('u')
	}
	b.WriteString("int")
	b.WriteString(strconv.Itoa(s.Bits))
	if s.Narrow {
		b.WriteByte('n')
	}
	return b.String()
}

// ParseScheme parses a name written by Scheme.String ("uint8", "int8n", "int4", ...) and
// returns an error for a malformed name or an invalid scheme.
func ParseScheme(name string) (Scheme, error) {
	var s Scheme
	rest := name
	switch {
	case strings.HasPrefix(rest, "uint"):
		rest = rest[len("uint"):]
	case strings.HasPrefix(rest, "int"):
		s.Signed = true
		rest = rest[len("int"):]
	default:
		return Scheme{}, fmt.Errorf("fakequant: scheme %q: want uint<bits> or int<bits>[n]", name)
	}
	if strings.HasSuffix(rest, "n") {
		s.Narrow = true
		rest = rest[:len(rest)-1]
	}
	bits, err := strconv.Atoi(rest)
	if err != nil || rest == "" || rest[0] == '+' || rest[0] == '-' {
		return Scheme{}, fmt.Errorf("fakequant: scheme %q: want uint<bits> or int<bits>[n]", name)
	}
	s.Bits = bits
	if err := s.Validate(); err != nil {
		return Scheme{}, err
	}
	return s, nil
}
