#!/bin/sh
# Make sure clang can build freestanding wasm32 modules (clang's wasm32
# target plus the wasm-ld linker), as testdata/c/build.sh needs. If a test
# build already works, change nothing; otherwise install Debian's clang
# and lld (lld ships wasm-ld) with apt-get. Idempotent; for CI on a fresh
# Debian machine, run as root (or with sudo available).
set -eu

probe_dir=$(mktemp -d)
trap 'rm -rf "$probe_dir"' EXIT

# usable: compile and link a one-function module exporting a data symbol as
# a global, with the flags build.sh uses.
usable() {
    command -v clang >/dev/null 2>&1 || { echo "setup-clang: clang not found"; return 1; }
    command -v wasm-ld >/dev/null 2>&1 || { echo "setup-clang: wasm-ld not found"; return 1; }
    cat >"$probe_dir/probe.c" <<'C'
unsigned char A_buf[16] __asm__("A");
__attribute__((export_name("f"))) unsigned f(unsigned n) { __builtin_memset(A_buf, 0, n & 15); return n; }
C
    if ! clang --target=wasm32-unknown-unknown -O2 -ffreestanding -nostdlib -mbulk-memory \
        -Wl,--no-entry -Wl,--export=A -Wl,--strip-all \
        -o "$probe_dir/probe.wasm" "$probe_dir/probe.c" >"$probe_dir/log" 2>&1; then
        echo "setup-clang: clang cannot build wasm32 yet:"
        sed 's/^/  /' "$probe_dir/log" | head -n 5
        return 1
    fi
    # A wasm binary starts with "\0asm".
    [ "$(head -c 4 "$probe_dir/probe.wasm" | od -An -c | tr -d ' ')" = '\0asm' ] || {
        echo "setup-clang: the probe build did not produce a wasm module"
        return 1
    }
}

report() {
    echo "setup-clang: $(clang --version | head -n 1); wasm-ld: $(command -v wasm-ld) ($(wasm-ld --version 2>/dev/null | head -n 1))"
}

if usable; then
    echo "setup-clang: clang --target=wasm32 and wasm-ld already usable; nothing installed"
    report
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    SUDO=
elif command -v sudo >/dev/null 2>&1; then
    SUDO=sudo
else
    echo "setup-clang: need root (or sudo) to install clang and lld" >&2
    exit 1
fi
command -v apt-get >/dev/null 2>&1 || { echo "setup-clang: apt-get not found (Debian expected)" >&2; exit 1; }

echo "setup-clang: installing Debian packages: clang lld"
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends clang lld

if ! usable; then
    echo "setup-clang: clang and lld installed, but the wasm32 test build still fails" >&2
    exit 1
fi
echo "setup-clang: installed clang and lld"
report
