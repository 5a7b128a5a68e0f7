package engine

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/zeebo/blake3"

	"github.com/wasmstate/wasmstate/codec"
	"github.com/wasmstate/wasmstate/lightclient"
	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/witness"
)

// Dusk's compiled mainnet genesis contracts, as scripts/fetch-dusk-contracts.sh
// fetches them from dusk-network/rusk at commit d701b3b8 (rusk-recovery/assets).
// Their BLAKE3 is checked before anything runs.
var duskContracts = []struct {
	file   string
	blake3 string
	id     byte // Dusk's reserved id: 0x01 transfer, 0x02 stake
	kind   merkle.MemoryKind
}{
	{"transfer_contract.wasm", "fc70c04a7af16e0e321bcb309e2ef16e0cc6c9f52344038f243969bfb3a1dc14", 0x01, merkle.Memory64},
	{"stake_contract.wasm", "d1fb84431dfe5ab6aef5dbe6f257370f9ee7c34407fd46044912e3c15ae49676", 0x02, merkle.Memory32},
}

// stakeConfig is dusk_core::stake::StakeConfig as rkyv archives it: rustc
// puts the u64 first (the archived struct is not repr(C)), then the u8 and
// 7 bytes of padding. The default (1,000 DUSK, 1 warning) read back from
// the contract pins this order.
type stakeConfig struct {
	MinimumStake uint64
	Warnings     uint8
}

