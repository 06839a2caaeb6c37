package ledger_test

import (
	"context"
	"github.com/hookline/hookline/internal/envelope"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hookline/hookline/internal/ledger"
)

// keyRecorder records the key of every item written or read, and answers
// as an empty table.
type keyRecorder struct{ keys []string }

func (r *keyRecorder) add(item map[string]types.AttributeValue) {
	s, _ := item[ledger.AttrKey].(*types.AttributeValueMemberS)
	if s == nil {
		r.keys = append(r.keys, "(no string key)")
		return
	}
	r.keys = append(r.keys, s.Value)
}

func (r *keyRecorder) BatchWriteItem(_ context.Context, in *dynamodb.BatchWriteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	for _, reqs := range in.RequestItems {
		for _, w := range reqs {
			if w.PutRequest != nil {
				r.add(w.PutRequest.Item)
			}
			if w.DeleteRequest != nil {
				r.add(w.DeleteRequest.Key)
			}
		}
	}
	return &dynamodb.BatchWriteItemOutput{}, nil
}

func (r *keyRecorder) BatchGetItem(_ context.Context, in *dynamodb.BatchGetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	for _, ka := range in.RequestItems {
		for _, k := range ka.Keys {
			r.add(k)
		}
	}
	return &dynamodb.BatchGetItemOutput{}, nil
}

func (r *keyRecorder) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	r.add(in.Key)
	return &dynamodb.GetItemOutput{}, nil
}

func (r *keyRecorder) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	r.add(in.Item)
	return &dynamodb.PutItemOutput{}, nil
}

// TestMarksAndCursorsStayUnderTheirKeyPrefixes: the keys delivery marks and
// cursors use start with the prefixes the IAM roles are limited to
// (ledger.Writers, template.yaml's dynamodb:LeadingKeys), whatever the
// uuid or name, one shaped like a handler record included; and a handler
// record never starts with one of them for a well-formed uuid.
func TestMarksAndCursorsStayUnderTheirKeyPrefixes(t *testing.T) {
	ctx := context.Background()
	odd := []string{"0b8d6d9e-1c4f-11ef-9a3b-5f0c2b9e8a11", "x#handler", "cursor#reconciler", "#"}
	marks := &keyRecorder{}
	d := &ledger.Marks{Client: marks, Table: "t"}
	if err := d.Mark(ctx, envelope.OriginHook, odd); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Marked(ctx, odd); err != nil {
		t.Fatal(err)
	}
	cursors := &keyRecorder{}
	c := &ledger.Cursors{Client: cursors, Table: "t"}
	for _, name := range odd {
		if err := c.Save(ctx, name, ledger.Cursor{}); err != nil {
			t.Fatal(err)
		}
		_, _ = c.Load(ctx, name)
	}
	for what, rec := range map[string]struct {
		keys   []string
		prefix string
	}{"marks": {marks.keys, ledger.PrefixMark}, "cursors": {cursors.keys, ledger.PrefixCursor}} {
		if len(rec.keys) != 2*len(odd) {
			t.Fatalf("%s: %d keys used, want %d", what, len(rec.keys), 2*len(odd))
		}
		for _, k := range rec.keys {
			if !strings.HasPrefix(k, rec.prefix) {
				t.Errorf("%s: key %q outside %q", what, k, rec.prefix)
			}
		}
	}
	for fn, prefixes := range ledger.Writers {
		for _, p := range prefixes {
			if !strings.HasSuffix(p, "#") || strings.ContainsAny(p, "*?") {
				t.Errorf("Writers[%s]: prefix %q must end in # and hold no IAM wildcard", fn, p)
			}
			if id := (ledger.Key{EventUUID: odd[0], Handler: "h"}).ID(); strings.HasPrefix(id, p) {
				t.Errorf("a handler record %q starts with %q", id, p)
			}
		}
	}
}

// TestEveryKeyPrefixInTheCodeIsDeclared: a string literal in hookline's
// production code that starts like a ledger key prefix ("health#",
// "lease#%s") must be a prefix of ledger.Writers. Otherwise a new kind of
// item could ship without its dynamodb:LeadingKeys grant (the write would
// be refused in AWS, never on kumo, which has no IAM), or open to the
// worker. Declare it in internal/ledger/keys.go, under the function that
// writes it ("worker" for the worker's own items), then update
// template.yaml as TestPolicyLedgerKeys (internal/samtemplate) says.
func TestEveryKeyPrefixInTheCodeIsDeclared(t *testing.T) {
	declared := map[string]bool{}
	for _, prefixes := range ledger.Writers {
		for _, p := range prefixes {
			declared[p] = true
		}
	}
	prefix := regexp.MustCompile(`^[a-z][A-Za-z0-9_-]*#`)
	fset := token.NewFileSet()
	found := 0
	for _, dir := range []string{"../../internal", "../../functions", "../../infra"} {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") ||
				strings.Contains(filepath.ToSlash(path), "/testdata/") {
				return err
			}
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				return err
			}
			ast.Inspect(f, func(n ast.Node) bool {
				lit, ok := n.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				s, err := strconv.Unquote(lit.Value)
				if p := prefix.FindString(s); err == nil && p != "" {
					found++
					if !declared[p] {
						t.Errorf("%s: %q looks like a ledger key prefix that ledger.Writers lacks: declare %q in internal/ledger/keys.go", fset.Position(lit.Pos()), s, p)
					}
				}
				return true
			})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if found < len(declared) {
		t.Fatalf("found %d prefix literals, fewer than the %d declared: the scan is broken", found, len(declared))
	}
}
