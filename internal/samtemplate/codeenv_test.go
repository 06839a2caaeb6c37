package samtemplate

// Which environment variables does a function's code read? The function
// packages read them through internal/config: methods of a config.Env value
// (var env config.Env; env.Required("QUEUE_URL"); env.Optional("AUTH_HEADER",
// "Authorization"); env.Duration(...)), or package-level config.X("NAME")
// calls. These helpers parse the Go source (go/parser, nothing is compiled)
// of a function package and of every package of this module it imports,
// transitively, except internal/config itself (it reads names it is given).

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// functionDirs maps each function to the package its Makefile target must
// build and whose code must agree with the template's environment.
var functionDirs = map[string]string{
	receiverID:   "functions/receiver",
	workerID:     "functions/worker",
	reconcilerID: "functions/reconciler",
}

// configPkg is the module-relative import path of the env reading package.
const configPkg = "internal/config"

var upperSnake = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// codeEnv is what a function's code reads from its environment.
type codeEnv struct {
	required map[string]string // name → position of the config.Required* call
	read     map[string]string // every name read: config.*, os.Getenv, os.LookupEnv
	issues   problems          // calls whose name cannot be determined statically
}

func modulePath(root string) (string, error) {
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", err
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) == 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`), nil
		}
	}
	return "", fmt.Errorf("%s/go.mod: no module line", root)
}

// scanCodeEnv reads the package in root/dir and the module packages it
// imports. A config call (a method on a config.Env, or a function of the
// config package) whose first argument is a string literal or package-level
// constant names a variable; Required* calls name required ones. os.Getenv /
// os.LookupEnv literals count as read.
func scanCodeEnv(root, dir string) (codeEnv, error) {
	mod, err := modulePath(root)
	if err != nil {
		return codeEnv{}, err
	}
	env := codeEnv{required: map[string]string{}, read: map[string]string{}}
	seen := map[string]bool{}
	queue := []string{filepath.ToSlash(dir)}
	for len(queue) > 0 {
		rel := queue[0]
		queue = queue[1:]
		if seen[rel] {
			continue
		}
		seen[rel] = true
		imports, err := scanPackage(root, rel, mod, &env)
		if err != nil {
			return env, err
		}
		queue = append(queue, imports...)
	}
	return env, nil
}

// scanPackage records env reads of one package and returns the
// module-relative paths of the module packages it imports.
func scanPackage(root, rel, mod string, env *codeEnv) ([]string, error) {
	fset := token.NewFileSet()
	entries, err := os.ReadDir(filepath.Join(root, rel))
	if err != nil {
		return nil, err
	}
	var files []*ast.File
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(root, rel, n), nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%s: no Go files", rel)
	}

	// Package-level string constants, so config.Required(envQueueURL) works.
	consts := map[string]string{}
	for _, f := range files {
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, s := range gd.Specs {
				vs := s.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if i < len(vs.Values) {
						if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							consts[name.Name], _ = strconv.Unquote(lit.Value)
						}
					}
				}
			}
		}
	}

	// Pass 1: names of variables, parameters and fields of type config.Env
	// (the project reads variables via methods: var env config.Env;
	// env.Required("QUEUE_URL")). Names are enough; no type checking.
	envNames := map[string]bool{}
	var imports []string
	aliasesOf := make([]map[string]string, len(files))
	for i, f := range files {
		aliases := map[string]string{} // local name → import path
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			name := p[strings.LastIndex(p, "/")+1:]
			if im.Name != nil {
				name = im.Name.Name
			}
			aliases[name] = p
			if rest, ok := strings.CutPrefix(p, mod+"/"); ok && rest != configPkg && !slices.Contains(imports, rest) {
				imports = append(imports, rest)
			}
		}
		aliasesOf[i] = aliases
		isConfig := func(e ast.Expr) bool {
			id, ok := e.(*ast.Ident)
			return ok && aliases[id.Name] == mod+"/"+configPkg
		}
		isEnvType := func(e ast.Expr) bool {
			if st, ok := e.(*ast.StarExpr); ok {
				e = st.X
			}
			sel, ok := e.(*ast.SelectorExpr)
			return ok && isConfig(sel.X) && sel.Sel.Name == "Env"
		}
		isEnvValue := func(e ast.Expr) bool {
			if u, ok := e.(*ast.UnaryExpr); ok && u.Op == token.AND {
				e = u.X
			}
			switch v := e.(type) {
			case *ast.CompositeLit:
				return isEnvType(v.Type)
			case *ast.CallExpr:
				if id, ok := v.Fun.(*ast.Ident); ok && id.Name == "new" && len(v.Args) == 1 {
					return isEnvType(v.Args[0])
				}
				sel, ok := v.Fun.(*ast.SelectorExpr)
				return ok && isConfig(sel.X) && strings.HasPrefix(sel.Sel.Name, "New")
			}
			return false
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.ValueSpec:
				for i, name := range n.Names {
					if (n.Type != nil && isEnvType(n.Type)) || (i < len(n.Values) && isEnvValue(n.Values[i])) {
						envNames[name.Name] = true
					}
				}
			case *ast.Field:
				if isEnvType(n.Type) {
					for _, name := range n.Names {
						envNames[name.Name] = true
					}
				}
			case *ast.AssignStmt:
				for i, rhs := range n.Rhs {
					if id, ok := n.Lhs[min(i, len(n.Lhs)-1)].(*ast.Ident); ok && isEnvValue(rhs) {
						envNames[id.Name] = true
					}
				}
			}
			return true
		})
	}

	// Pass 2: calls that read a variable.
	for i, f := range files {
		aliases := aliasesOf[i]
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			var recv string // the identifier the method is called on
			switch x := sel.X.(type) {
			case *ast.Ident:
				recv = x.Name
			case *ast.SelectorExpr: // s.env.Required(...)
				recv = x.Sel.Name
			}
			imp := ""
			if id, ok := sel.X.(*ast.Ident); ok {
				imp = aliases[id.Name]
			}
			isConfig := imp == mod+"/"+configPkg || (imp == "" && envNames[recv])
			isOS := imp == "os" && (sel.Sel.Name == "Getenv" || sel.Sel.Name == "LookupEnv")
			if !isConfig && !isOS {
				return true
			}
			pos := fset.Position(call.Pos())
			where := fmt.Sprintf("%s:%d", strings.TrimPrefix(filepath.ToSlash(pos.Filename), filepath.ToSlash(root)+"/"), pos.Line)
			required := isConfig && strings.HasPrefix(sel.Sel.Name, "Required")
			name, known := "", false
			switch a := call.Args[0].(type) {
			case *ast.BasicLit:
				if a.Kind == token.STRING {
					name, _ = strconv.Unquote(a.Value)
					known = true
				}
			case *ast.Ident:
				name, known = consts[a.Name]
			}
			switch {
			case known && upperSnake.MatchString(name):
				env.read[name] = where
				if required {
					env.required[name] = where
				}
			case required:
				// A required variable we cannot name could be missing from
				// the template without this test noticing.
				env.issues.addf("%s: %s.%s argument is not a string literal or constant naming an UPPER_SNAKE variable",
					where, recv, sel.Sel.Name)
			}
			return true
		})
	}
	return imports, nil
}

// exemptEnv are variables the template need not set nor the code declare:
// Lambda's own AWS_* and the shared LOG_LEVEL.
func exemptEnv(name string) bool { return name == "LOG_LEVEL" || strings.HasPrefix(name, "AWS_") }

// existsOnlyWhenSet says whether v is !Ref P and the function exists only
// under a condition !Not [!Equals [!Ref P, ""]]: the empty default then
// never reaches it (the reconciler without Okta credentials).
func existsOnlyWhenSet(t *Template, id string, v any) bool {
	fn, ref, ok := Intrinsic(v)
	cond := t.Resources[id].Condition
	if !ok || fn != "Ref" || cond == "" {
		return false
	}
	fn, arg, ok := Intrinsic(t.Conditions[cond])
	not, _ := arg.([]any)
	if !ok || fn != "Fn::Not" || len(not) != 1 {
		return false
	}
	fn, arg, ok = Intrinsic(not[0])
	eq, _ := arg.([]any)
	if !ok || fn != "Fn::Equals" || len(eq) != 2 {
		return false
	}
	name := fmt.Sprint(ref)
	return (isRef(eq[0], name) && eq[1] == "") || (isRef(eq[1], name) && eq[0] == "")
}

// checkEnv compares a function's template environment with what its code
// reads: every required variable must be set (and not to ""), and every
// variable set must be read by some code (a typo otherwise).
func checkEnv(t *Template, id string, env codeEnv) problems {
	p := append(problems(nil), env.issues...)
	vars := t.FunctionEnv(id)
	if vars == nil {
		p.addf("Resources.%s: not a serverless function", id)
		return p
	}
	for _, name := range SortedKeys(env.required) {
		if exemptEnv(name) {
			continue
		}
		v, ok := vars[name]
		if !ok {
			p.addf("%s: code requires %s (%s) but the template does not set it", id, name, env.required[name])
			continue
		}
		if s, err := t.Str(v); err == nil && s == "" && !existsOnlyWhenSet(t, id, v) {
			p.addf("%s: code requires %s (%s) but the template sets it to \"\"", id, name, env.required[name])
		}
	}
	for _, name := range SortedKeys(vars) {
		if exemptEnv(name) {
			continue
		}
		if _, ok := env.read[name]; !ok {
			p.addf("%s: template sets %s but no code of the function reads it (typo?)", id, name)
		}
	}
	return p
}
