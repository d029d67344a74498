package qnet

import (
	"go/ast"
	goparser "go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestNoFloatingPoint enforces invariant 1 of the design: the integer
// runtime has no floating point. It parses every non-test Go file of the
// package and fails on float or complex types, float literals, and the
// float functions of math, math/big, strconv and similar. It also checks
// that the package imports only the standard library, fakequant, its
// kernels (internal/qgemm, checked alike), internal/atomicfile (standard
// library only) and golang.org/x/sys/cpu.
func TestNoFloatingPoint(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	// The kernels of the SIMD engine are part of the runtime.
	kernels, err := filepath.Glob("internal/qgemm/*.go")
	if err != nil || len(kernels) < 5 {
		t.Fatalf("internal/qgemm: %d files, %v", len(kernels), err)
	}
	files = append(files, kernels...)
	allowed := map[string]bool{"github.com/qatgo/qatgo/fakequant": true,
		"github.com/qatgo/qatgo/export/qnet/internal/qgemm": true, "golang.org/x/sys/cpu": true,
		"github.com/qatgo/qatgo/internal/atomicfile": true}
	banned := map[string]bool{"float32": true, "float64": true, "complex64": true, "complex128": true,
		"complex": true, "real": true, "imag": true}
	// Integer constants are all math may contribute.
	mathInts := map[string]bool{"MaxInt": true, "MinInt": true, "MaxInt8": true, "MinInt8": true,
		"MaxInt16": true, "MinInt16": true, "MaxInt32": true, "MinInt32": true, "MaxInt64": true,
		"MinInt64": true, "MaxUint8": true, "MaxUint16": true, "MaxUint32": true, "MaxUint64": true}
	checked := 0
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := goparser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		imports := map[string]string{} // local name -> path
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if strings.Contains(strings.Split(path, "/")[0], ".") && !allowed[path] {
				t.Errorf("%s imports %s: the runtime may import the standard library, fakequant, its kernels, internal/atomicfile and x/sys/cpu only", name, path)
			}
			switch path {
			case "math/big", "math/cmplx", "math/rand", "math/rand/v2", "strconv", "unsafe":
				t.Errorf("%s imports %s", name, path)
			}
			local := path[strings.LastIndex(path, "/")+1:]
			if imp.Name != nil {
				local = imp.Name.Name
			}
			imports[local] = path
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.Ident:
				if banned[n.Name] {
					t.Errorf("%s: %s", fset.Position(n.Pos()), n.Name)
				}
			case *ast.BasicLit:
				if n.Kind == token.FLOAT || n.Kind == token.IMAG {
					t.Errorf("%s: floating-point literal %s", fset.Position(n.Pos()), n.Value)
				}
			case *ast.SelectorExpr:
				if pkg, ok := n.X.(*ast.Ident); ok && imports[pkg.Name] == "math" && !mathInts[n.Sel.Name] {
					t.Errorf("%s: math.%s", fset.Position(n.Pos()), n.Sel.Name)
				}
			}
			return true
		})
	}
	if checked < 15 {
		t.Fatalf("checked only %d files", checked)
	}
}
