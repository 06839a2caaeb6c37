package samtemplate

// TestTemplateBuildAndEnv checks the Makefile's build targets and the
// functions' environment against template.yaml.

import (
	"os"
	"path/filepath"
	"testing"
)

// repoRoot walks up from the package directory to the directory with go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

func realTemplatePath(t *testing.T) string { return filepath.Join(repoRoot(t), "template.yaml") }

func report(t *testing.T, p problems) {
	t.Helper()
	for _, s := range p {
		t.Error(s)
	}
}

func TestTemplateBuildAndEnv(t *testing.T) {
	root := repoRoot(t)
	tpl, err := Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("Makefile", func(t *testing.T) {
		// SAM looks for the Makefile in each function's CodeUri (".").
		text, err := os.ReadFile(filepath.Join(root, "Makefile"))
		if err != nil {
			t.Fatalf("sam build needs a Makefile next to template.yaml: %v", err)
		}
		report(t, checkMakefile(tpl, string(text), functionDirs))
	})
	t.Run("Env", func(t *testing.T) {
		for _, id := range tpl.ResourcesOfType(TypeFunction) {
			dir, ok := functionDirs[id]
			if !ok {
				t.Errorf("%s: no code directory known; add it to functionDirs", id)
				continue
			}
			t.Run(id, func(t *testing.T) {
				env, err := scanCodeEnv(root, dir)
				if err != nil {
					t.Fatalf("reading the code of %s: %v", id, err)
				}
				report(t, checkEnv(tpl, id, env))
			})
		}
	})
}
