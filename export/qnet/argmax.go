package qnet

// Argmax returns the index of the largest value in v; the lowest index wins
// ties. It returns -1 for an empty v.
//
//	Argmax(v) = min { i : v[i] = max_j v[j] }
func Argmax(v []uint8) int {
	best := -1
	var bestVal uint8
	for i, x := range v {
		if best < 0 || x > bestVal {
			best, bestVal = i, x
		}
	}
	return best
}
