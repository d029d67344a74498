// Package synth makes the seeded synthetic image set that the tests of custom (not built-in)
// models share, 3 x 16 x 16 images of 4 classes (neither MNIST's shape nor its class count),
// and a small custom network trained on it.
package synth
