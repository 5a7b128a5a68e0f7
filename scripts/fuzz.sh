#!/usr/bin/env bash
# Runs every fuzz target for the given time each (default 10s):
#   ./scripts/fuzz.sh 10m
set -euo pipefail
cd "$(dirname "$0")/.."
t=${1:-10s}
grep -rl --include='*_test.go' '^func Fuzz' . | while read -r f; do
	pkg=$(dirname "$f")
	for fn in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | cut -d' ' -f2); do
		echo "fuzz: $pkg $fn ($t)"
		# Minimizing each new interesting input may take up to a minute by
		# default, which stalls a short run on targets with large seeds.
		go test "$pkg" -run '^$' -fuzz "^${fn}\$" -fuzztime "$t" -fuzzminimizetime 2s
	done
done
