package cbuild

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/qatgo/qatgo/export/cgen"
	"github.com/qatgo/qatgo/export/qnet"
)

// harness is the C main: harness IMAGES N reads N images (an idx3 file, its
// 16-byte header skipped, or raw bytes) and writes, per image, to stdout:
// with -D<NAME>_TRACE, every stage's output as 'T', int32 layer, int32 n,
// n codes; then 'O', the output codes and the class as int32 (little
// endian).
const harness = `#include <stdio.h>
#include <stdlib.h>
#include "@name@.h"

static uint8_t arena[@NAME@_ARENA_SIZE];
static uint8_t pixels[@NAME@_INPUT_SIZE];
static uint8_t codes[@NAME@_OUTPUT_SIZE];

static void put32(long v)
{
    unsigned long u = (unsigned long)v;
    putchar((int)(u & 255u));
    putchar((int)((u >> 8) & 255u));
    putchar((int)((u >> 16) & 255u));
    putchar((int)((u >> 24) & 255u));
}

#ifdef @NAME@_TRACE
void @name@_trace(int layer, const uint8_t *c, int n)
{
    putchar('T');
    put32(layer);
    put32(n);
    fwrite(c, 1, (size_t)n, stdout);
}
#endif

int main(int argc, char **argv)
{
    FILE *f;
    long n, i;
    unsigned char hdr[16];
    if (argc != 3) {
        fprintf(stderr, "usage: harness IMAGES N\n");
        return 2;
    }
    f = fopen(argv[1], "rb");
    if (f == NULL) {
        perror(argv[1]);
        return 1;
    }
    n = atol(argv[2]);
    if (fread(hdr, 1, 4, f) != 4) {
        fprintf(stderr, "%s: too short\n", argv[1]);
        return 1;
    }
    if (hdr[0] == 0 && hdr[1] == 0 && hdr[2] == 8 && hdr[3] == 3) {
        if (fread(hdr + 4, 1, 12, f) != 12) { /* idx3: magic, count, rows, cols */
            fprintf(stderr, "%s: short idx header\n", argv[1]);
            return 1;
        }
    } else if (fseek(f, 0, SEEK_SET) != 0) {
        perror(argv[1]);
        return 1;
    }
    for (i = 0; i < n; ++i) {
        int class;
        if (fread(pixels, 1, sizeof pixels, f) != sizeof pixels) {
            fprintf(stderr, "%s: image %ld missing\n", argv[1], i);
            return 1;
        }
        class = @name@_predict(pixels, codes, arena);
        putchar('O');
        fwrite(codes, 1, sizeof codes, stdout);
        put32(class);
    }
    fclose(f);
    return fflush(stdout) == 0 ? 0 : 1;
}
`

// Compiler is a C toolchain: CC and its flags, and Exec, a prefix that runs
// the binaries it builds (e.g. ["qemu-arm"]; empty: run directly).
type Compiler struct {
	CC    string
	Flags []string
	Exec  []string
}

// Strict is the flag set of the tests: C99, every warning an error.
var Strict = []string{"-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic"}

// Build writes files and the harness into dir and compiles them; with trace,
// the harness records every stage's output. It returns the executable.
func (c Compiler) Build(dir string, f *cgen.Files, trace bool) (string, error) {
	for name, data := range map[string][]byte{
		f.Name + ".h": f.Header,
		f.Name + ".c": f.Source,
		"harness.c":   []byte(strings.NewReplacer("@name@", f.Name, "@NAME@", strings.ToUpper(f.Name)).Replace(harness)),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return "", err
		}
	}
	exe := filepath.Join(dir, "harness")
	args := append([]string(nil), c.Flags...)
	if trace {
		args = append(args, "-D"+strings.ToUpper(f.Name)+"_TRACE")
	}
	args = append(args, "-o", exe, filepath.Join(dir, "harness.c"), filepath.Join(dir, f.Name+".c"))
	cmd := exec.Command(c.CC, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s %s: %v\n%s", c.CC, strings.Join(args, " "), err, out)
	}
	return exe, nil
}

// Result is what the harness computed for one image.
type Result struct {
	Trace map[int][]byte // model layer index -> codes (trace builds only)
	Codes []byte
	Class int
}

