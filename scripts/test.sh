#!/usr/bin/env bash
# The project's test command: vet, then every test with the race detector.
# README.md and .ci/run both call exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt: these files need formatting:" >&2
	echo "$unformatted" >&2
	exit 1
fi
go vet ./...
if [ -z "${WASMSTATE_DUSK_CONTRACTS:-}" ]; then
	echo "test.sh: NOTE: TestDuskContracts will not run (WASMSTATE_DUSK_CONTRACTS unset; see scripts/fetch-dusk-contracts.sh)" >&2
fi
go test -race -count=1 ./... "$@"
