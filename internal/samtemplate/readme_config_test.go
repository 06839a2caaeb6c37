package samtemplate_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hookline/hookline/internal/deploycheck"
	"github.com/hookline/hookline/internal/samtemplate"
)

var (
	backticked = regexp.MustCompile("`([A-Z][A-Z0-9_]*)`")
	fixedPair  = regexp.MustCompile("`([A-Z][A-Z0-9_]*)` = `([^`]*)`")
)

// readmeConfigProblems: the README's Configuration section lists variables
// the template does not set and variables it fixes to a literal. Each
// function's main_test.go checks that what the function reads is listed
// (deploycheck.CheckReadme); this checks the lists against the template: no
// variable listed as not set is set for any function, and each fixed value
// is a literal the template sets for some function.
func readmeConfigProblems(readme string, tpl *samtemplate.Template) []string {
	var p []string
	notSet := deploycheck.ReadmeSentence(readme, deploycheck.ReadmeNotSet)
	fixed := deploycheck.ReadmeSentence(readme, deploycheck.ReadmeFixed)
	if notSet == "" || fixed == "" {
		return []string{fmt.Sprintf("README.md lacks %s or %s", deploycheck.ReadmeNotSet, deploycheck.ReadmeFixed)}
	}
	fns := tpl.ResourcesOfType(samtemplate.TypeFunction)
	for _, m := range backticked.FindAllStringSubmatch(notSet, -1) {
		for _, id := range fns {
			if _, set := tpl.FunctionEnv(id)[m[1]]; set {
				p = append(p, fmt.Sprintf("README says template.yaml does not set %s; it does for %s", m[1], id))
			}
		}
	}
	for _, m := range fixedPair.FindAllStringSubmatch(fixed, -1) {
		found := false
		for _, id := range fns {
			v, set := tpl.FunctionEnv(id)[m[1]]
			_, _, intrinsic := samtemplate.Intrinsic(v)
			s, _ := tpl.Str(v)
			found = found || (set && !intrinsic && s == m[2])
		}
		if !found {
			p = append(p, fmt.Sprintf("README says template.yaml fixes %s = %q; no function has that literal", m[1], m[2]))
		}
	}
	return p
}

func TestReadmeSaysWhichSettingsTheTemplateSets(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := samtemplate.Load(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(data)
	for _, p := range readmeConfigProblems(readme, tpl) {
		t.Error(p)
	}
	for _, c := range []struct{ name, old, new, want string }{
		{"a set variable listed as not set", "`PUBLISH_BUDGET`.", "`PUBLISH_BUDGET`, `QUEUE_URL`.", "does not set QUEUE_URL"},
		{"a fixed value that is not the template's", "`AUTH_HEADER` = `Authorization`", "`AUTH_HEADER` = `X-Okta`", `fixes AUTH_HEADER = "X-Okta"`},
		{"a parameter listed as fixed", "`AUTH_HEADER` = `Authorization`", "`LOG_LEVEL` = `info`", `fixes LOG_LEVEL = "info"`},
		{"no fixed list", deploycheck.ReadmeFixed, "**Fixed**", "README.md lacks"},
	} {
		if !strings.Contains(readme, c.old) {
			t.Fatalf("%s: README.md no longer contains %q; update this case", c.name, c.old)
		}
		got := strings.Join(readmeConfigProblems(strings.Replace(readme, c.old, c.new, 1), tpl), "\n")
		if !strings.Contains(got, c.want) {
			t.Errorf("%s: problems %q, want one containing %q", c.name, got, c.want)
		}
	}
}