// Run runs exe on n images of the file images and parses its output.
func (c Compiler) Run(exe, images string, n, outLen int) ([]Result, error) {
	args := append(append([]string(nil), c.Exec...), exe, images, fmt.Sprint(n))
	cmd := exec.Command(args[0], args[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, stderr.Bytes())
	}
	if stderr.Len() > 0 { // the sanitizers report here and may not change the exit status
		return nil, fmt.Errorf("%s wrote to stderr: %s", strings.Join(args, " "), stderr.Bytes())
	}
	return parse(bufio.NewReader(bytes.NewReader(out)), n, outLen)
}

func parse(r *bufio.Reader, n, outLen int) ([]Result, error) {
	res := make([]Result, 0, n)
	cur := Result{Trace: map[int][]byte{}}
	for len(res) < n {
		tag, err := r.ReadByte()
		if err != nil {
			return nil, fmt.Errorf("harness output ends after %d of %d images", len(res), n)
		}
		switch tag {
		case 'T':
			var hdr [8]byte
			if _, err := io.ReadFull(r, hdr[:]); err != nil {
				return nil, err
			}
			layer, size := int(int32(binary.LittleEndian.Uint32(hdr[:4]))), int(int32(binary.LittleEndian.Uint32(hdr[4:])))
			if size < 0 || size > 1<<24 {
				return nil, fmt.Errorf("trace record of %d bytes", size)
			}
			b := make([]byte, size)
			if _, err := io.ReadFull(r, b); err != nil {
				return nil, err
			}
			cur.Trace[layer] = b
		case 'O':
			b := make([]byte, outLen+4)
			if _, err := io.ReadFull(r, b); err != nil {
				return nil, err
			}
			cur.Codes = b[:outLen]
			cur.Class = int(int32(binary.LittleEndian.Uint32(b[outLen:])))
			res = append(res, cur)
			cur = Result{Trace: map[int][]byte{}}
		default:
			return nil, fmt.Errorf("harness output: unexpected byte %q", tag)
		}
	}
	if _, err := r.ReadByte(); err != io.EOF {
		return nil, fmt.Errorf("harness output: trailing bytes")
	}
	return res, nil
}

// WriteIdx writes n images of size rows*cols (one channel) or raw bytes as an
// MNIST idx3 file: magic 0x00000803, count, rows, cols (big endian), pixels.
func WriteIdx(path string, imgs []byte, n, rows, cols int) error {
	b := binary.BigEndian.AppendUint32(nil, 0x00000803)
	for _, v := range []int{n, rows, cols} {
		b = binary.BigEndian.AppendUint32(b, uint32(v))
	}
	return os.WriteFile(path, append(b, imgs...), 0o644)
}

// Compare checks res against the engine on the same images (back to back in
// imgs): every output code, the class, and every traced stage's codes
// against the engine's output of that layer. It returns the first mismatch.
func Compare(m *qnet.Model, imgs []byte, res []Result) error {
	r := m.NewRunner()
	size := m.InC * m.InH * m.InW
	for i, got := range res {
		img := imgs[i*size : (i+1)*size]
		if len(got.Trace) > 0 {
			want := r.Trace(img)
			for layer, codes := range got.Trace {
				if layer < 0 || layer >= len(want) {
					return fmt.Errorf("image %d: trace of layer %d, the model has %d", i, layer, len(want))
				}
				if !bytes.Equal(codes, want[layer]) {
					return fmt.Errorf("image %d, layer %d: C codes differ from the engine's at %d of %d places (first at %d: %d vs %d)",
						i, layer, differ(codes, want[layer]), len(want[layer]), firstDiff(codes, want[layer]), at(codes, firstDiff(codes, want[layer])), at(want[layer], firstDiff(codes, want[layer])))
				}
			}
		}
		want := r.Forward(img)
		if !bytes.Equal(got.Codes, want) {
			return fmt.Errorf("image %d: C output codes %v, engine %v", i, got.Codes, want)
		}
		if c := qnet.Argmax(want); got.Class != c {
			return fmt.Errorf("image %d: C class %d, engine %d", i, got.Class, c)
		}
	}
	return nil
}

func differ(a, b []byte) int {
	n := max(len(a), len(b)) - min(len(a), len(b))
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			n++
		}
	}
	return n
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func at(b []byte, i int) int {
	if i < len(b) {
		return int(b[i])
	}
	return -1
}
