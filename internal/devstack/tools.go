package devstack

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
)

// modulePath is the module whose go.mod marks the repository root.
const modulePath = "github.com/hookline/hookline"

// toolPackages are the emulators pinned as `tool`s in infra/tools/go.mod,
// by the name of their binary in .bin.
var toolPackages = map[string]string{
	"kumo":           "github.com/sivchari/kumo/cmd/kumo",
	"aws-lambda-rie": "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie",
}

// RepoRoot returns the directory of the go.mod declaring module
// github.com/hookline/hookline, walking up from dir.
func RepoRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && moduleOf(data) == modulePath {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of module %s above %s", modulePath, dir)
		}
		dir = parent
	}
}

// moduleOf returns the module path declared in a go.mod file.
func moduleOf(gomod []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`)
		}
	}
	return ""
}

// Tool returns <root>/.bin/<name> for kumo or aws-lambda-rie, building it
// first (`go build -trimpath -ldflags '-s -w'` inside infra/tools) unless it is
// newer than infra/tools/go.sum. A cold build of kumo takes minutes; logf,
// if set, hears about it. Builds are serialized across processes with a
// flock on <root>/.bin/.lock, so parallel test binaries build once.
func Tool(root, name string, logf func(format string, args ...any)) (string, error) {
	pkg, ok := toolPackages[name]
	if !ok {
		return "", fmt.Errorf("unknown tool %q (want kumo or aws-lambda-rie)", name)
	}
	binDir := filepath.Join(root, ".bin")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(binDir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)

	out := filepath.Join(binDir, name)
	toolsDir := filepath.Join(root, "infra", "tools")
	sum, err := os.Stat(filepath.Join(toolsDir, "go.sum"))
	if err != nil {
		return "", err
	}
	if fi, err := os.Stat(out); err == nil && fi.Mode().IsRegular() && fi.ModTime().After(sum.ModTime()) {
		return out, nil
	}
	if logf != nil {
		note := ""
		if name == "kumo" {
			note = " (a cold build takes a few minutes)"
		}
		logf("building %s into %s%s", pkg, out, note)
	}
	tmp := fmt.Sprintf("%s.tmp-%d", out, os.Getpid())
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", tmp, pkg)
	cmd.Dir = toolsDir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("go build %s (in %s): %v\n%s", pkg, toolsDir, err, b)
	}
	// Rename, so that nobody ever runs a half-written binary.
	if err := os.Rename(tmp, out); err != nil {
		os.Remove(tmp)
		return "", err
	}
	return out, nil
}

// BuildBootstrap builds the main package pkg (a path relative to root, such
// as ./functions/receiver) into out as a Lambda bootstrap for this machine,
// with the flags of the Lambda build (see the Makefile's LAMBDA_BUILD).
func BuildBootstrap(root, pkg, out string) error {
	cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w", "-o", out, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
	}
	return nil
}

func checkExecutable(p string) error {
	if p == "" {
		return errors.New("no path given")
	}
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", p)
	}
	return nil
}
