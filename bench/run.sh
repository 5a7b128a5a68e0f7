#!/usr/bin/env bash
# Runs wasmstate's benchmark suite and prints the medians with benchstat.
#
#   bench/run.sh                       # everything, -count 6
#   bench/run.sh -count 10             # more runs per benchmark
#   bench/run.sh -bench 'Call|KV'      # a subset (a go test -bench regexp)
#   bench/run.sh -skip WriteAmp        # leave some out (go test -skip)
#   bench/run.sh -benchtime 2s         # longer runs
#
# COUNT, BENCH, SKIP and BENCHTIME in the environment set the same. The raw
# output goes to bench/out/bench-<time>.txt (with the machine description
# at the top, as benchstat configuration lines), the benchstat summary to
# bench/out/benchstat-<time>.txt; bench/out/latest.txt and
# bench/out/latest-benchstat.txt point at the last run. Compare two runs
# with: benchstat bench/out/bench-A.txt bench/out/bench-B.txt
set -euo pipefail
cd "$(dirname "$0")"

count=${COUNT:-6}
bench=${BENCH:-.}
skip=${SKIP:-}
benchtime=${BENCHTIME:-1s}
while [ $# -gt 0 ]; do
	case "$1" in
	-count) count=$2; shift 2 ;;
	-bench) bench=$2; shift 2 ;;
	-skip) skip=$2; shift 2 ;;
	-benchtime) benchtime=$2; shift 2 ;;
	-h | --help) sed -n '2,17p' "$0"; exit 0 ;;
	*) echo "run.sh: unknown argument $1 (see run.sh -h)" >&2; exit 2 ;;
	esac
done

benchstat=$(command -v benchstat || true)
if [ -z "$benchstat" ]; then
	benchstat="$(go env GOPATH)/bin/benchstat"
	if [ ! -x "$benchstat" ]; then
		echo "installing benchstat (golang.org/x/perf/cmd/benchstat)" >&2
		go install golang.org/x/perf/cmd/benchstat@latest
	fi
fi

mkdir -p out
stamp=$(date -u +%Y%m%dT%H%M%SZ)
raw=out/bench-$stamp.txt
summary=out/benchstat-$stamp.txt
{
	echo "nproc: $(nproc)"
	echo "cpu-model: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
	echo "kernel: $(uname -sr)"
	echo "go: $(go env GOVERSION)"
	echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- .. 2>/dev/null || echo ' (modified)')"
	echo "loadavg-start: $(cut -d' ' -f1-3 /proc/loadavg)"
} >"$raw"
echo "bench/run.sh: go test -bench '$bench' -skip '$skip' -count $count -benchtime $benchtime -> bench/$raw" >&2
# The store fixtures (10,000 contracts, 10,000 commits) are built once per
# run, in a temporary directory removed at the end (WASMSTATE_BENCH_TMP
# picks its parent).
go test -run '^$' -bench "$bench" -skip "$skip" -count "$count" -benchtime "$benchtime" -timeout 0 . | tee -a "$raw"
echo "loadavg-end: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$raw"
"$benchstat" "$raw" | tee "$summary"
ln -sf "$(basename "$raw")" out/latest.txt
ln -sf "$(basename "$summary")" out/latest-benchstat.txt
echo "bench/run.sh: raw output bench/$raw, medians bench/$summary" >&2
