#!/usr/bin/env bash
# Installs clang and lld if needed, rebuilds testdata/c/token.wasm from its
# C source and checks it is the committed binary (when the clang version is
# the one that built the committed file; another version may emit other
# bytes, and then the build itself is the check). Leaves the tree as found.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup-clang.sh
tmp=$(mktemp -d)
trap 'cp "$tmp/token.wasm" testdata/c/token.wasm; cp "$tmp/version" testdata/c/token.wasm.clang-version; rm -rf "$tmp"' EXIT
cp testdata/c/token.wasm "$tmp/token.wasm"
cp testdata/c/token.wasm.clang-version "$tmp/version"
./testdata/c/build.sh
if cmp -s testdata/c/token.wasm.clang-version "$tmp/version"; then
	if cmp -s testdata/c/token.wasm "$tmp/token.wasm"; then
		echo "check-c-contract: token.wasm matches its source"
	else
		echo "check-c-contract: token.wasm differs from what token.c builds to; run testdata/c/build.sh and commit" >&2
		exit 1
	fi
else
	echo "check-c-contract: built with $(cat testdata/c/token.wasm.clang-version), committed with $(cat "$tmp/version"): built, not compared"
fi
