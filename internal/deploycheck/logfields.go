package deploycheck

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// ReadmeLogFields is the heading of the README's log-field table: the
// fields each line (by its msg) carries, a contract operators' queries rely on.
const ReadmeLogFields = "### Log fields"

// everyLine are the fields the table gives for all lines.
var everyLine = []string{"time", "level", "msg", "awsRequestId"}

var tick = regexp.MustCompile("`([^`]+)`")

// LogFieldTable reads the README's log-field table: for each msg it names,
// the fields listed for it (the union of its rows).
func LogFieldTable(readme string) (map[string][]string, error) {
	i := strings.Index(readme, ReadmeLogFields)
	if i < 0 {
		return nil, fmt.Errorf("README.md has no %q section", ReadmeLogFields)
	}
	table := map[string][]string{}
	for _, line := range strings.Split(readme[i:], "\n")[1:] {
		if strings.HasPrefix(line, "#") {
			break
		}
		cols := strings.Split(line, " | ")
		if !strings.HasPrefix(line, "| ") || len(cols) < 3 {
			continue
		}
		var fields []string
		for _, m := range tick.FindAllStringSubmatch(cols[0], -1) {
			fields = append(fields, m[1])
		}
		// The msgs are the backticked names of the second column outside
		// parentheses (inside: which function, or how).
		on := cols[1]
		for _, m := range tick.FindAllStringSubmatchIndex(on, -1) {
			if inParens(on, m[0]) {
				continue
			}
			msg := on[m[2]:m[3]]
			table[msg] = append(table[msg], fields...)
		}
	}
	if len(table) == 0 {
		return nil, fmt.Errorf("README.md %q: no rows", ReadmeLogFields)
	}
	return table, nil
}

// inParens says whether position i of s is inside parentheses.
func inParens(s string, i int) bool {
	return strings.Count(s[:i], "(") > strings.Count(s[:i], ")")
}

// LogFieldProblems compares JSON log lines the functions printed with the
// README's log-field table: every msg logged is in the table, and every
// field a line carries is one the table lists for its msg (or for all
// lines). EMF lines (msg "metrics") and Lambda's platform lines are
// CloudWatch's formats, described elsewhere; lines a test's own handlers
// print are skipped by skip.
func LogFieldProblems(table map[string][]string, lines [][]byte, skip func(msg string) bool) []string {
	missing := map[string]map[string]bool{}
	for _, b := range lines {
		var m map[string]any
		if json.Unmarshal(b, &m) != nil {
			continue
		}
		msg, _ := m["msg"].(string)
		if msg == "" || msg == "metrics" || m["type"] != nil || (skip != nil && skip(msg)) {
			continue
		}
		allowed, ok := table[msg]
		if !ok {
			if missing[msg] == nil {
				missing[msg] = map[string]bool{}
			}
			continue
		}
		for k := range m {
			if !slices.Contains(allowed, k) && !slices.Contains(everyLine, k) {
				if missing[msg] == nil {
					missing[msg] = map[string]bool{}
				}
				missing[msg][k] = true
			}
		}
	}
	var p []string
	for msg, fields := range missing {
		if _, ok := table[msg]; !ok {
			p = append(p, fmt.Sprintf("%q is logged, but the README's log-field table has no row for it", msg))
			continue
		}
		var fs []string
		for f := range fields {
			fs = append(fs, f)
		}
		sort.Strings(fs)
		p = append(p, fmt.Sprintf("%q is logged with %s, which the README's log-field table does not list for it", msg, strings.Join(fs, ", ")))
	}
	sort.Strings(p)
	return p
}
