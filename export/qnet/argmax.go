package qnet

// argmax returns the index of the largest value in v; the lowest index wins
// ties. It returns -1 for an empty v.
//
//	argmax(v) = min { i : v[i] = max_j v[j] }
func argmax(v []uint8) int {
	best := -1
	var bestVal uint8
	for i, x := range v {
		if best < 0 || x > bestVal {
			best, bestVal = i, x
		}
	}
	return best
}
