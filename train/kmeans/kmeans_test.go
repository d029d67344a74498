package kmeans

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

var kmeansInits = []Init{"linear", "density", "kmeans++"}

// gaussianWeights returns n values N(0, sd^2) as float32, none of them zero, from a seeded PCG.
func gaussianWeights(seed uint64, n int, sd float64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 1))
	v := make([]float32, n)
	for i := range v {
		for v[i] == 0 {
			v[i] = float32(rng.NormFloat64() * sd)
		}
	}
	return v
}

// inertia is (1): the sum of squared distances of the values to their centroids, in float64.
func inertia(values, c []float32, assign []int32) float64 {
	var j float64
	for i, v := range values {
		d := float64(v) - float64(c[assign[i]])
		j += d * d
	}
	return j
}

// checkClustering checks the invariants of every Fit1D result: at most k strictly increasing
// centroids, each with a member, and every value assigned to a nearest centroid.
func checkClustering(t *testing.T, values, c []float32, assign []int32, k int) {
	t.Helper()
	if len(c) == 0 || len(c) > k {
		t.Fatalf("%d centroids for k = %d", len(c), k)
	}
	if len(assign) != len(values) {
		t.Fatalf("%d assignments for %d values", len(assign), len(values))
	}
	members := make([]int, len(c))
	for i, a := range assign {
		if a < 0 || int(a) >= len(c) {
			t.Fatalf("value %d assigned to %d of %d centroids", i, a, len(c))
		}
		members[a]++
		d := math.Abs(float64(values[i]) - float64(c[a]))
		for j, cj := range c {
			if e := math.Abs(float64(values[i]) - float64(cj)); e < d {
				t.Fatalf("value %g assigned to centroid %d = %g, but centroid %d = %g is nearer", values[i], a, c[a], j, cj)
			}
		}
	}
	for j := range c {
		if j > 0 && !(c[j] > c[j-1]) {
			t.Fatalf("centroids not strictly increasing: %v", c)
		}
		if members[j] == 0 {
			t.Fatalf("centroid %d = %g has no member", j, c[j])
		}
	}
}

func TestFit1DKnownCases(t *testing.T) {
	for _, tc := range []struct {
		name       string
		values     []float32
		k          int
		init       Init
		wantC      []float32
		wantAssign []int32
	}{
		{"two groups linear", []float32{11, 1, 12, 2, 3, 10}, 2, "linear", []float32{2, 11}, []int32{1, 0, 1, 0, 0, 1}},
		{"two groups density", []float32{11, 1, 12, 2, 3, 10}, 2, "density", []float32{2, 11}, []int32{1, 0, 1, 0, 0, 1}},
		{"two groups kmeans++", []float32{11, 1, 12, 2, 3, 10}, 2, "kmeans++", []float32{2, 11}, []int32{1, 0, 1, 0, 0, 1}},
		{"one centroid is the mean", []float32{-1, 0.5, 2, 2.5}, 1, "linear", []float32{1}, []int32{0, 0, 0, 0}},
		{"outlier keeps its centroid", []float32{-0.5, 0.25, -0.25, 0.5, 8}, 2, "density", []float32{0, 8}, []int32{0, 0, 0, 0, 1}},
		// Linear init leaves the middle centroid empty: it is re-seeded on 1 (the lowest of the
		// values farthest from 1.75 and 16), then Lloyd splits {1, 1.5, 2, 2.5}.
		{"empty cluster re-seeded", []float32{1, 1.5, 2, 2.5, 16}, 3, "linear", []float32{1.25, 2.25, 16}, []int32{0, 0, 1, 1, 2}},
		{"repeated values", []float32{1, 1, 1, 1, 2, 4, 4}, 2, "linear", []float32{1.2, 4}, []int32{0, 0, 0, 0, 0, 1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, a, err := Fit1D(tc.values, tc.k, tc.init, 1, 100)
			if err != nil {
				t.Fatal(err)
			}
			checkClustering(t, tc.values, c, a, tc.k)
			if !slices.Equal(c, tc.wantC) || !slices.Equal(a, tc.wantAssign) {
				t.Errorf("got centroids %v, assign %v; want %v, %v", c, a, tc.wantC, tc.wantAssign)
			}
		})
	}
}

