package samtemplate

// `sam build` runs `make build-<LogicalId>` with ARTIFACTS_DIR set for every
// function whose Metadata.BuildMethod is makefile, and deploys whatever lands
// in $(ARTIFACTS_DIR). These helpers read the Makefile's text (no make is run)
// well enough to check that each target builds the right package into
// $(ARTIFACTS_DIR)/bootstrap for Lambda's arm64 provided.al2023 runtime.

import (
	"path"
	"regexp"
	"slices"
	"strings"
)

type makefile struct {
	vars     map[string]string
	exported map[string]bool
	targets  map[string]mkTarget
}

type mkTarget struct {
	prereqs []string
	recipe  []string // raw recipe lines, continuations joined
}

var (
	mkAssign = regexp.MustCompile(`^(?:(export|override)\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*(::=|:=|\?=|\+=|!=|=)\s*(.*)$`)
	mkRule   = regexp.MustCompile(`^([^:=#\t][^:=#]*?)\s*::?\s*(.*)$`)
	mkExport = regexp.MustCompile(`^export\s+([A-Za-z_][A-Za-z0-9_ ]*)$`)
	mkVarRef = regexp.MustCompile(`\$\(([^()$]+)\)|\$\{([^{}$]+)\}`)
)

// parseMakefile understands variable assignments, export, rules and their
// recipes; that is all a SAM build target needs.
func parseMakefile(text string) makefile {
	m := makefile{vars: map[string]string{}, exported: map[string]bool{}, targets: map[string]mkTarget{}}
	var lines []string
	var cont strings.Builder
	for _, l := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n") {
		if strings.HasSuffix(l, "\\") {
			cont.WriteString(strings.TrimSuffix(l, "\\"))
			cont.WriteString(" ")
			continue
		}
		cont.WriteString(l)
		lines = append(lines, cont.String())
		cont.Reset()
	}
	var current []string // targets the following recipe lines belong to
	for _, l := range lines {
		if strings.HasPrefix(l, "\t") {
			for _, tg := range current {
				t := m.targets[tg]
				t.recipe = append(t.recipe, strings.TrimSpace(l))
				m.targets[tg] = t
			}
			continue
		}
		if i := strings.Index(l, "#"); i >= 0 {
			l = l[:i]
		}
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if sm := mkAssign.FindStringSubmatch(l); sm != nil {
			name, op, val := sm[2], sm[3], strings.TrimSpace(sm[4])
			switch op {
			case "?=":
				if _, ok := m.vars[name]; !ok {
					m.vars[name] = val
				}
			case "+=":
				if old, ok := m.vars[name]; ok && old != "" {
					val = old + " " + val
				}
				m.vars[name] = val
			case ":=", "::=":
				m.vars[name] = m.expand(val, nil) // simply expanded
			default:
				m.vars[name] = val
			}
			if sm[1] == "export" {
				m.exported[name] = true
			}
			current = nil
			continue
		}
		if sm := mkExport.FindStringSubmatch(l); sm != nil {
			for _, n := range strings.Fields(sm[1]) {
				m.exported[n] = true
			}
			current = nil
			continue
		}
		if sm := mkRule.FindStringSubmatch(l); sm != nil {
			current = strings.Fields(sm[1])
			prereqs, inline, _ := strings.Cut(sm[2], ";")
			for _, tg := range current {
				t := m.targets[tg]
				t.prereqs = append(t.prereqs, strings.Fields(prereqs)...)
				if s := strings.TrimSpace(inline); s != "" {
					t.recipe = append(t.recipe, s)
				}
				m.targets[tg] = t
			}
			continue
		}
		current = nil
	}
	return m
}

// makeProvided are variables make or SAM supply; everything else must be
// defined in the Makefile, since make silently expands an unknown one to "".
var makeProvided = map[string]bool{"ARTIFACTS_DIR": true, "MAKE": true, "CURDIR": true, "MAKEFLAGS": true}

