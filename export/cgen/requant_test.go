package cgen_test

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qatgo/qatgo/export/cgen"
	"github.com/qatgo/qatgo/export/cgen/internal/cbuild"
	"github.com/qatgo/qatgo/fakequant"
)

const requantMain = `#include <stdio.h>
#include <stdint.h>

%s
int main(void)
{
    long acc, m, zero, lo, hi;
    int shift;
    while (scanf("%%ld %%ld %%d %%ld %%ld %%ld", &acc, &m, &shift, &zero, &lo, &hi) == 6) {
        printf("%%ld %%d\n", (long)multiply_by_quantized_multiplier((int32_t)acc, (int32_t)m, shift),
               (int)requantize((int32_t)acc, (int32_t)m, shift, (int32_t)zero, (int32_t)lo, (int32_t)hi));
    }
    return 0;
}
`

// TestRequantizeEdges runs the generated requantization (both rules) on the
// int32 extremes, powers of two +-{0,1}, every shift from -31 to 30 and
// multipliers 0, 2^30, 2^31-1 and random ones, and compares it with
// fakequant.MultiplyByQuantizedMultiplierWith and RequantizeWith; built
// with the strict flags and again with UBSan and ASan.
func TestRequantizeEdges(t *testing.T) {
	c := compiler(t)
	rng := rand.New(rand.NewPCG(11, 12))
	accs := []int64{0, 1, -1, math.MaxInt32, math.MinInt32, math.MaxInt32 - 1, math.MinInt32 + 1}
	for k := 1; k < 31; k++ {
		for _, d := range []int64{-1, 0, 1} {
			accs = append(accs, int64(1)<<k+d, -(int64(1)<<k + d))
		}
	}
	for range 100 {
		accs = append(accs, int64(rng.Int32())-int64(rng.Int32()))
	}
	mults := []int64{0, 1 << 30, 1<<30 + 1, math.MaxInt32, 1518500250}
	for range 6 {
		mults = append(mults, 1<<30+rng.Int64N(1<<30))
	}
	var in bytes.Buffer
	type tc struct {
		acc, m   int32
		shift    int
		zero, lo int32
		hi       int32
	}
	var cases []tc
	for _, acc := range accs {
		for shift := -31; shift <= 30; shift++ {
			if shift > 0 && (acc<<shift > math.MaxInt32 || acc<<shift < math.MinInt32) {
				continue // outside the precondition the model validation enforces
			}
			for _, m := range mults {
				zero := rng.Int32N(256)
				lo := rng.Int32N(256)
				hi := lo + rng.Int32N(256-lo)
				if rng.IntN(2) == 0 {
					lo, hi = 0, 255
				}
				cases = append(cases, tc{int32(acc), int32(m), shift, zero, lo, hi})
				fmt.Fprintf(&in, "%d %d %d %d %d %d\n", acc, m, shift, zero, lo, hi)
			}
		}
	}
	for _, r := range []fakequant.Rounding{fakequant.RoundDouble, fakequant.RoundSingle} {
		for _, cc := range []struct {
			name string
			c    cbuild.Compiler
		}{{"strict", c}, {"sanitized", sanitized(c)}} {
			dir := t.TempDir()
			src := filepath.Join(dir, "requant.c")
			if err := os.WriteFile(src, []byte(fmt.Sprintf(requantMain, cgen.RequantizeC(r))), 0o644); err != nil {
				t.Fatal(err)
			}
			exe := filepath.Join(dir, "requant")
			args := append(append([]string(nil), cc.c.Flags...), "-Wno-unused-function", "-o", exe, src)
			if out, err := exec.Command(cc.c.CC, args...).CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", cc.name, err, out)
			}
			cmd := exec.Command(exe)
			cmd.Stdin = bytes.NewReader(in.Bytes())
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil || stderr.Len() > 0 {
				t.Fatalf("%s %v: %v %s", cc.name, r, err, stderr.Bytes())
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != len(cases) {
				t.Fatalf("%s %v: %d results for %d cases", cc.name, r, len(lines), len(cases))
			}
			for i, k := range cases {
				var v int64
				var q int
				if _, err := fmt.Sscan(lines[i], &v, &q); err != nil {
					t.Fatal(err)
				}
				wantV := fakequant.MultiplyByQuantizedMultiplierWith(r, k.acc, k.m, k.shift)
				wantQ := fakequant.RequantizeWith(r, k.acc, k.m, k.shift, k.zero, k.lo, k.hi)
				if v != int64(wantV) || q != int(wantQ) {
					t.Fatalf("%s %v: acc %d M %d shift %d: C gives %d (code %d), fakequant %d (code %d)",
						cc.name, r, k.acc, k.m, k.shift, v, q, wantV, wantQ)
				}
			}
			t.Logf("%s %v: %d cases equal", cc.name, r, len(cases))
		}
	}
}
