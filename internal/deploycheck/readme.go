package deploycheck

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hookline/hookline/internal/samtemplate"
)

// The README's Configuration section names, in two sentences, the
// variables a function reads that template.yaml leaves to their defaults, and
// those it fixes to a literal with no parameter.
const (
	ReadmeNotSet = "**Not set by `template.yaml`**"
	ReadmeFixed  = "**Fixed in `template.yaml`**"
)

var (
	backticked = regexp.MustCompile("`([A-Z][A-Z0-9_]*)`")
	fixedPair  = regexp.MustCompile("`([A-Z][A-Z0-9_]*)` = `([^`]*)`")
)

// CheckReadme fails t unless README.md agrees with function id (see
// ReadmeProblems).
func CheckReadme(t *testing.T, id string, load Loader) {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join(Root(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range ReadmeProblems(string(readme), Template(t), id, load) {
		t.Error(p)
	}
}

// ReadmeProblems reports a variable function id reads that the template does
// not set and the README does not list as not set, and one the template sets
// to a literal that the README does not list, with that value, as fixed.
// (That the README lists no variable the template sets as not set, and no
// fixed value the template does not have, samtemplate's tests check.)
func ReadmeProblems(readme string, tpl *samtemplate.Template, id string, load Loader) []string {
	read, p := reads(tpl, id, load)
	if len(p) > 0 {
		return p
	}
	notSet := map[string]bool{}
	for _, m := range backticked.FindAllStringSubmatch(ReadmeSentence(readme, ReadmeNotSet), -1) {
		notSet[m[1]] = true
	}
	fixed := map[string]string{}
	for _, m := range fixedPair.FindAllStringSubmatch(ReadmeSentence(readme, ReadmeFixed), -1) {
		fixed[m[1]] = m[2]
	}
	vars := tpl.FunctionEnv(id)
	for _, name := range samtemplate.SortedKeys(read) {
		v, set := vars[name]
		if !set {
			if !notSet[name] {
				p = append(p, fmt.Sprintf("%s reads %s, which template.yaml does not set; README's %s does not list it", id, name, ReadmeNotSet))
			}
			continue
		}
		if _, _, intrinsic := samtemplate.Intrinsic(v); intrinsic {
			continue
		}
		if s, _ := tpl.Str(v); fixed[name] != s {
			p = append(p, fmt.Sprintf("template.yaml fixes %s's %s = %q; README's %s says %q", id, name, s, ReadmeFixed, fixed[name]))
		}
	}
	return p
}

// ReadmeSentence returns the README text that starts with prefix, joined
// into one line, up to its first ". ".
func ReadmeSentence(readme, prefix string) string {
	i := strings.Index(readme, prefix)
	if i < 0 {
		return ""
	}
	s := strings.ReplaceAll(readme[i:], "\n", " ")
	if j := strings.Index(s, ". "); j >= 0 {
		s = s[:j]
	}
	return s
}
