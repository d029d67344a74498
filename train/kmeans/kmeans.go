package kmeans

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
)

// Init is a k-means initialization method (see Fit1D). Its value is the name the CLI, the JSON
// configurations and the metrics use; the zero value is no method (an error).
type Init string

// The initialization methods.
const (
	InitLinear   Init = "linear"   // evenly spaced over [min, max] (Deep Compression's best)
	InitDensity  Init = "density"  // the medians of k slices of equal mass
	InitKMeansPP Init = "kmeans++" // k-means++ seeding (Arthur & Vassilvitskii 2007)
)

// Inits are the initialization methods, in the order the help text names them.
var Inits = []Init{InitLinear, InitDensity, InitKMeansPP}

// ParseInit returns the method named s.
func ParseInit(s string) (Init, error) {
	for _, i := range Inits {
		if s == string(i) {
			return i, nil
		}
	}
	return "", fmt.Errorf("kmeans: unknown initialization %q (have linear, density, kmeans++)", s)
}

// String returns the method's name.
func (i Init) String() string { return string(i) }

// Set parses s into i (flag.Value).
func (i *Init) Set(s string) error {
	v, err := ParseInit(s)
	if err != nil {
		return err
	}
	*i = v
	return nil
}

// kmeansPPStream is the second word of the PCG state of the k-means++ initialization; the seed
// is the first.
const kmeansPPStream = 0x6b6d65616e732b2b // "kmeans++"

// Fit1D clusters values (the kept weights of one layer) into at most k groups with Lloyd's
// algorithm in one dimension, minimizing the inertia
//
//	J = sum_i (x_i - c[a_i])^2.                                      (1)
//
// It returns the centroids in increasing order and, for every value, the index of its centroid.
//
// Initialization (init), on the sorted values x_(0) <= ... <= x_(n-1):
//
//   - "linear": c_j = min + j (max - min)/(k - 1), j = 0..k-1 (the midpoint for k = 1). Deep
//     Compression §3.2 finds it the best: it keeps centroids on the large, rare weights.
//   - "density": c_j = x_(floor(p_j n)) with p_j = (j + 1/2)/k, the medians of k slices of equal
//     mass of the empirical CDF.
//   - "kmeans++": the first centroid is a value drawn uniformly, each next one a value drawn with
//     probability proportional to its squared distance to the nearest centroid so far
//     (Arthur & Vassilvitskii 2007), from math/rand/v2's PCG seeded with (seed, "kmeans++").
//     seed matters to this method only.
//
// Each Lloyd iteration then
//
//  1. moves every centroid to the mean of its members, rounded to float32 (the nearest float32
//     to the mean, so J cannot grow),
//  2. re-seeds every empty cluster deterministically: its centroid moves to the value farthest
//     from all other centroids (lowest such value on ties), one empty cluster after the other,
//  3. assigns every value to its nearest centroid (ties to the lower one).
//
// Step 1 lowers (1) for the current assignment, step 2 leaves it (empty clusters add nothing)
// and step 3 lowers it for the current centroids, so J never increases. Iterations stop when
// the assignment no longer changes or after maxIter of them (maxIter = 0 returns the initial
// centroids with the assignment to the nearest). Lloyd's algorithm finds a local minimum of
// (1), not the global one.
//
// In one dimension the nearest centroid is exact and cheap: with sorted centroids
// c_0 <= ... <= c_{k-1}, value x belongs to cluster j iff b_{j-1} < x <= b_j, where
// b_j = (c_j + c_{j+1})/2 (in float64) and b_{-1} = -Inf, b_{k-1} = +Inf. The values are sorted
// once; an iteration then finds each boundary by binary search and each mean from prefix sums,
// O(k log n), and the final assignment is a binary search over the k-1 boundaries per value.
// Sorting dominates, except for kmeans++, whose draws cost O(k n) (0.5 s for k = 256 and 300k
// values); re-seeding costs O(n) per empty cluster.
//
// Fewer than k centroids come back when there are at most k distinct values (the distinct values
// themselves are returned: J = 0), and when after maxIter iterations some centroids coincide or
// own no value (they are dropped and the assignment renumbered). Every returned centroid has at
// least one member. No values give no centroids. It is an error for k to be < 1, maxIter < 0,
// init to be unknown, or a value to be NaN or infinite.
func Fit1D(values []float32, k int, init Init, seed uint64, maxIter int) (centroids []float32, assign []int32, err error) {
	if k < 1 {
		return nil, nil, fmt.Errorf("kmeans: k = %d, need at least 1 centroid", k)
	}
	if maxIter < 0 {
		return nil, nil, fmt.Errorf("kmeans: maxIter = %d, need >= 0", maxIter)
	}
	if _, err := ParseInit(string(init)); err != nil {
		return nil, nil, err
	}
	for i, v := range values {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, nil, fmt.Errorf("kmeans: value %d is %g", i, v)
		}
	}
	if len(values) == 0 {
		return []float32{}, []int32{}, nil
	}

	d := newDistinct(values)
	m := len(d.u)
	if k >= m {
		centroids, assign = assignNearest(values, slices.Clone(d.u))
		return centroids, assign, nil
	}

	var c []float32
	switch init {
	case InitLinear:
		c = initLinear(d.u[0], d.u[m-1], k)
	case InitDensity:
		c = d.initDensity(k)
	case InitKMeansPP:
		c = d.initKMeansPP(k, seed)
	}
	slices.Sort(c)

	lo := d.splits(c)
	for range maxIter {
		reseeded := d.update(c, lo)
		slices.Sort(c)
		next := d.splits(c)
		changed := reseeded || !slices.Equal(next, lo)
		lo = next
		if !changed {
			break
		}
	}
	centroids, assign = assignNearest(values, slices.Compact(c))
	return centroids, assign, nil
}

