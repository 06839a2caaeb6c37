package samtemplate

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCfnLint: cfn-lint runs the realPath SAM translator offline and checks the
// result against CloudFormation's resource schemas, a second opinion on what
// the checks above model by hand. It is optional (skipped where cfn-lint is
// not installed, and with -short) as it is a Python tool, not part of Go. One
// run lints the realPath template and a broken copy, to show it can fail.
func TestCfnLint(t *testing.T) {
	bin, err := exec.LookPath("cfn-lint")
	if err != nil {
		t.Skip("cfn-lint not installed")
	}
	if testing.Short() {
		t.Skip("cfn-lint takes seconds; skipped with -short")
	}
	realPath := realTemplatePath(t)
	data, err := os.ReadFile(realPath)
	if err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(t.TempDir(), "broken.yaml")
	if err := os.WriteFile(broken, []byte(strings.Replace(string(data), "Timeout: 30", "Timeout: 3000", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--", realPath, broken).CombinedOutput()
	text := string(out)
	if err == nil {
		t.Fatalf("cfn-lint accepted a Timeout of 3000:\n%s", text)
	}
	if !strings.Contains(text, broken) || !strings.Contains(text, "3000") {
		t.Errorf("cfn-lint did not report the broken copy's Timeout:\n%s", text)
	}
	if strings.Contains(text, realPath) {
		t.Errorf("cfn-lint template.yaml:\n%s", text)
	}
}