func TestFit1DEmptyClusterWithoutIterations(t *testing.T) {
	// With maxIter = 0 the linear init's empty middle centroid is dropped, not returned.
	values := []float32{1, 1.5, 2, 2.5, 16}
	c, a, err := Fit1D(values, 3, "linear", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{1, 16}; !slices.Equal(c, want) || !slices.Equal(a, []int32{0, 0, 0, 0, 1}) {
		t.Errorf("centroids %v, assign %v; want %v, [0 0 0 0 1]", c, a, want)
	}
}

func TestFit1DInits(t *testing.T) {
	// On 5000 Gaussian weights, every init converges to k distinct centroids, each the mean of
	// its members (Lloyd's fixed point) up to float32 rounding.
	values := gaussianWeights(61, 5000, 0.05)
	for _, init := range kmeansInits {
		for _, k := range []int{1, 2, 16, 64} {
			t.Run(fmt.Sprintf("%s/k=%d", init, k), func(t *testing.T) {
				c, a, err := Fit1D(values, k, init, 7, 1000)
				if err != nil {
					t.Fatal(err)
				}
				checkClustering(t, values, c, a, k)
				if len(c) != k {
					t.Errorf("%d centroids, want %d", len(c), k)
				}
				sum := make([]float64, len(c))
				cnt := make([]int, len(c))
				for i, v := range values {
					sum[a[i]] += float64(v)
					cnt[a[i]]++
				}
				for j := range c {
					mean := sum[j] / float64(cnt[j])
					if math.Abs(float64(c[j])-mean) > 1e-6*math.Max(math.Abs(mean), 1e-3) {
						t.Errorf("centroid %d = %g, mean of its %d members %g", j, c[j], cnt[j], mean)
					}
				}
			})
		}
	}
}

func TestFit1DInertiaNonIncreasing(t *testing.T) {
	// The result after t iterations has an inertia no larger than after t-1; the sample is
	// skewed (a dense core and a sparse tail) so that linear init starts far from the optimum.
	values := gaussianWeights(62, 3000, 0.02)
	for i := range values[:100] {
		values[i] = 0.1 + 5*values[i]
	}
	for _, init := range kmeansInits {
		t.Run(string(init), func(t *testing.T) {
			prev := math.Inf(1)
			var first, last float64
			for it := range 40 {
				c, a, err := Fit1D(values, 16, init, 3, it)
				if err != nil {
					t.Fatal(err)
				}
				checkClustering(t, values, c, a, 16)
				j := inertia(values, c, a)
				if j > prev*(1+1e-12) {
					t.Errorf("inertia rose from %g to %g at iteration %d", prev, j, it)
				}
				if it == 0 {
					first = j
				}
				prev, last = j, j
			}
			if !(last < first) {
				t.Errorf("inertia %g after 40 iterations, %g after none", last, first)
			}
		})
	}
}

func TestFit1DDeterministic(t *testing.T) {
	values := gaussianWeights(63, 4000, 0.05)
	for _, init := range kmeansInits {
		c1, a1, err1 := Fit1D(values, 32, init, 11, 50)
		c2, a2, err2 := Fit1D(slices.Clone(values), 32, init, 11, 50)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if !slices.Equal(c1, c2) || !slices.Equal(a1, a2) {
			t.Errorf("%s: two runs with seed 11 differ", init)
		}
	}
	// The seed drives kmeans++ (and nothing else).
	p1, _, _ := Fit1D(values, 32, "kmeans++", 11, 0)
	p2, _, _ := Fit1D(values, 32, "kmeans++", 12, 0)
	if slices.Equal(p1, p2) {
		t.Error("kmeans++ seeds 11 and 12 gave the same initial centroids")
	}
	l1, _, _ := Fit1D(values, 32, "linear", 11, 0)
	l2, _, _ := Fit1D(values, 32, "linear", 12, 0)
	if !slices.Equal(l1, l2) {
		t.Error("the seed changed the linear init")
	}
}

func TestFit1DFewDistinctValues(t *testing.T) {
	// k >= the number of distinct values: the distinct values themselves, inertia 0.
	values := []float32{3, 1, 3, 2, 1, float32(math.Copysign(0, -1)), 0}
	for _, init := range kmeansInits {
		for _, k := range []int{4, 5, 100} {
			c, a, err := Fit1D(values, k, init, 1, 10)
			if err != nil {
				t.Fatal(err)
			}
			if want := []float32{0, 1, 2, 3}; !slices.Equal(c, want) || !slices.Equal(a, []int32{3, 1, 3, 2, 1, 0, 0}) {
				t.Errorf("%s k=%d: centroids %v, assign %v", init, k, c, a)
			}
			if math.Signbit(float64(c[0])) {
				t.Errorf("%s k=%d: centroid -0, want +0", init, k)
			}
		}
	}
	c, a, err := Fit1D(nil, 4, "linear", 1, 10)
	if err != nil || len(c) != 0 || len(a) != 0 {
		t.Errorf("no values: %v, %v, %v; want no centroids", c, a, err)
	}
}

func TestFit1DErrors(t *testing.T) {
	ok := []float32{1, 2, 3}
	for _, tc := range []struct {
		name    string
		values  []float32
		k       int
		init    Init
		maxIter int
		want    string
	}{
		{"k zero", ok, 0, "linear", 10, "k = 0"},
		{"k negative", ok, -3, "linear", 10, "k = -3"},
		{"nan", []float32{1, float32(math.NaN()), 3}, 2, "linear", 10, "value 1 is NaN"},
		{"inf", []float32{1, 2, float32(math.Inf(-1))}, 2, "density", 10, "value 2 is -Inf"},
		{"init", ok, 2, "random", 10, `"random"`},
		{"maxIter", ok, 2, "linear", -1, "maxIter = -1"},
		{"k zero without values", nil, 0, "linear", 10, "k = 0"},
	} {
		if _, _, err := Fit1D(tc.values, tc.k, tc.init, 1, tc.maxIter); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	for _, name := range []string{"", "Linear", "random"} {
		if _, err := ParseInit(name); err == nil || !strings.HasPrefix(err.Error(), "kmeans: ") {
			t.Errorf("ParseInit(%q): err = %v, want a kmeans error", name, err)
		}
	}
	for _, name := range []string{"linear", "density", "kmeans++"} {
		var i Init
		if err := i.Set(name); err != nil || i.String() != name {
			t.Errorf("Set(%q): %v, %q", name, err, i)
		}
	}
	if _, _, err := ClusterWeights([]float32{0, 1, float32(math.NaN())}, 2, "linear", 1, 10); err == nil || !strings.Contains(err.Error(), "weight 2") {
		t.Errorf("ClusterWeights with NaN: err = %v, want one naming weight 2", err)
	}
	if _, _, err := ClusterWeights(make([]float32, 4), 0, "linear", 1, 10); err == nil {
		t.Error("ClusterWeights of zeros with k = 0: no error")
	}
}

func TestClusterWeightsZeros(t *testing.T) {
	// Zeros (either sign) are pruned weights: assign -1, never members, never moving a centroid.
	w := gaussianWeights(64, 1000, 0.05)
	rng := rand.New(rand.NewPCG(65, 1))
	zeros := 0
	for i := range w {
		if rng.Float64() < 0.6 {
			w[i] = 0
			if i%2 == 1 {
				w[i] = float32(math.Copysign(0, -1))
			}
			zeros++
		}
	}
	for _, init := range kmeansInits {
		c, a, err := ClusterWeights(w, 8, init, 5, 100)
		if err != nil {
			t.Fatal(err)
		}
		var kept []float32
		var keptAssign []int32
		for i, v := range w {
			switch {
			case v == 0 && a[i] != -1:
				t.Fatalf("%s: zero weight %d assigned to %d", init, i, a[i])
			case v != 0 && a[i] < 0:
				t.Fatalf("%s: weight %d = %g assigned %d", init, i, v, a[i])
			case v != 0:
				kept = append(kept, v)
				keptAssign = append(keptAssign, a[i])
			}
		}
		if len(kept) != len(w)-zeros {
			t.Fatalf("%d kept weights, want %d", len(kept), len(w)-zeros)
		}
		checkClustering(t, kept, c, keptAssign, 8)
		// The same as clustering the kept weights alone.
		c2, a2, err := Fit1D(kept, 8, init, 5, 100)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(c, c2) || !slices.Equal(keptAssign, a2) {
			t.Errorf("%s: ClusterWeights differs from Fit1D on the kept weights", init)
		}
	}
}

func TestClusterWeightsAllZero(t *testing.T) {
	for _, w := range [][]float32{make([]float32, 10), {0, float32(math.Copysign(0, -1))}, {}} {
		c, a, err := ClusterWeights(w, 16, "linear", 1, 100)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(c, []float32{0}) {
			t.Errorf("%d zeros: centroids %v, want the single member-less [0]", len(w), c)
		}
		if len(a) != len(w) {
			t.Fatalf("%d assignments for %d weights", len(a), len(w))
		}
		for i, x := range a {
			if x != -1 {
				t.Errorf("zero weight %d assigned %d", i, x)
			}
		}
	}
}

func TestClusterWeightsFewDistinct(t *testing.T) {
	w := []float32{0.5, 0, -0.25, 0.5, 0, -0.25, 0.75}
	c, a, err := ClusterWeights(w, 16, "density", 1, 100)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{-0.25, 0.5, 0.75}; !slices.Equal(c, want) || !slices.Equal(a, []int32{1, -1, 0, 1, -1, 0, 2}) {
		t.Errorf("centroids %v, assign %v", c, a)
	}
}

// BenchmarkFit1D clusters a 3x3 convolution's weights (128 -> 256 channels, 295k values)
// into 16 and 256 centroids.
func BenchmarkFit1D(b *testing.B) {
	values := gaussianWeights(66, 256*128*9, 0.05)
	for _, init := range kmeansInits {
		for _, k := range []int{16, 256} {
			b.Run(fmt.Sprintf("%s/k=%d", init, k), func(b *testing.B) {
				for b.Loop() {
					if _, _, err := Fit1D(values, k, init, 1, 100); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
