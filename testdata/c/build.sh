#!/bin/sh
# Rebuild token.wasm from token.c with clang's wasm32 target and wasm-ld.
# Run from any directory; scripts/setup-clang.sh installs the toolchain.
# The output is deterministic for a given clang/lld version (no debug info,
# no name or producers sections); the committed token.wasm was built with
# the version in token.wasm.clang-version.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
CC=${CC:-clang}
command -v "$CC" >/dev/null 2>&1 && command -v wasm-ld >/dev/null 2>&1 || {
    echo "build.sh: need $CC and wasm-ld; run scripts/setup-clang.sh" >&2
    exit 1
}

build() { # build NAME: NAME.c -> NAME.wasm
    "$CC" --target=wasm32-unknown-unknown -std=c11 -O2 \
        -ffreestanding -nostdlib -mbulk-memory \
        -fno-ident -Wall -Wextra \
        -Wl,--no-entry \
        -Wl,--export=A \
        -Wl,--stack-first -Wl,-z,stack-size=65536 \
        -Wl,--strip-all \
        -o "$here/$1.wasm.tmp" "$here/$1.c"
    chmod 644 "$here/$1.wasm.tmp"
    mv "$here/$1.wasm.tmp" "$here/$1.wasm"
    echo "built $here/$1.wasm ($(wc -c <"$here/$1.wasm") bytes)"
}

build token
"$CC" --version | head -n 1 >"$here/token.wasm.clang-version"
