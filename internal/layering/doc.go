// Package layering states the import layering of the qatgo module and checks a package graph
// against it; its test runs the check on `go list` of the whole module.
//
// From the bottom: data, fakequant and train/kmeans import no package of the module; the
// kernels and autograd, nn, train, export sit above them; the runtime export/qnet has only
// fakequant and internal packages under it; the commands (any path with a cmd element) are on
// top and nothing imports them. Rules hold for transitive imports: a package may not reach a
// package above it through a third one.
package layering
