package deploycheck

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeLayoutNamesEveryPackage: the README's Layout section has a line
// for every Go package of the repository (a test-support package may be
// named in its parent's line instead, as "(queuetest: ...)"), and names none
// that is gone.
func TestReadmeLayoutNamesEveryPackage(t *testing.T) {
	root := Root(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, layout, ok := strings.Cut(string(readme), "\n## Layout\n")
	if !ok {
		t.Fatal("README has no ## Layout section")
	}
	if i := strings.Index(layout, "\n## "); i >= 0 {
		layout = layout[:i]
	}
	lines := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^((?:functions|internal|infra)/[\w/]+)\s`).FindAllStringSubmatch(layout, -1) {
		lines[m[1]] = true
	}
	pkgs := map[string]bool{}
	for _, top := range []string{"functions", "internal", "infra"} {
		err := filepath.WalkDir(filepath.Join(root, top), func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && d.Name() == "testdata" {
				return filepath.SkipDir
			}
			if !d.IsDir() || !hasGo(t, path) {
				return nil
			}
			rel, _ := filepath.Rel(root, path)
			pkgs[filepath.ToSlash(rel)] = true
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(pkgs) < 20 {
		t.Fatalf("found %d packages, want the repository's", len(pkgs))
	}
	for p := range pkgs {
		named := lines[p]
		for dir := p; !named && strings.Contains(dir, "/"); {
			dir = dir[:strings.LastIndex(dir, "/")]
			named = lines[dir] && strings.Contains(layout, "("+filepath.Base(p)+":") ||
				lines[dir] && strings.HasPrefix(dir, "infra/") && strings.Contains(layout, " "+filepath.Base(p))
		}
		if !named {
			t.Errorf("README Layout does not name package %s", p)
		}
	}
	for l := range lines {
		if _, err := os.Stat(filepath.Join(root, l)); err != nil {
			t.Errorf("README Layout names %s, which is not in the repository", l)
		}
	}
}

func hasGo(t *testing.T, dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".go") {
			return true
		}
	}
	return false
}
