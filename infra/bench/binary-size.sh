#!/usr/bin/env bash
# Receiver, worker and reconciler binary sizes for linux/arm64, built exactly as the
# template builds them, next to a hello-world aws-lambda-go function.
# The receiver must stay within 1.5x a hello-world binary: the script fails above it.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
build() { CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -tags lambda.norpc -trimpath -ldflags '-s -w' -o "$out/$1" "$2"; }
build hello ./infra/bench/hello
build receiver ./functions/receiver
build worker ./functions/worker
build reconciler ./functions/reconciler
hello=$(stat -c %s "$out/hello")
for fn in hello receiver worker reconciler; do
	size=$(stat -c %s "$out/$fn")
	awk -v fn="$fn" -v s="$size" -v h="$hello" 'BEGIN { printf "%-10s %9d bytes  %5.2f MB  %4.2fx hello-world\n", fn, s, s/1e6, s/h }'
done
receiver=$(stat -c %s "$out/receiver")
awk -v r="$receiver" -v h="$hello" 'BEGIN { if (r > 1.5*h) { print "receiver is over 1.5x hello-world"; exit 1 } }'