// expand substitutes $(VAR)/${VAR} recursively. ARTIFACTS_DIR stays as
// $(ARTIFACTS_DIR); unknown variables are recorded in undefined (if non-nil)
// and expand to "" as in make.
func (m makefile) expand(s string, undefined map[string]bool) string {
	for range 20 {
		next := mkVarRef.ReplaceAllStringFunc(s, func(ref string) string {
			name := strings.TrimSpace(ref[2 : len(ref)-1])
			if strings.ContainsAny(name, " \t,") { // $(shell ...), $(call ...)
				return ref
			}
			if v, ok := m.vars[name]; ok {
				return v
			}
			if makeProvided[name] {
				return "\x00" + name + "\x01" // protected until the end
			}
			if undefined != nil {
				undefined[name] = true
			}
			return ""
		})
		if next == s {
			break
		}
		s = next
	}
	s = strings.NewReplacer("\x00", "$(", "\x01", ")").Replace(s)
	return strings.ReplaceAll(s, "$$", "$")
}

// recipeOf returns the expanded recipe of target and of its prerequisites
// (which make runs first), in order.
func (m makefile) recipeOf(target string, undefined map[string]bool) []string {
	var out []string
	seen := map[string]bool{}
	var walk func(string)
	walk = func(tg string) {
		if seen[tg] {
			return
		}
		seen[tg] = true
		t := m.targets[tg]
		for _, pr := range t.prereqs {
			walk(m.expand(pr, undefined))
		}
		for _, l := range t.recipe {
			out = append(out, strings.TrimLeft(m.expand(l, undefined), "@-+ "))
		}
	}
	walk(target)
	return out
}

// shellWords splits a command line like a POSIX shell would, well enough for
// build commands: quotes, backslashes, and the && || ; | operators as words.
func shellWords(s string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			words = append(words, cur.String())
			cur.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'':
			inWord = true
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				j = len(s) - i - 1
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
		case c == '"':
			inWord = true
			for i++; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				cur.WriteByte(s[i])
			}
		case c == '\\' && i+1 < len(s):
			inWord = true
			i++
			cur.WriteByte(s[i])
		case c == ' ' || c == '\t':
			flush()
		case c == ';' || c == '|' || c == '&':
			flush()
			op := string(c)
			if i+1 < len(s) && (s[i+1] == '&' || s[i+1] == '|') {
				op += string(s[i+1])
				i++
			}
			words = append(words, op)
		default:
			inWord = true
			cur.WriteByte(c)
		}
	}
	flush()
	return words
}

// goBuild is one `go build` command found in a recipe.
type goBuild struct {
	env      map[string]string // NAME=value words before the go binary
	flags    map[string]string // -flag → value ("" for booleans)
	packages []string
}

// goValueFlags are `go build` flags that take a value as the next word.
var goValueFlags = []string{"-o", "-tags", "-ldflags", "-gcflags", "-asmflags", "-mod", "-modfile", "-p",
	"-pkgdir", "-buildmode", "-compiler", "-gccgoflags", "-installsuffix", "-overlay", "-pgo", "-toolexec",
	"-C", "-coverpkg", "-covermode", "-buildvcs"}

