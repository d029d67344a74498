package cgen

import (
	"errors"
	"fmt"
	"sort"
)

// ErrLayout is the error (wrapped) of Generate when a layer does not admit
// the layout Options.Layout asks for.
var ErrLayout = errors.New("weight layout")

// Layout is how the weights of one Conv2D or FullyConnected layer are stored
// in the generated C file. Every layout is decoded in place from flash: a
// shift, a mask and at most one look-up into a const codebook per weight, no
// table in RAM.
type Layout uint8

// The layouts. Dense layouts hold every weight in the layer's flat order
// (OIHW or [Out][In]); sparse ones hold, per output channel (row), only the
// nonzero weights.
const (
	// LayoutAuto picks, per layer, the smallest of the layouts the layer
	// admits (ties go to the earlier constant: dense before sparse).
	LayoutAuto Layout = iota
	// LayoutDense and LayoutSparse pick the smallest dense or sparse layout.
	LayoutDense
	LayoutSparse
	// DenseInt8: one int8_t per weight.
	DenseInt8
	// DenseInt4: two 4-bit two's complement weights per byte, the first in
	// the low nibble; only for layers of at most 4 bits.
	DenseInt4
	// DenseCodebook4: two 4-bit codebook indices per byte (low nibble
	// first) into a const int8_t codebook of at most 16 values (0 among
	// them if the layer has zeros); for layers of more than 4 bits with at
	// most 16 distinct weights (clustered).
	DenseCodebook4
	// SparseDelta8: rows[out_c]..rows[out_c+1] index the entries of a row;
	// entry e is the tap k += delta[e] (uint8_t, k starting at 0 in each
	// row), whose weight is value[e] (int8_t) or, if the entries have at
	// most 16 distinct values, codebook[index4(e)]. A gap
	// longer than 255 takes filler entries of delta 255 and weight 0.
	SparseDelta8
	// SparseTap16: as SparseDelta8 with the tap itself, k = tap[e]
	// (uint16_t), and no fillers; for rows of at most 65,536 taps.
	SparseTap16
)

var layoutNames = [...]string{"auto", "dense", "sparse", "dense-int8", "dense-int4", "dense-codebook4", "sparse-delta8", "sparse-tap16"}

func (l Layout) String() string {
	if int(l) < len(layoutNames) {
		return layoutNames[l]
	}
	return fmt.Sprintf("Layout(%d)", uint8(l))
}

// ParseLayout returns the layout of a name: auto (or ""), dense, sparse,
// dense-int8, dense-int4, dense-codebook4, sparse-delta8 or sparse-tap16.
func ParseLayout(s string) (Layout, error) {
	if s == "" {
		return LayoutAuto, nil
	}
	for i, n := range layoutNames {
		if n == s {
			return Layout(i), nil
		}
	}
	return 0, fmt.Errorf("unknown weight layout %q (have auto, dense, sparse, %s, %s, %s, %s, %s)",
		s, DenseInt8, DenseInt4, DenseCodebook4, SparseDelta8, SparseTap16)
}

func (l Layout) sparse() bool { return l == SparseDelta8 || l == SparseTap16 }

// weights is one layer's weights encoded in a layout, with the arrays the
// generated code declares.
type weights struct {
	layout   Layout
	rows     int
	cols     int
	codebook []int8 // sorted values; nil unless indices are stored
	int8s    []int8 // DenseInt8 weights, or sparse values (no codebook)
	nibbles  []uint8
	rowPtr   []int    // sparse: rows+1 entry offsets
	delta    []uint8  // SparseDelta8
	tap      []uint16 // SparseTap16
	entries  int      // sparse: entries including fillers
	nonzero  int
}

// bytes is the size of the layer's weight arrays in flash.
func (w *weights) bytes() int {
	n := len(w.codebook) + len(w.int8s) + len(w.nibbles) + len(w.delta) + 2*len(w.tap)
	if w.layout.sparse() {
		n += len(w.rowPtr) * w.rowPtrSize()
	}
	return n
}

// rowPtrSize is the size of one row offset: uint16_t if the entries fit.
func (w *weights) rowPtrSize() int {
	if w.entries <= 0xffff {
		return 2
	}
	return 4
}

// codebookFor returns the codebook of the values vals: their distinct
// values in increasing order (0 among them only if some value is 0), or nil
// if there are more than 16 (4-bit indices).
func codebookFor(vals []int8) []int8 {
	seen := map[int8]bool{}
	for _, v := range vals {
		if !seen[v] {
			seen[v] = true
			if len(seen) > 16 {
				return nil
			}
		}
	}
	book := make([]int8, 0, len(seen))
	for v := range seen {
		book = append(book, v)
	}
	sort.Slice(book, func(i, j int) bool { return book[i] < book[j] })
	return book
}