// ClusterWeights is Fit1D over the nonzero entries of a weight tensor w: pruned weights (w_i
// = 0, either sign) belong to no cluster and get assign_i = -1; every other weight gets the
// index of its centroid. A tensor without nonzero weights (fully pruned) gets the single
// centroid 0, member-less, so that the codebook is never empty. A centroid may itself come out
// as 0 (the mean of weights of both signs); its members keep their assignment >= 0, so they
// stay kept weights that fine-tuning of the centroid moves again. NaN or infinite weights are an
// error.
func ClusterWeights(w []float32, k int, init Init, seed uint64, maxIter int) (centroids []float32, assign []int32, err error) {
	var kept []float32
	for i, v := range w {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, nil, fmt.Errorf("kmeans: weight %d is %g", i, v)
		}
		if v != 0 {
			kept = append(kept, v)
		}
	}
	c, a, err := Fit1D(kept, k, init, seed, maxIter)
	if err != nil {
		return nil, nil, err
	}
	if len(c) == 0 {
		c = []float32{0}
	}
	assign = make([]int32, len(w))
	j := 0
	for i, v := range w {
		if v == 0 {
			assign[i] = -1
			continue
		}
		assign[i] = a[j]
		j++
	}
	return c, assign, nil
}

// distinct holds the sorted distinct values u_0 < ... < u_{m-1} of a sample with their counts,
// and prefix sums for the cluster means: n[i] = number of values below u_i, s[i] = their sum.
type distinct struct {
	u     []float32
	count []int
	n     []int     // m+1 prefix counts
	s     []float64 // m+1 prefix sums
}

func newDistinct(values []float32) *distinct {
	x := slices.Clone(values)
	slices.Sort(x)
	d := &distinct{n: []int{0}, s: []float64{0}}
	for i, v := range x {
		if v == 0 {
			v = 0 // -0 and +0 are one value, +0
		}
		if i == 0 || v != d.u[len(d.u)-1] {
			d.u = append(d.u, v)
			d.count = append(d.count, 0)
		}
		d.count[len(d.count)-1]++
	}
	for i, v := range d.u {
		d.n = append(d.n, d.n[i]+d.count[i])
		d.s = append(d.s, d.s[i]+float64(d.count[i])*float64(v))
	}
	return d
}

// boundary is the point b = (a + c)/2 between two neighbouring centroids, in float64; values
// x <= b go to a.
func boundary(a, c float32) float64 { return (float64(a) + float64(c)) / 2 }

// splits returns the clusters of sorted centroids c as ranges of u: cluster j is
// u[lo[j]:lo[j+1]], lo[0] = 0, lo[k] = m.
func (d *distinct) splits(c []float32) []int {
	k, m := len(c), len(d.u)
	lo := make([]int, k+1)
	lo[k] = m
	for j := 1; j < k; j++ {
		b := boundary(c[j-1], c[j])
		lo[j] = sort.Search(m, func(i int) bool { return float64(d.u[i]) > b })
	}
	return lo
}

