package nn

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// The built-in networks, as spec files shipped inside the module.
//
//go:embed specs/*.json
var builtinSpecs embed.FS

// MaxSpecBytes bounds a spec file.
const MaxSpecBytes = 1 << 20

// BuiltinNames lists the built-in networks in order.
func BuiltinNames() []string { return append([]string(nil), builtinNames...) }

var builtinNames = []string{"lenet300-100", "lenet5", "lenet5-bn"}

// IsBuiltin reports whether name is a built-in network.
func IsBuiltin(name string) bool { return isBuiltin(name) }

func isBuiltin(name string) bool {
	for _, n := range builtinNames {
		if n == name {
			return true
		}
	}
	return false
}

// BuiltinSpec returns the spec of a built-in network (lenet5, lenet5-bn, lenet300-100).
func BuiltinSpec(name string) (*Spec, error) {
	if !isBuiltin(name) {
		return nil, fmt.Errorf("nn: unknown model %q (have %s, or a spec file ending in .json)", name, strings.Join(BuiltinNames(), ", "))
	}
	b, err := builtinSpecs.ReadFile("specs/" + name + ".json")
	if err != nil {
		return nil, fmt.Errorf("nn: built-in spec %s: %w", name, err)
	}
	return parseSpec(b, true)
}

func buildBuiltin(name string, cfg Config, seed uint64) (*Model, error) {
	s, err := BuiltinSpec(name)
	if err != nil {
		return nil, err
	}
	return Build(s, cfg, seed)
}

// IsSpecFile reports whether a model argument names a spec file rather than a built-in model.
func IsSpecFile(arch string) bool { return strings.HasSuffix(arch, ".json") }

// ResolveSpec returns the spec of a model argument: a built-in name or a spec file path
// ending in .json.
func ResolveSpec(arch string) (*Spec, error) {
	if IsSpecFile(arch) {
		return LoadSpec(arch)
	}
	return BuiltinSpec(arch)
}

// LoadSpec reads and checks a JSON spec file (at most MaxSpecBytes).
func LoadSpec(path string) (*Spec, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("nn: model spec: %w", err)
	}
	defer f.Close()
	s, err := ParseSpec(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// ParseSpec reads a JSON spec (at most MaxSpecBytes; unknown fields are errors) and checks it
// (Spec.Check). A custom spec may not take a built-in network's name.
func ParseSpec(r io.Reader) (*Spec, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxSpecBytes+1))
	if err != nil {
		return nil, fmt.Errorf("nn: reading model spec: %w", err)
	}
	if len(b) > MaxSpecBytes {
		return nil, fmt.Errorf("nn: model spec larger than %d bytes", MaxSpecBytes)
	}
	return parseSpec(b, false)
}

func parseSpec(b []byte, builtin bool) (*Spec, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var s Spec
	if err := dec.Decode(&s); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, fmt.Errorf("nn: model spec is not valid JSON: it ends early")
		case errors.As(err, &se):
			return nil, fmt.Errorf("nn: model spec is not valid JSON at byte %d: %v", se.Offset, err)
		case errors.As(err, &te):
			return nil, fmt.Errorf("nn: model spec field %q: %s is not a %v", te.Field, te.Value, te.Type)
		}
		return nil, fmt.Errorf("nn: model spec: %v", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("nn: model spec has data after the JSON object")
	}
	if isBuiltin(s.Name) && !builtin {
		return nil, fmt.Errorf("nn: model spec name %q is a built-in network's: rename it", s.Name)
	}
	if err := s.Check(); err != nil {
		return nil, err
	}
	return &s, nil
}

// JSON returns the spec as indented JSON (the form ParseSpec reads).
func (s *Spec) JSON() []byte {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		panic(err) // a Spec has only plain fields
	}
	return append(b, '\n')
}
