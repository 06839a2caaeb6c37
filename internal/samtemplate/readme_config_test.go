package samtemplate

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// readmeSentence returns the README paragraph line that starts with prefix,
// up to its first ". ".
func readmeSentence(t *testing.T, readme, prefix string) string {
	t.Helper()
	i := strings.Index(readme, prefix)
	if i < 0 {
		t.Fatalf("README.md has no %q", prefix)
	}
	s := strings.ReplaceAll(readme[i:], "\n", " ")
	if j := strings.Index(s, ". "); j >= 0 {
		s = s[:j]
	}
	return s
}

var (
	backticked = regexp.MustCompile("`([A-Z][A-Z0-9_]*)`")
	fixedPair  = regexp.MustCompile("`([A-Z][A-Z0-9_]*)` = `([^`]*)`")
)

// TestReadmeSaysWhichSettingsTheTemplateSets: the README's Configuration
// section lists the variables the functions' code reads that template.yaml
// does not set (their defaults apply), and those it sets to a fixed value
// with no parameter. Both lists are checked against the template and the
// code, so they cannot drift.
func TestReadmeSaysWhichSettingsTheTemplateSets(t *testing.T) {
	root := repoRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	tpl, err := Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}

	var notSet []string
	fixed := map[string]string{}
	for _, id := range SortedKeys(functionDirs) {
		env, err := scanCodeEnv(root, functionDirs[id])
		if err != nil {
			t.Fatal(err)
		}
		vars := tpl.FunctionEnv(id)
		for _, name := range SortedKeys(env.read) {
			if exemptEnv(name) {
				continue
			}
			v, ok := vars[name]
			if !ok {
				notSet = append(notSet, name)
				continue
			}
			if _, _, intrinsic := Intrinsic(v); !intrinsic {
				s, _ := tpl.Str(v)
				fixed[name] = s
			}
		}
	}
	slices.Sort(notSet)
	notSet = slices.Compact(notSet)

	var saidNotSet []string
	for _, m := range backticked.FindAllStringSubmatch(readmeSentence(t, readme, "**Not set by `template.yaml`**"), -1) {
		saidNotSet = append(saidNotSet, m[1])
	}
	slices.Sort(saidNotSet)
	if !slices.Equal(saidNotSet, notSet) {
		t.Errorf("README says the template does not set %v; the code reads %v without the template setting them", saidNotSet, notSet)
	}
	saidFixed := map[string]string{}
	for _, m := range fixedPair.FindAllStringSubmatch(readmeSentence(t, readme, "**Fixed in `template.yaml`**"), -1) {
		saidFixed[m[1]] = m[2]
	}
	for name, v := range fixed {
		if saidFixed[name] != v {
			t.Errorf("template.yaml fixes %s = %q; README says %q", name, v, saidFixed[name])
		}
	}
	for name := range saidFixed {
		if _, ok := fixed[name]; !ok {
			t.Errorf("README says %s is fixed in template.yaml; it is not a literal there", name)
		}
	}
}