// update moves each centroid c_j to the float32 nearest the mean of u[lo[j]:lo[j+1]] (counts
// included) and re-seeds the empty clusters; it reports whether any cluster was empty.
func (d *distinct) update(c []float32, lo []int) bool {
	var empty []int
	for j := range c {
		a, b := lo[j], lo[j+1]
		if cnt := d.n[b] - d.n[a]; cnt > 0 {
			c[j] = float32((d.s[b] - d.s[a]) / float64(cnt))
		} else {
			empty = append(empty, j)
		}
	}
	if len(empty) == 0 {
		return false
	}
	// dist[i] = distance of u_i to the nearest centroid of a nonempty cluster (a sweep: both
	// are sorted, as the means of consecutive ranges are), then to the re-seeded ones too.
	var live []float32
	for j := range c {
		if lo[j+1] > lo[j] {
			live = append(live, c[j])
		}
	}
	dist := make([]float64, len(d.u))
	j := 0
	for i, v := range d.u {
		for j+1 < len(live) && boundary(live[j], live[j+1]) < float64(v) {
			j++
		}
		dist[i] = math.Abs(float64(v) - float64(live[j]))
	}
	for _, e := range empty {
		far := 0
		for i, v := range dist {
			if v > dist[far] {
				far = i
			}
		}
		c[e] = d.u[far]
		for i, v := range d.u {
			dist[i] = min(dist[i], math.Abs(float64(v)-float64(c[e])))
		}
	}
	return true
}

// initLinear spaces k centroids evenly over [lo, hi].
func initLinear(lo, hi float32, k int) []float32 {
	if k == 1 {
		return []float32{float32(boundary(lo, hi))}
	}
	c := make([]float32, k)
	step := (float64(hi) - float64(lo)) / float64(k-1)
	for j := range c {
		c[j] = float32(float64(lo) + float64(j)*step)
	}
	c[k-1] = hi
	return c
}

// at returns the r-th smallest value, counting repeats (0 <= r < n).
func (d *distinct) at(r int) float32 {
	i := sort.Search(len(d.u), func(i int) bool { return d.n[i+1] > r })
	return d.u[i]
}

// initDensity returns the values at the CDF levels (j + 1/2)/k.
func (d *distinct) initDensity(k int) []float32 {
	n := d.n[len(d.u)]
	c := make([]float32, k)
	for j := range c {
		r := int(math.Floor((float64(j) + 0.5) / float64(k) * float64(n)))
		c[j] = d.at(min(r, n-1))
	}
	return c
}

// initKMeansPP draws k distinct values by D^2 sampling; needs k <= len(u).
func (d *distinct) initKMeansPP(k int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, kmeansPPStream))
	n := d.n[len(d.u)]
	c := []float32{d.at(rng.IntN(n))}
	d2 := make([]float64, len(d.u)) // squared distance to the nearest centroid so far
	for i, v := range d.u {
		e := float64(v) - float64(c[0])
		d2[i] = e * e
	}
	for len(c) < k {
		var total float64
		for i, e := range d2 {
			total += float64(d.count[i]) * e
		}
		r := rng.Float64() * total
		pick, acc := -1, 0.0
		for i, e := range d2 {
			if e == 0 {
				continue
			}
			pick = i // the last value not yet a centroid, should rounding leave r >= acc
			if acc += float64(d.count[i]) * e; acc > r {
				break
			}
		}
		if pick < 0 {
			break // cannot happen for k <= len(u): an undrawn value is at a distance > 0
		}
		c = append(c, d.u[pick])
		for i, v := range d.u {
			e := float64(v) - float64(d.u[pick])
			d2[i] = min(d2[i], e*e)
		}
	}
	return c
}

// assignNearest assigns every value to its nearest centroid of the strictly increasing,
// nonempty c (ties to the lower) and drops the centroids without members, renumbering the rest.
func assignNearest(values, c []float32) ([]float32, []int32) {
	b := make([]float64, len(c)-1)
	for j := range b {
		b[j] = boundary(c[j], c[j+1])
	}
	assign := make([]int32, len(values))
	used := make([]bool, len(c))
	for i, v := range values {
		j := sort.Search(len(b), func(j int) bool { return float64(v) <= b[j] })
		assign[i] = int32(j)
		used[j] = true
	}
	renum := make([]int32, len(c))
	kept := c[:0]
	for j, u := range used {
		if u {
			renum[j] = int32(len(kept))
			kept = append(kept, c[j])
		}
	}
	for i, a := range assign {
		assign[i] = renum[a]
	}
	return kept, assign
}
