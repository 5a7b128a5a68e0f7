#!/usr/bin/env bash
# Sets up a fresh machine to build, test and run wasmstate: checks the Go
# toolchain and a C compiler (wasmtime-go links a static library through
# cgo), and downloads the Go modules. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

need_go="1.26"
if ! command -v go >/dev/null 2>&1; then
	echo "setup: Go $need_go or newer is required (https://go.dev/dl/)" >&2
	exit 1
fi
if ! command -v gcc >/dev/null 2>&1 && ! command -v cc >/dev/null 2>&1; then
	echo "setup: installing a C compiler for cgo"
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		apt-get update -qq && apt-get install -y -qq --no-install-recommends gcc libc6-dev
	else
		echo "setup: no C compiler; install gcc (cgo needs it)" >&2
		exit 1
	fi
fi
go version
go mod download
echo "setup: ok"