var envAssign = regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)=(.*)$`)

// findGoBuilds returns every `[env ...] [NAME=v ...] go build ...` command.
func findGoBuilds(lines []string) []goBuild {
	var builds []goBuild
	for _, l := range lines {
		words := shellWords(l)
		for len(words) > 0 {
			end := slices.IndexFunc(words, func(w string) bool { return w == "&&" || w == "||" || w == ";" || w == "|" || w == "&" })
			if end < 0 {
				end = len(words)
			}
			cmd := words[:end]
			if end < len(words) {
				words = words[end+1:]
			} else {
				words = nil
			}
			b := goBuild{env: map[string]string{}, flags: map[string]string{}}
			i := 0
			if i < len(cmd) && cmd[i] == "env" {
				i++
			}
			for ; i < len(cmd); i++ {
				sm := envAssign.FindStringSubmatch(cmd[i])
				if sm == nil {
					break
				}
				b.env[sm[1]] = sm[2]
			}
			if i+1 >= len(cmd) || path.Base(cmd[i]) != "go" || cmd[i+1] != "build" {
				continue
			}
			for j := i + 2; j < len(cmd); j++ {
				w := cmd[j]
				if !strings.HasPrefix(w, "-") {
					b.packages = append(b.packages, w)
					continue
				}
				w = "-" + strings.TrimLeft(w, "-")
				name, val, hasVal := strings.Cut(w, "=")
				if !hasVal && slices.Contains(goValueFlags, name) && j+1 < len(cmd) {
					j++
					val = cmd[j]
				}
				b.flags[name] = val
			}
			builds = append(builds, b)
		}
	}
	return builds
}

// checkMakefile checks the build target of every makefile-built function.
// dirs maps logical IDs to the package each must build ("functions/receiver").
func checkMakefile(t *Template, text string, dirs map[string]string) problems {
	var p problems
	m := parseMakefile(text)
	for _, id := range t.ResourcesOfType(TypeFunction) {
		if t.Resources[id].Metadata["BuildMethod"] != "makefile" {
			continue
		}
		target := "build-" + id
		at := "Makefile " + target
		if _, ok := m.targets[target]; !ok {
			p.addf("%s: no such target; sam build runs `make %s`", at, target)
			continue
		}
		undefined := map[string]bool{}
		lines := m.recipeOf(target, undefined)
		for _, name := range SortedKeys(undefined) {
			p.addf("%s: $(%s) is not defined in the Makefile (make expands it to nothing)", at, name)
		}
		builds := findGoBuilds(lines)
		if len(builds) != 1 {
			p.addf("%s: want exactly one `go build` in the recipe, found %d in %q", at, len(builds), lines)
			continue
		}
		b := builds[0]
		envOf := func(name string) string {
			if v, ok := b.env[name]; ok {
				return v
			}
			if m.exported[name] {
				return m.expand(m.vars[name], nil)
			}
			return ""
		}
		for name, want := range map[string]string{"CGO_ENABLED": "0", "GOOS": "linux", "GOARCH": "arm64"} {
			if got := envOf(name); got != want {
				p.addf("%s: %s=%q, want %s=%s (Lambda arm64, no libc)", at, name, got, name, want)
			}
		}
		out, ok := b.flags["-o"]
		if !ok || (out != "$(ARTIFACTS_DIR)/bootstrap" && out != "${ARTIFACTS_DIR}/bootstrap") {
			p.addf("%s: -o %q, want $(ARTIFACTS_DIR)/bootstrap (what provided.al2023 runs)", at, out)
		}
		if tags := strings.FieldsFunc(b.flags["-tags"], func(r rune) bool { return r == ',' || r == ' ' }); !slices.Contains(tags, "lambda.norpc") {
			p.addf("%s: -tags %q lacks lambda.norpc (drops the unused net/rpc runtime)", at, b.flags["-tags"])
		}
		if _, ok := b.flags["-trimpath"]; !ok {
			p.addf("%s: -trimpath missing (reproducible builds)", at)
		}
		ld := strings.Fields(b.flags["-ldflags"])
		if !slices.Contains(ld, "-s") || !slices.Contains(ld, "-w") {
			p.addf("%s: -ldflags %q, want '-s -w' (smaller binary, faster cold start)", at, b.flags["-ldflags"])
		}
		want, known := dirs[id]
		switch {
		case !known:
			p.addf("%s: no package known for %s; add it to functionDirs", at, id)
		case len(b.packages) != 1 || path.Clean(strings.TrimPrefix(b.packages[0], "./")) != want:
			p.addf("%s: builds %q, want ./%s", at, b.packages, want)
		}
	}
	return p
}
