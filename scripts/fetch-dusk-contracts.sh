#!/usr/bin/env bash
# Fetches Dusk's compiled mainnet genesis contracts, stake (wasm32) and
# transfer (memory64), for the optional test that runs them unchanged
# (engine TestDuskContracts). wasmstate ships no third-party binaries: this
# downloads the published artifacts and checks their BLAKE3 before use.
#
#   source:  https://github.com/dusk-network/rusk
#   commit:  d701b3b8ab907f10ba41361be06c58060c186489
#            ("rusk-recovery: use mainnet contracts while generating
#            genesis-state", 2025-01-17; the last commit to change them)
#   paths:   rusk-recovery/assets/stake_contract.wasm     (237,873 bytes)
#            rusk-recovery/assets/transfer_contract.wasm  (533,408 bytes)
#   source code of both: contracts/stake and contracts/transfer there.
#
# Usage: scripts/fetch-dusk-contracts.sh [DIR]   (default: .dusk-contracts)
# then:  WASMSTATE_DUSK_CONTRACTS=DIR go test ./engine -run TestDuskContracts -v
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-.dusk-contracts}"
commit=d701b3b8ab907f10ba41361be06c58060c186489
base="https://raw.githubusercontent.com/dusk-network/rusk/$commit/rusk-recovery/assets"
# BLAKE3 of the files at that commit (the same constants are in
# engine/dusk_test.go, which checks them again before deploying).
declare -A want=(
	[stake_contract.wasm]=d1fb84431dfe5ab6aef5dbe6f257370f9ee7c34407fd46044912e3c15ae49676
	[transfer_contract.wasm]=fc70c04a7af16e0e321bcb309e2ef16e0cc6c9f52344038f243969bfb3a1dc14
)
mkdir -p "$dir"
for name in stake_contract.wasm transfer_contract.wasm; do
	tmp="$dir/$name.part"
	curl -fsSL --retry 3 --max-time 120 -o "$tmp" "$base/$name"
	got=$(go run ./scripts/b3sum "$tmp" | cut -d' ' -f1)
	if [ "$got" != "${want[$name]}" ]; then
		rm -f "$tmp"
		echo "fetch-dusk-contracts: $name: BLAKE3 $got, want ${want[$name]}" >&2
		exit 1
	fi
	mv "$tmp" "$dir/$name"
	echo "fetch-dusk-contracts: $dir/$name ok (BLAKE3 $got)"
done
echo "run: WASMSTATE_DUSK_CONTRACTS=$dir go test ./engine -run TestDuskContracts -v"