// candidates returns the layouts a layer of the given weight bits admits.
func candidates(ws []int8, bits, cols int) []Layout {
	var ls []Layout
	if bits <= 4 {
		ls = append(ls, DenseInt4)
	} else {
		ls = append(ls, DenseInt8)
		if codebookFor(ws) != nil {
			ls = append(ls, DenseCodebook4)
		}
	}
	ls = append(ls, SparseDelta8)
	if cols <= 1<<16 {
		ls = append(ls, SparseTap16)
	}
	return ls
}

// encodeWeights stores the rows x cols weights ws of a layer with the given
// weight bits in layout want (LayoutAuto, LayoutDense or LayoutSparse: the
// smallest candidate of the family). It fails (ErrLayout) if the layer does
// not admit want.
func encodeWeights(ws []int8, rows, cols, bits int, want Layout) (*weights, error) {
	cands := candidates(ws, bits, cols)
	var best *weights
	for _, l := range cands {
		switch {
		case want == LayoutAuto:
		case want == LayoutDense && !l.sparse():
		case want == LayoutSparse && l.sparse():
		case want == l:
		default:
			continue
		}
		w := encodeAs(ws, rows, cols, l)
		if best == nil || w.bytes() < best.bytes() {
			best = w
		}
	}
	if best == nil {
		return nil, fmt.Errorf("%w %v does not apply to a %d-bit layer with %d distinct weights (it admits %v)",
			ErrLayout, want, bits, len(distinctValues(ws)), cands)
	}
	return best, nil
}

func distinctValues(ws []int8) map[int8]bool {
	seen := map[int8]bool{}
	for _, v := range ws {
		seen[v] = true
	}
	return seen
}

// encodeAs stores ws in layout l, which candidates admits. Sparse layouts
// store codebook indices when the values of their entries (fillers
// included) have at most 16 distinct values, int8 values otherwise.
func encodeAs(ws []int8, rows, cols int, l Layout) *weights {
	w := &weights{layout: l, rows: rows, cols: cols}
	for _, v := range ws {
		if v != 0 {
			w.nonzero++
		}
	}
	indices := func(vals []int8) {
		book := codebookFor(vals)
		w.codebook = book
		w.nibbles = packNibbles(len(vals), func(i int) uint8 {
			return uint8(sort.Search(len(book), func(j int) bool { return book[j] >= vals[i] }))
		})
	}
	switch l {
	case DenseInt8:
		w.int8s = ws
	case DenseInt4:
		w.nibbles = packNibbles(len(ws), func(i int) uint8 { return uint8(ws[i]) & 15 })
	case DenseCodebook4:
		indices(ws)
	case SparseDelta8, SparseTap16:
		var vals []int8
		w.rowPtr = make([]int, rows+1)
		for r := range rows {
			prev := 0
			for k, v := range ws[r*cols : (r+1)*cols] {
				if v == 0 {
					continue
				}
				if l == SparseDelta8 {
					for k-prev > 255 { // filler: weight 0 at prev+255 < k
						w.delta = append(w.delta, 255)
						vals = append(vals, 0)
						prev += 255
					}
					w.delta = append(w.delta, uint8(k-prev))
					prev = k
				} else {
					w.tap = append(w.tap, uint16(k))
				}
				vals = append(vals, v)
			}
			w.rowPtr[r+1] = len(vals)
		}
		w.entries = len(vals)
		if book := codebookFor(vals); book != nil && len(book)+(len(vals)+1)/2 < len(vals) {
			indices(vals) // 4-bit indices and the codebook: smaller than int8 values
		} else {
			w.int8s = vals
		}
	}
	return w
}

// packNibbles packs n 4-bit values, two per byte, the first in the low nibble.
func packNibbles(n int, at func(i int) uint8) []uint8 {
	b := make([]uint8, (n+1)/2)
	for i := range n {
		b[i/2] |= (at(i) & 15) << (4 * (i % 2))
	}
	return b
}

// weightAt decodes weight i of a dense layout, or entry i of a sparse one,
// the way the generated C does; the tests check it against the model.
func (w *weights) weightAt(i int) int8 {
	if w.codebook != nil {
		return w.codebook[(w.nibbles[i/2]>>(4*(i%2)))&15]
	}
	if w.layout == DenseInt4 {
		return int8(((w.nibbles[i/2]>>(4*(i%2)))&15)^8) - 8
	}
	return w.int8s[i]
}
