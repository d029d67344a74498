package train

import (
	"fmt"

	"github.com/qatgo/qatgo/nn"
)

// SetSpec makes the run train the model the spec describes: Arch becomes the spec's name and
// the spec itself travels with the configuration into the checkpoint (EncodeCheckpoint stores
// a custom spec after the checkpoint record), so resume, export and summary rebuild the same
// model without the spec file.
func (c *Config) SetSpec(s *nn.Spec) {
	c.Arch = s.Name
	c.spec = s
}

// Spec returns the model of the configuration: the spec set by SetSpec (or read from a
// checkpoint), else the built-in network Arch names, else the spec file Arch names (a path
// ending in .json).
func (c Config) Spec() (*nn.Spec, error) {
	if c.spec != nil {
		return c.spec, nil
	}
	return nn.ResolveSpec(c.Arch)
}

// customSpec returns the spec a checkpoint must carry: a custom model's, nil for a built-in.
func (c Config) customSpec() *nn.Spec {
	if c.spec == nil || nn.IsBuiltin(c.spec.Name) {
		return nil
	}
	return c.spec
}

// newModel builds the configuration's model with the given quantization and seed.
func (c Config) newModel(q nn.Config, seed uint64) (*nn.Model, error) {
	s, err := c.Spec()
	if err != nil {
		return nil, err
	}
	return nn.Build(s, q, seed)
}

// sameSpec reports whether two configurations describe the same model.
func sameSpec(a, b Config) (bool, error) {
	sa, err := a.Spec()
	if err != nil {
		return false, err
	}
	sb, err := b.Spec()
	if err != nil {
		return false, err
	}
	return string(sa.JSON()) == string(sb.JSON()), nil
}

// describe names the model of a configuration in messages.
func (c Config) describe() string {
	if c.spec != nil && !nn.IsBuiltin(c.spec.Name) {
		return fmt.Sprintf("%s (spec)", c.Arch)
	}
	return c.Arch
}
