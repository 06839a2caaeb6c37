// Package deploycheck checks that each function agrees with what deploys
// and documents it, by running things rather than reading source: the
// binary its Makefile target (the sam build hook) builds, the AWS services
// the binary links against the ones its IAM role in template.yaml grants,
// the environment its settings loader reads against the one the template
// sets, and the README's Configuration section against both. It checks no
// Lambda behaviour (the functions' own tests and devstack do). Each
// function's main_test.go calls it; nothing else imports it. Its own
// layout_test.go holds the README's Layout to the packages there are.
package deploycheck

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/hookline/hookline/internal/samtemplate"
)

// Root is the module's root directory (where go.mod, template.yaml and the
// Makefile are).
func Root(t testing.TB) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		t.Fatal("not inside a Go module")
	}
	return filepath.Dir(gomod)
}

// Template loads the repo's template.yaml.
func Template(t testing.TB) *samtemplate.Template {
	t.Helper()
	tpl, err := samtemplate.Load(filepath.Join(Root(t), "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

// CheckBuild builds function id with its sam build hook, `make build-<id>`
// with ARTIFACTS_DIR set, as `sam build` runs it, and fails t unless the
// artifact is what provided.al2023 on arm64 runs (see ArtifactProblems) and
// its main package is mainPkg ("functions/receiver"). Skipped with -short.
func CheckBuild(t *testing.T, id, mainPkg string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the function; skipped with -short")
	}
	root := Root(t)
	if tpl := Template(t); tpl.Resources[id].Metadata["BuildMethod"] != "makefile" {
		t.Fatalf("%s: template.yaml does not build it with the Makefile (Metadata.BuildMethod)", id)
	}
	dir := t.TempDir()
	cmd := exec.Command("make", "--no-print-directory", "-C", root, "build-"+id, "ARTIFACTS_DIR="+dir)
	// Not what this machine's `go env GOFLAGS` happens to hold: the Makefile
	// alone must make the binary `sam build` makes, on every machine.
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=auto")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make build-%s: %v\n%s", id, err, out)
	}
	for _, p := range ArtifactProblems(filepath.Join(dir, "bootstrap"), modulePath(t, root)+"/"+mainPkg) {
		t.Errorf("make build-%s: %s", id, p)
	}
}

// ArtifactProblems inspects a Lambda artifact: an ELF for linux/arm64,
// statically linked (no dependence on the image's libc), stripped of symbols and DWARF (-ldflags '-s -w': a smaller
// binary starts faster), built with -trimpath (no build machine paths), with
// -tags lambda.norpc (aws-lambda-go without its net/rpc mode, which
// provided.al2023 never uses), CGO_ENABLED=0, without version control
// information (-buildvcs=false: `sam build` copies the source without .git,
// so a binary stamped with the checkout's commit is not the one it makes),
// from main package mainPath.
func ArtifactProblems(path, mainPath string) []string {
	var p []string
	f, err := elf.Open(path)
	if err != nil {
		return []string{fmt.Sprintf("%s: not an ELF binary: %v", path, err)}
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 || f.Class != elf.ELFCLASS64 {
		p = append(p, fmt.Sprintf("machine %v %v, want EM_AARCH64 (arm64)", f.Machine, f.Class))
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP || prog.Type == elf.PT_DYNAMIC {
			p = append(p, fmt.Sprintf("dynamically linked (%v), want a static binary", prog.Type))
			break
		}
	}
	for _, s := range f.Sections {
		if s.Name == ".symtab" || strings.HasPrefix(s.Name, ".debug_") || strings.HasPrefix(s.Name, ".zdebug_") {
			p = append(p, fmt.Sprintf("section %s present, want stripped (-ldflags '-s -w')", s.Name))
			break
		}
	}
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		return append(p, fmt.Sprintf("no Go build info: %v", err))
	}
	if info.Path != mainPath {
		p = append(p, fmt.Sprintf("main package %s, want %s", info.Path, mainPath))
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	for key, want := range map[string]string{"GOOS": "linux", "GOARCH": "arm64", "CGO_ENABLED": "0", "-trimpath": "true"} {
		if settings[key] != want {
			p = append(p, fmt.Sprintf("built with %s=%q, want %q", key, settings[key], want))
		}
	}
	if vcs, ok := settings["vcs"]; ok {
		p = append(p, fmt.Sprintf("built with version control information (vcs=%s, vcs.revision=%s), want -buildvcs=false: sam build, which copies the source without .git, makes another binary", vcs, settings["vcs.revision"]))
	}
	if !slices.Contains(strings.Split(settings["-tags"], ","), "lambda.norpc") {
		p = append(p, fmt.Sprintf("built with -tags %q, want lambda.norpc", settings["-tags"]))
	}
	slices.Sort(p)
	return p
}

func modulePath(t testing.TB, root string) string {
	t.Helper()
	cmd := exec.Command("go", "list", "-m")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// CheckServices fails t unless the AWS SDK service packages that package pkg
// (a path such as "./functions/receiver", from the module root) links, for
// Lambda, are exactly want ("sqs", "secretsmanager", ...): a service client
// built where it is not called makes the binary larger and its cold start
// slower.
func CheckServices(t *testing.T, pkg string, want ...string) {
	t.Helper()
	got, err := LinkedServices(Root(t), pkg)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s links AWS services %v, want %v", pkg, got, want)
	}
}

// LinkedPackages lists the import paths of every package pkg depends on,
// itself included, as built for Lambda (linux/arm64, -tags lambda.norpc).
// goFlags go to go list before the others (e.g. -overlay).
func LinkedPackages(root, pkg string, goFlags ...string) ([]string, error) {
	args := append(append([]string{"list"}, goFlags...), "-deps", "-tags", "lambda.norpc", "-f", "{{.ImportPath}}", pkg)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list -deps %s: %v\n%s", pkg, err, stderr.String())
	}
	return strings.Fields(string(out)), nil
}

// LinkedServices lists the aws-sdk-go-v2/service/* packages pkg depends on,
// as built for Lambda (linux/arm64, -tags lambda.norpc), by name, sorted.
// goFlags go to go list before the others (e.g. -overlay).
func LinkedServices(root, pkg string, goFlags ...string) ([]string, error) {
	deps, err := LinkedPackages(root, pkg, goFlags...)
	if err != nil {
		return nil, err
	}
	const prefix = "github.com/aws/aws-sdk-go-v2/service/"
	var services []string
	for _, dep := range deps {
		name, ok := strings.CutPrefix(dep, prefix)
		if !ok || strings.HasPrefix(name, "internal/") || strings.Contains(name, "/") {
			continue
		}
		services = append(services, name)
	}
	slices.Sort(services)
	return services, nil
}
