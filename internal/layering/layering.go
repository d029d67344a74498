package layering

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Module is the module path the rules' package names are relative to.
const Module = "github.com/qatgo/qatgo"

// Graph maps a package (path relative to Module, e.g. "train/checkpoint") to the packages of the
// module it imports directly (same form); imports outside the module are left out.
type Graph map[string][]string

// A Rule constrains what the packages it applies to may reach.
type Rule struct {
	Name    string
	Applies func(pkg string) bool
	// Forbidden reports whether pkg may not reach dep (directly or through others).
	Forbidden func(pkg, dep string) bool
}

// under reports whether pkg is root or a package below it.
func under(pkg, root string) bool { return pkg == root || strings.HasPrefix(pkg, root+"/") }

// isCommand reports whether pkg is a command: a path with a "cmd" element.
func isCommand(pkg string) bool { return slices.Contains(strings.Split(pkg, "/"), "cmd") }

// Rules are the module's layering.
var Rules = []Rule{
	{"data, fakequant and train/kmeans import no package of the module",
		func(p string) bool { return p == "data" || p == "fakequant" || p == "train/kmeans" },
		func(p, d string) bool { return true }},
	{"export/qnet reaches only fakequant, its own packages and internal packages",
		func(p string) bool { return under(p, "export/qnet") },
		func(p, d string) bool { return !(d == "fakequant" || under(d, "export/qnet") || under(d, "internal")) }},
	{"nn does not reach train, export or data",
		func(p string) bool { return p == "nn" },
		func(p, d string) bool { return under(d, "train") || under(d, "export") || d == "data" }},
	{"train does not reach export",
		func(p string) bool { return under(p, "train") },
		func(p, d string) bool { return under(d, "export") }},
	{"nothing imports a command",
		func(p string) bool { return true },
		func(p, d string) bool { return isCommand(d) && !strings.HasPrefix(d, p+"/") }},
}

// Check returns one line per violation: the rule and the chain of imports from the package to
// the forbidden one ("nn -> train/checkpoint -> train"), in a stable order.
func Check(g Graph, rules []Rule) []string {
	var out []string
	for _, pkg := range slices.Sorted(maps.Keys(g)) {
		paths := reach(g, pkg)
		for _, r := range rules {
			if !r.Applies(pkg) {
				continue
			}
			for _, dep := range slices.Sorted(maps.Keys(paths)) {
				if r.Forbidden(pkg, dep) {
					out = append(out, fmt.Sprintf("%s: %s", r.Name, strings.Join(paths[dep], " -> ")))
				}
			}
		}
	}
	return out
}

// reach returns every package pkg reaches, each with a shortest import chain from pkg to it.
func reach(g Graph, pkg string) map[string][]string {
	paths := map[string][]string{}
	queue := [][]string{{pkg}}
	for len(queue) > 0 {
		chain := queue[0]
		queue = queue[1:]
		for _, d := range g[chain[len(chain)-1]] {
			if _, seen := paths[d]; seen || d == pkg {
				continue
			}
			next := append(slices.Clone(chain), d)
			paths[d] = next
			queue = append(queue, next)
		}
	}
	return paths
}

// Parse reads the output of `go list -f '{{.ImportPath}} {{join .Imports " "}}' ./...` into a
// Graph of the module's packages.
func Parse(listOutput string) (Graph, error) {
	g := Graph{}
	for _, line := range strings.Split(strings.TrimSpace(listOutput), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		pkg, ok := rel(f[0])
		if !ok {
			return nil, fmt.Errorf("layering: package %s is not in module %s", f[0], Module)
		}
		g[pkg] = []string{}
		for _, imp := range f[1:] {
			if d, ok := rel(imp); ok {
				g[pkg] = append(g[pkg], d)
			}
		}
	}
	return g, nil
}

// rel returns path relative to Module, and whether it is in the module.
func rel(path string) (string, bool) {
	if path == Module {
		return ".", true
	}
	return strings.CutPrefix(path, Module+"/")
}
