#!/bin/sh
# linecount.sh [REV]: lines of Go and shell in the tree at REV (default: the
# work tree), split three ways:
#   tests   = _test.go files, testdata/, and the test-support packages
#             (authtest, devstacktest, emftest, handlertest, ledgertest,
#             queuetest: the *test folders)
#   harness = what runs the product locally or checks it and ships in no
#             Lambda: internal/devstack, samtemplate, eventfiles, faultproxy,
#             deploycheck (was lambdatest), sqsevent (now queue/lambda.go),
#             the stand-in Okta org (internal/standin, was
#             internal/oktaapi/oktatest), infra/testscan, infra/bench
#   code    = everything else (functions/, internal/, infra/hookline, ...)
# Lines are all lines (blank and comment lines included), as wc -l counts.
# LEGACY=1 counts the stand-in org as tests when it is still named oktatest,
# as the count before issue 16 did.
set -eu
rev=${1:-}
if [ -n "$rev" ]; then
	files=$(git ls-tree -r --name-only "$rev")
	cat_file() { git show "$rev:$1"; }
else
	files=$(git ls-files --cached --others --exclude-standard)
	cat_file() { cat "$1"; }
fi
code=0 harness=0 tests=0
for f in $(printf '%s\n' $files | grep -E '\.(go|sh)$'); do
	[ -n "$rev" ] || [ -f "$f" ] || continue
	n=$(cat_file "$f" | wc -l)
	case "$f" in
	*_test.go | */testdata/*) tests=$((tests + n)) ;;
	internal/devstack/devstacktest/*) tests=$((tests + n)) ;;
	internal/oktaapi/oktatest/*)
		if [ "${LEGACY:-}" = 1 ]; then tests=$((tests + n)); else harness=$((harness + n)); fi ;;
	internal/devstack/* | internal/samtemplate/* | internal/eventfiles/* | internal/sqsevent/* | \
		internal/queue/lambda.go | internal/faultproxy/* | internal/lambdatest/* | internal/deploycheck/* | \
		internal/standin/* | infra/testscan/* | infra/bench/*)
		harness=$((harness + n)) ;;
	*test/*) tests=$((tests + n)) ;;
	*) code=$((code + n)) ;;
	esac
done
printf 'code %d\nharness %d\ntests %d\n' "$code" "$harness" "$tests"