// TestDuskContracts runs Dusk's stake (wasm32) and transfer (memory64)
// contracts unchanged: deploy at Dusk's reserved ids, queries and state
// changes from the host with chain_id and block_height metadata, commit,
// reopen at the old and new roots, a proof of the page holding stake's
// config, and a malformed argument failing with a typed error.
func TestDuskContracts(t *testing.T) {
	dir := os.Getenv("WASMSTATE_DUSK_CONTRACTS")
	if dir == "" {
		t.Skip("NOT RUN: TestDuskContracts needs Dusk's compiled contracts; " +
			"run scripts/fetch-dusk-contracts.sh DIR and set WASMSTATE_DUSK_CONTRACTS=DIR")
	}
	codes := map[byte][]byte{}
	for _, c := range duskContracts {
		b, err := os.ReadFile(filepath.Join(dir, c.file))
		if err != nil {
			t.Fatalf("WASMSTATE_DUSK_CONTRACTS=%s: %v", dir, err)
		}
		if sum := blake3.Sum256(b); hex.EncodeToString(sum[:]) != c.blake3 {
			t.Fatalf("%s: BLAKE3 %x, want %s (not the published artifact)", c.file, sum, c.blake3)
		}
		codes[c.id] = b
	}
	transfer, stake := merkle.ContractID{0x01}, merkle.ContractID{0x02}
	cfgCodec := codec.MustStruct[stakeConfig]()
	balCodec := codec.MustStruct[codec.T2[codec.ContractID, uint64]]()
	meta := SessionOptions{Metadata: map[string][]byte{"chain_id": {0x02}, "block_height": u64(1234)}}

	storeDir := t.TempDir()
	e, err := Open(context.Background(), storeDir, Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.NewSession(merkle.EmptyState(), meta)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range duskContracts {
		id := merkle.ContractID{c.id}
		got, err := s.Deploy(context.Background(), codes[c.id], DeployOptions{ID: &id, Owner: []byte("dusk genesis")})
		if err != nil || got != id {
			t.Fatalf("deploy %s: %v (id %s)", c.file, err, got)
		}
	}
	duskCall := func(s *Session, id merkle.ContractID, fn string, arg []byte) []byte {
		t.Helper()
		r, err := s.Call(context.Background(), id, fn, arg, 1_000_000_000)
		if err != nil {
			t.Fatalf("%s: %v", fn, err)
		}
		return r.Data
	}
	// Queries on the genesis state.
	if got := duskCall(s, transfer, "chain_id", nil); !bytes.Equal(got, []byte{0x02}) {
		t.Fatalf("transfer.chain_id = %x, want the session's chain_id 02", got)
	}
	if got := readU64(t, duskCall(s, transfer, "num_notes", nil)); got != 0 {
		t.Fatalf("transfer.num_notes = %d", got)
	}
	if got := readU64(t, duskCall(s, stake, "get_version", nil)); got != 8 {
		t.Fatalf("stake.get_version = %d, want 8", got)
	}
	if got := readU64(t, duskCall(s, stake, "burnt_amount", nil)); got != 0 {
		t.Fatalf("stake.burnt_amount = %d", got)
	}
	def, err := cfgCodec.Decode(duskCall(s, stake, "get_config", nil))
	if err != nil || def != (stakeConfig{MinimumStake: 1_000_000_000_000, Warnings: 1}) {
		t.Fatalf("stake.get_config at genesis = %+v, %v", def, err)
	}
	root1 := commit(t, s)

	// State changes, as the node makes them (external calls), recorded as
	// a witness where this platform can record one.
	o2 := meta
	o2.RecordWitness = e.witnessSupport() == nil
	s2, err := e.NewSession(root1, o2)
	if err != nil {
		t.Fatal(err)
	}
	cfg := stakeConfig{MinimumStake: 5_000_000_000_000, Warnings: 3}
	arg, _ := cfgCodec.Encode(cfg)
	duskCall(s2, stake, "set_config", arg)
	arg, _ = balCodec.Encode(codec.T2[codec.ContractID, uint64]{A: stake, B: 777})
	duskCall(s2, transfer, "add_contract_balance", arg)
	duskCall(s2, transfer, "update_root", nil)
	if got := readU64(t, duskCall(s2, transfer, "contract_balance", stake[:])); got != 777 {
		t.Fatalf("transfer.contract_balance(stake) = %d, want 777", got)
	}

	// A malformed argument is a typed error and changes nothing.
	before := root(t, s2)
	for _, bad := range []struct {
		id  merkle.ContractID
		fn  string
		arg []byte
	}{
		{transfer, "contract_balance", []byte{1, 2, 3}},
		{stake, "set_config", []byte{9}},
		{transfer, "add_contract_balance", make([]byte, 39)},
	} {
		_, err := s2.Call(context.Background(), bad.id, bad.fn, bad.arg, 1_000_000_000)
		var ce *CallError
		if !errors.As(err, &ce) || !(errors.Is(err, ErrPanic) || errors.Is(err, ErrTrap)) {
			t.Fatalf("%s with a malformed argument: want a panic or trap CallError, got %v", bad.fn, err)
		}
		if after := root(t, s2); after != before {
			t.Fatalf("%s with a malformed argument changed the root", bad.fn)
		}
	}
	var w *witness.Witness
	if o2.RecordWitness {
		if w, err = s2.Witness(context.Background(), WitnessOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	root2 := commit(t, s2)
	if root2 == root1 {
		t.Fatal("state changes left the root unchanged")
	}
	if w != nil {
		// Dusk's contracts replay from their witness alone, to the same root.
		w2, enc := throughBytes(t, w)
		res, err := Replay(context.Background(), w2, root1, root2, ReplayOptions{Options: Options{Logger: quiet},
			Code: func(h merkle.Hash) ([]byte, error) { return e.store.Code(h) }})
		if err != nil {
			t.Fatalf("replay of the Dusk block: %v", err)
		}
		t.Logf("Dusk block witness: %d bytes, %d pages of %d contracts, %d operations", len(enc), res.Pages, res.Contracts, res.Ops)
	}
	s.Close()
	s2.Close()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopen the store: both roots load, each with its own state.
	e, err = Open(context.Background(), storeDir, Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	for _, c := range []struct {
		root    merkle.Hash
		cfg     stakeConfig
		balance uint64
	}{{root1, def, 0}, {root2, cfg, 777}} {
		s, err := e.NewSession(c.root, meta)
		if err != nil {
			t.Fatal(err)
		}
		got, err := cfgCodec.Decode(duskCall(s, stake, "get_config", nil))
		if err != nil || got != c.cfg {
			t.Fatalf("reopened at %s: stake.get_config = %+v, %v; want %+v", c.root, got, err, c.cfg)
		}
		if b := readU64(t, duskCall(s, transfer, "contract_balance", stake[:])); b != c.balance {
			t.Fatalf("reopened at %s: contract_balance = %d, want %d", c.root, b, c.balance)
		}
		if got := duskCall(s, transfer, "chain_id", nil); !bytes.Equal(got, []byte{0x02}) {
			t.Fatalf("reopened: chain_id = %x", got)
		}
		s.Close()
	}
	for _, c := range duskContracts {
		info, err := e.Inspect(context.Background(), root2, merkle.ContractID{c.id})
		if err != nil {
			t.Fatal(err)
		}
		if info.Leaf.Kind != c.kind {
			t.Fatalf("%s: memory kind %v, want %v", c.file, info.Leaf.Kind, c.kind)
		}
	}

	// Prove the page of stake's memory that set_config changed, and verify
	// it holding only the root: it carries the archived new config.
	diffs, err := e.Diff(context.Background(), root1, root2)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(diffs, func(d ContractDiff) bool { return d.ID == stake })
	if i < 0 || len(diffs[i].Pages) == 0 {
		t.Fatalf("diff of stake between the roots: %+v", diffs)
	}
	want, _ := cfgCodec.Encode(cfg)
	found := false
	for _, page := range diffs[i].Pages {
		p, err := e.ProvePage(context.Background(), root2, stake, page)
		if err != nil {
			t.Fatal(err)
		}
		enc, err := p.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		data, err := merkle.VerifyPage(root2, stake, page, p)
		if err != nil {
			t.Fatalf("verify page %d of stake: %v", page, err)
		}
		if proven, err := lightclient.VerifyAny(root2, enc); err != nil || !bytes.Equal(proven.Data, data) {
			t.Fatalf("verify the encoded proof of page %d: %v", page, err)
		}
		if bytes.Contains(data, want) {
			found = true
			if _, err := merkle.VerifyPage(root1, stake, page, p); err == nil {
				t.Fatalf("the proof of page %d verified against the old root", page)
			}
		}
	}
	if !found {
		t.Fatalf("no changed page of stake (%v) holds the archived config %x", diffs[i].Pages, want)
	}
}
