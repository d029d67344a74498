package layering

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// goList runs go list -f format over the whole module.
func goList(t *testing.T, format string) string {
	t.Helper()
	// The go command that runs this test (GOROOT/bin/go), else the one on PATH.
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		goTool = "go"
	}
	out, err := exec.Command(goTool, "list", "-f", format, Module+"/...").Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list: %v\n%s", err, stderr)
	}
	return string(out)
}

// TestEveryPackageDocumented: every package of the module has a package doc comment saying what
// it is, in a file named doc.go, and no other file of the package has one.
func TestEveryPackageDocumented(t *testing.T) {
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(goList(t, "{{.ImportPath}}\t{{.Dir}}\t{{.Doc}}")), "\n") {
		pkg, rest, _ := strings.Cut(line, "\t")
		dir, doc, _ := strings.Cut(rest, "\t")
		n++
		if strings.TrimSpace(doc) == "" {
			t.Errorf("%s has no package doc comment", pkg)
		}
		fset := token.NewFileSet()
		pkgs, err := parser.ParseDir(fset, dir, func(fi fs.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			t.Fatalf("%s: %v", pkg, err)
		}
		var withDoc []string
		for _, p := range pkgs {
			for name, f := range p.Files {
				if f.Doc != nil {
					withDoc = append(withDoc, filepath.Base(name))
				}
			}
		}
		if len(withDoc) != 1 || withDoc[0] != "doc.go" {
			t.Errorf("%s: package doc comment in %v, want only in doc.go", pkg, withDoc)
		}
	}
	if n < 10 {
		t.Fatalf("go list listed %d packages", n)
	}
}

// TestModuleLayering runs `go list` over the whole module and checks its imports against Rules.
func TestModuleLayering(t *testing.T) {
	out := goList(t, `{{.ImportPath}} {{join .Imports " "}}`)
	g, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"data", "fakequant", "nn", "train", "export", "export/qnet", "cmd/qat"} {
		if _, ok := g[p]; !ok {
			t.Fatalf("go list did not list %s: %q...", p, string(out[:min(len(out), 200)]))
		}
	}
	for _, v := range Check(g, Rules) {
		t.Error(v)
	}
}

// TestCheckNamesTheEdge: a graph that breaks each rule is caught, with the chain of imports.
func TestCheckNamesTheEdge(t *testing.T) {
	ok := Graph{
		"data": {}, "fakequant": {}, "train/kmeans": {}, "internal/atomicfile": {},
		"export/qnet/internal/qgemm": {}, "export/qnet": {"fakequant", "internal/atomicfile", "export/qnet/internal/qgemm"},
		"nn": {"fakequant"}, "train/checkpoint": {"nn", "internal/atomicfile"},
		"train": {"nn", "data", "train/checkpoint", "train/kmeans"}, "export": {"train", "export/qnet"},
		"cmd/qat": {"export", "train"},
	}
	if v := Check(ok, Rules); len(v) != 0 {
		t.Fatalf("a layered graph fails: %q", v)
	}
	for _, c := range []struct {
		from, to string
		want     string
	}{
		{"fakequant", "data", "fakequant -> data"},
		{"data", "internal/atomicfile", "data -> internal/atomicfile"},
		{"train/kmeans", "nn", "train/kmeans -> nn"},
		{"nn", "data", "nn -> data"},
		{"nn", "train/checkpoint", "nn -> train/checkpoint"},
		{"export/qnet", "nn", "export/qnet -> nn"},
		{"train", "export/qnet", "train -> export/qnet"},
		{"train/checkpoint", "export", "train/checkpoint -> export"},
		{"export", "cmd/qat", "export -> cmd/qat"},
		// Through a third package.
		{"internal/atomicfile", "train", "export/qnet -> internal/atomicfile -> train"},
	} {
		g := Graph{}
		for k, v := range ok {
			g[k] = append([]string(nil), v...)
		}
		g[c.from] = append(g[c.from], c.to)
		v := Check(g, Rules)
		found := false
		for _, line := range v {
			found = found || strings.HasSuffix(line, ": "+c.want)
		}
		if !found {
			t.Errorf("%s imports %s: violations %q, want one ending %q", c.from, c.to, v, c.want)
		}
	}
}

func TestParse(t *testing.T) {
	g, err := Parse("github.com/qatgo/qatgo/nn fmt github.com/qatgo/qatgo/fakequant gorgonia.org/gorgonia\ngithub.com/qatgo/qatgo/data\n")
	if err != nil || len(g) != 2 || len(g["nn"]) != 1 || g["nn"][0] != "fakequant" || len(g["data"]) != 0 {
		t.Fatalf("Parse: %v, %v", g, err)
	}
	if _, err := Parse("example.com/other fmt\n"); err == nil {
		t.Error("a package outside the module parses")
	}
}
