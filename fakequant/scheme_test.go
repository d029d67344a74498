package fakequant

import (
	"strings"
	"testing"
)

// allSchemes returns every valid scheme: bits 2..8, unsigned, signed and signed narrow.
func allSchemes() []Scheme {
	var ss []Scheme
	for b := 2; b <= 8; b++ {
		ss = append(ss, Scheme{Bits: b}, Scheme{Bits: b, Signed: true}, Scheme{Bits: b, Signed: true, Narrow: true})
	}
	return ss
}

func TestSchemeRange(t *testing.T) {
	cases := []struct {
		s          Scheme
		name       string
		qmin, qmax int32
	}{
		{Scheme{Bits: 8}, "uint8", 0, 255},
		{Scheme{Bits: 8, Signed: true}, "int8", -128, 127},
		{Scheme{Bits: 8, Signed: true, Narrow: true}, "int8n", -127, 127},
		{Scheme{Bits: 4}, "uint4", 0, 15},
		{Scheme{Bits: 4, Signed: true}, "int4", -8, 7},
		{Scheme{Bits: 4, Signed: true, Narrow: true}, "int4n", -7, 7},
		{Scheme{Bits: 2}, "uint2", 0, 3},
		{Scheme{Bits: 2, Signed: true}, "int2", -2, 1},
		{Scheme{Bits: 2, Signed: true, Narrow: true}, "int2n", -1, 1},
	}
	for _, c := range cases {
		if err := c.s.Validate(); err != nil {
			t.Errorf("%v.Validate() = %v", c.s, err)
		}
		qmin, qmax := c.s.Range()
		if qmin != c.qmin || qmax != c.qmax {
			t.Errorf("%s.Range() = [%d, %d], want [%d, %d]", c.name, qmin, qmax, c.qmin, c.qmax)
		}
		if got := c.s.String(); got != c.name {
			t.Errorf("String() = %q, want %q", got, c.name)
		}
	}
	// Levels: 2^b, or 2^b - 1 with a narrow range.
	for _, s := range allSchemes() {
		qmin, qmax := s.Range()
		want := int32(1) << s.Bits
		if s.Narrow {
			want--
		}
		if got := qmax - qmin + 1; got != want {
			t.Errorf("%v: %d levels, want %d", s, got, want)
		}
	}
}

func TestSchemeValidate(t *testing.T) {
	cases := []struct {
		s    Scheme
		word string // the problem the message must name
	}{
		{Scheme{Bits: 1}, "bits"},
		{Scheme{Bits: 1, Signed: true}, "bits"},
		{Scheme{Bits: 9}, "bits"},
		{Scheme{Bits: 9, Signed: true}, "bits"},
		{Scheme{Bits: 0}, "bits"},
		{Scheme{Bits: -3}, "bits"},
		{Scheme{Bits: 8, Narrow: true}, "narrow"},
		{Scheme{Bits: 4, Narrow: true}, "narrow"},
	}
	for _, c := range cases {
		err := c.s.Validate()
		if err == nil {
			t.Errorf("%#v.Validate() = nil, want an error", c.s)
			continue
		}
		if !strings.Contains(err.Error(), c.word) || !strings.HasPrefix(err.Error(), "fakequant: ") {
			t.Errorf("%#v.Validate() = %q: want a \"fakequant: \" message naming %q", c.s, err, c.word)
		}
		mustPanic(t, "Range of "+c.s.String(), func() { c.s.Range() })
	}
}

func TestParseScheme(t *testing.T) {
	for _, s := range allSchemes() {
		got, err := ParseScheme(s.String())
		if err != nil || got != s {
			t.Errorf("ParseScheme(%q) = %v, %v; want %v", s.String(), got, err, s)
		}
	}
	for _, bad := range []string{"", "int", "uint", "int1", "int9", "uint8n", "int8x", "float8", "int+8", "int-8", "int 8", "Int8", "intn"} {
		if s, err := ParseScheme(bad); err == nil {
			t.Errorf("ParseScheme(%q) = %v, want an error", bad, s)
		}
	}
}
