package cgen

import "github.com/qatgo/qatgo/fakequant"

// RequantizeC is the C of the requantization helpers under rule r, as
// Generate writes them, for the edge-value test.
func RequantizeC(r fakequant.Rounding) string {
	if r == fakequant.RoundSingle {
		return cFloorShift + cSingle + cRequantize
	}
	return cFloorShift + cDouble + cRequantize
}
