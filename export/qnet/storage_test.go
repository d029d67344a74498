package qnet

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestStorageMatchesEncode checks the storage report against the bytes
// EncodeWith writes: the file size, the sum of the parts, and every layer's
// streams against its block size.
func TestStorageMatchesEncode(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 62))
	models := []*Model{smallModel(), prunedLeNet5(rng, 8, 8, 16, false), prunedLeNet5(rng, 4, 4, 0, false), lenet5(rng, 3, 3)}
	for range 40 {
		models = append(models, randomModel(rng), compressible(rng))
	}
	for i, m := range models {
		for _, enc := range allEncodings {
			opt := EncodeOptions{Encoding: enc}
			rep, err := Storage(m, opt)
			if err != nil {
				t.Fatal(err)
			}
			data := encodeWith(t, m, opt)
			total := rep.HeaderBytes + rep.TrailerBytes
			for li, l := range rep.Layers {
				total += l.Bytes
				if err := checkLayerStorage(m.Layers[li], l, enc); err != nil {
					t.Fatalf("model %d %v layer %d: %v\n%+v", i, enc, li, err, l)
				}
			}
			if rep.FileBytes != len(data) || total != len(data) || rep.HeaderBytes != 30+len(m.Name) || rep.TrailerBytes != 4 {
				t.Fatalf("model %d %v: file %d bytes, report %d, parts %d", i, enc, len(data), rep.FileBytes, total)
			}
		}
	}
}

func checkLayerStorage(layer Layer, l LayerStorage, enc WeightEncoding) error {
	var a affine
	switch x := layer.(type) {
	case *Conv2D:
		a = x.affine()
	case *FullyConnected:
		a = x.affine()
	default:
		if l != (LayerStorage{Index: l.Index, Kind: KindMaxPool2D, Bytes: 9}) {
			return fmt.Errorf("max pool storage")
		}
		return nil
	}
	s := scanWeights(a.weights, a.weightBits)
	blocks := map[WeightEncoding]int{EncodingDense: l.DenseBytes, EncodingSparse: l.SparseBytes, EncodingHuffman: l.HuffmanBytes}
	switch {
	case l.Weights != len(a.weights) || l.Nonzero != len(s.vals) || l.Codebook != len(s.codebook) || l.WeightBits != a.weightBits:
		return fmt.Errorf("counts")
	case l.WeightBytes+l.OtherBytes != l.Bytes || l.ArrayBytes > l.OtherBytes:
		return fmt.Errorf("parts")
	case l.WeightBytes != blocks[l.Encoding]:
		return fmt.Errorf("block size differs from the %v size", l.Encoding)
	case enc != EncodingAuto && l.Encoding != enc:
		return fmt.Errorf("encoding %v, forced %v", l.Encoding, enc)
	case enc == EncodingAuto && l.WeightBytes > min(l.DenseBytes, l.SparseBytes, l.HuffmanBytes):
		return fmt.Errorf("auto did not pick the smallest")
	}
	streams := l.IndexStreamBits + l.PositionBits + l.TableBits
	var head int
	switch {
	case l.Encoding == EncodingDense:
		head = weightHeaderLen
		if l.Entries != l.Weights || l.IndexBits != a.weightBits || l.IndexStreamBits != l.Weights*a.weightBits || l.PositionBits != 0 {
			return fmt.Errorf("dense streams")
		}
	case l.Encoding == EncodingSparse && l.GapBits == 0: // bitmap
		head = weightHeaderLen + 1
		if l.Entries != l.Nonzero || l.PositionBits != l.Weights || l.IndexStreamBits != l.Nonzero*a.weightBits {
			return fmt.Errorf("bitmap streams")
		}
	case l.Encoding == EncodingSparse:
		head = weightHeaderLen + 1 + 1 + 4
		if l.Entries != s.entries(uint(l.GapBits)) || l.PositionBits != l.Entries*l.GapBits || l.IndexStreamBits != l.Entries*a.weightBits {
			return fmt.Errorf("relative streams")
		}
	case l.Encoding == EncodingHuffman:
		head = weightHeaderLen + 2
		if l.GapBits > 0 {
			head += 4
		}
		if l.IndexBits != int(bitLen(uint64(l.Codebook))) || l.TableBits < l.Codebook*a.weightBits {
			return fmt.Errorf("huffman streams")
		}
	}
	if l.WeightBytes != head+(streams+7)/8 {
		return fmt.Errorf("block %d bytes, header %d + streams %d bits", l.WeightBytes, head, streams)
	}
	return nil
}

