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
# The version go.mod names: an older toolchain fails later with a less
# helpful message (or downloads another toolchain behind the user's back).
have_go=$(go env GOVERSION | sed -E 's/^go([0-9]+)\.([0-9]+).*/\1 \2/')
read -r have_major have_minor <<<"$have_go"
need_major=${need_go%%.*}
need_minor=${need_go#*.}
if ! [[ "$have_major" =~ ^[0-9]+$ && "$have_minor" =~ ^[0-9]+$ ]] ||
	((have_major < need_major || (have_major == need_major && have_minor < need_minor))); then
	echo "setup: Go $need_go or newer is required, found $(go env GOVERSION) (https://go.dev/dl/)" >&2
	exit 1
fi
if ! grep -q "^go $need_go" go.mod; then
	echo "setup: go.mod names another Go version than this script ($need_go): update need_go" >&2
	exit 1
fi
# The network tests run real parts: headless Chromium (the light client
# compiled to wasm, examples/browser), nginx as a caching proxy (serve's
# cache test) and curl (README's serve-and-sync walkthrough). The tests
# start what they need on 127.0.0.1 themselves.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v curl >/dev/null 2>&1 || missing+=(curl)
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "setup: installing ${missing[*]}"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
	else
		echo "setup: warning: ${missing[*]} missing (apt-get install ${missing[*]}); the network tests need them" >&2
	fi
fi
go version
go mod download
# statectl on PATH: the demo and the walkthrough tell the user to run it.
go install ./cmd/statectl
bin=$(go env GOBIN)
[ -n "$bin" ] || bin="$(go env GOPATH)/bin"
echo "setup: installed statectl in $bin"
case ":$PATH:" in
*":$bin:"*) ;;
*) echo "setup: add it to your PATH: export PATH=\"$bin:\$PATH\"" ;;
esac
echo "setup: ok"