// TestCompressedLeNet5 reports Deep Compression's Table 3 for a random
// LeNet-5 pruned to its kept fractions (92% pruned) and shared to 16 values
// per layer, at 8-bit weights, with cluster indices drawn uniformly (the
// worst case for Huffman coding) and skewed (as trained clusters are).
func TestCompressedLeNet5(t *testing.T) {
	const float32Bytes = 4 * (20*25 + 20 + 50*500 + 50 + 500*800 + 500 + 10*500 + 10) // 1,724,320
	for _, skewed := range []bool{false, true} {
		m := prunedLeNet5(rand.New(rand.NewPCG(71, 72)), 8, 8, 16, skewed)
		sizes := map[WeightEncoding]int{}
		var table strings.Builder
		for _, enc := range allEncodings {
			rep, err := Storage(m, EncodeOptions{Encoding: enc})
			if err != nil {
				t.Fatal(err)
			}
			sizes[enc] = rep.FileBytes
			if enc == EncodingAuto {
				writeTable3(&table, rep)
			}
		}
		t.Logf("skewed indices %v: float32 %d bytes; dense %d, sparse %d, Huffman %d, Encode %d bytes (%.1fx)\n%s",
			skewed, float32Bytes, sizes[EncodingDense], sizes[EncodingSparse], sizes[EncodingHuffman], sizes[EncodingAuto],
			float64(float32Bytes)/float64(sizes[EncodingAuto]), table.String())
		if !(sizes[EncodingAuto] <= sizes[EncodingHuffman] && sizes[EncodingHuffman] < sizes[EncodingSparse] && sizes[EncodingSparse] < sizes[EncodingDense]) {
			t.Errorf("sizes: %v, want auto <= Huffman < sparse < dense", sizes)
		}
		// 36K nonzeros at ~4 (uniform) or ~3 (skewed) index bits plus ~5 gap bits.
		if limit := float32Bytes / 38; sizes[EncodingAuto] > limit {
			t.Errorf("Encode wrote %d bytes, want at most %d (38x)", sizes[EncodingAuto], limit)
		}
		if limit := float32Bytes / 42; skewed && sizes[EncodingAuto] > limit {
			t.Errorf("Encode wrote %d bytes, want at most %d (42x)", sizes[EncodingAuto], limit)
		}
	}
}

// writeTable3 prints a storage report as Deep Compression's Table 3: per
// layer the kept weights, the bits per weight (codebook index) and per
// relative index before and after Huffman coding, and the compression rate.
func writeTable3(w *strings.Builder, rep *StorageReport) {
	fmt.Fprintf(w, "%-5s %8s %6s %4s %8s %6s %6s %6s %6s %7s\n", "layer", "weights", "kept", "K", "encoding", "w bits", "w+H", "g bits", "g+H", "bytes")
	for _, l := range rep.Layers {
		if l.Weights == 0 {
			continue
		}
		nz := float64(max(l.Nonzero, 1))
		fmt.Fprintf(w, "%-5d %8d %5.1f%% %4d %8v %6d %6.2f %6d %6.2f %7d\n", l.Index, l.Weights, 100*float64(l.Nonzero)/float64(l.Weights),
			l.Codebook, l.Encoding, l.IndexBits, float64(l.IndexStreamBits)/nz, l.GapBits, float64(l.PositionBits)/nz, l.Bytes)
	}
	fmt.Fprintf(w, "file %d bytes\n", rep.FileBytes)
}
