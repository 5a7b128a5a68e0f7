package main

import (
	"context"
	_ "embed"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/lightclient"
	"github.com/wasmstate/wasmstate/merkle"
)

// demoWAT is the demo contract: a counter that records the block_height
// metadata of its last tick (see the file's header).
//
//go:embed demo/demo.wat
var demoWAT string

// demoOwner is the owner the demo deploys with; with nonce 0 and the code
// it fixes the demo contract's id.
var demoOwner = []byte("statectl demo")

var demoCmd = &command{
	name:     "demo",
	synopsis: "[--db DIR] [--block-height N] [--json]",
	summary:  "a guided tour: deploy, call with metadata, commit, prove, verify",
	store:    true,
	help: `Runs the whole life of a contract on the store, explaining each step:
it deploys a small example contract built into statectl (a counter that
also records the block_height metadata it was called at), calls it with
session metadata, commits, proves the page holding its state, verifies that
proof as a light client would (and shows a tampered copy fail), and, from
the second run on, follows that page from the previous root to the new one.

Running it again is safe and meant: the contract's id is derived from its
code, its owner and nonce 0, so later runs find the contract deployed by
the first and reuse it rather than deploying copies; each run ticks it once
more at the next block height (the last recorded one + 1, or
--block-height, which must be higher).

Examples:
  go run ./cmd/statectl demo
  statectl demo --db /tmp/demo-db
  statectl demo --block-height 1000 --json`,
	run: runDemo,
}

type demoStep struct {
	N       int      `json:"step"`
	Title   string   `json:"title"`
	Details []string `json:"details"`
	Meaning string   `json:"meaning"`
}

type demoJSON struct {
	DB          string     `json:"db"`
	Contract    string     `json:"contract"`
	Reused      bool       `json:"reused"`
	Parent      string     `json:"parent"`
	Root        string     `json:"root"`
	Counter     uint64     `json:"counter"`
	BlockHeight uint64     `json:"block_height"`
	ProofBytes  int        `json:"proof_bytes"`
	Steps       []demoStep `json:"steps"`
}

const demoSteps = 8

// demoLog prints the steps as they happen, or collects them for --json.
type demoLog struct {
	c   *cli
	out *demoJSON
}

func (d *demoLog) step(title, meaning string, details ...string) {
	s := demoStep{N: len(d.out.Steps) + 1, Title: title, Details: details, Meaning: meaning}
	if s.Details == nil {
		s.Details = []string{}
	}
	d.out.Steps = append(d.out.Steps, s)
	if d.c.json {
		return
	}
	if s.N > 1 {
		d.c.printf("\n")
	}
	d.c.printf("[%d/%d] %s\n", s.N, demoSteps, title)
	for _, l := range details {
		d.c.printf("      %s\n", l)
	}
	d.c.printf("      -> %s\n", meaning)
}

func u64le(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

func runDemo(c *cli, args []string) error {
	fs := c.flags()
	heightFlag := fs.Uint64("block-height", 0, "block height to call at (default: the last one recorded + 1)")
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return c.usagef("demo takes no arguments")
	}
	code, err := wasmtime.Wat2Wasm(demoWAT)
	if err != nil {
		return fmt.Errorf("compile the built-in demo contract: %w", err)
	}
	e, err := c.open(createStore)
	if err != nil {
		return err
	}
	defer e.Close()
	out := &demoJSON{DB: c.db}
	log := &demoLog{c: c, out: out}

	// 1. The store and its head.
	head, err := e.Head()
	if err != nil {
		return err
	}
	recs, err := e.Commits()
	if err != nil {
		return err
	}
	log.step("Open the store "+c.db,
		"The head is the root of the latest commit: one 32-byte BLAKE3 Merkle root that commits to every contract's code, owner, memory and globals.",
		fmt.Sprintf("commits:   %d", len(recs)),
		"head root: "+rootLabel(head))

	// 2. Deploy the demo contract, or find it from an earlier run.
	id := engine.ContractIDFor(code, demoOwner, 0)
	out.Contract, out.Parent = id.String(), head.String()
	p, err := e.ProveContract(context.Background(), head, id)
	if err != nil {
		return err
	}
	s, err := e.NewSession(head, engine.SessionOptions{})
	if err != nil {
		return err
	}
	defer s.Close()
	if cp, ok := p.(*merkle.ContractProof); ok {
		if cp.Leaf.CodeHash != merkle.HashCode(code) {
			return failf("contract %s exists at the head with other code; use another --db", id)
		}
		out.Reused = true
		log.step("Find the demo contract deployed by an earlier run",
			"The id is BLAKE3(code hash, nonce 0, owner), so every run finds this same contract again and the demo reuses it instead of deploying copies: you watch one contract's state evolve across commits.",
			"contract:  "+id.String(),
			"code hash: "+cp.Leaf.CodeHash.String())
	} else {
		if _, err := s.Deploy(context.Background(), code, engine.DeployOptions{Owner: demoOwner}); err != nil {
			return err
		}
		log.step("Deploy the demo contract (a counter that records the block height)",
			"The id is BLAKE3(code hash, nonce 0, owner), so the next run finds this same contract and reuses it.",
			"contract:  "+id.String(),
			fmt.Sprintf("code:      %s (%d bytes of wasm compiled from the WAT embedded in statectl)", merkle.HashCode(code), len(code)),
			fmt.Sprintf("owner:     %q", demoOwner))
	}

	// 3. Call tick with block_height metadata.
	r, err := s.Call(context.Background(), id, "read", nil, DefaultCallGas)
	if err != nil {
		return err
	}
	if len(r.Data) != 24 {
		return failf("demo contract read returned %d bytes, want 24", len(r.Data))
	}
	prevCounter, prevHeight := binary.LittleEndian.Uint64(r.Data), binary.LittleEndian.Uint64(r.Data[8:])
	height := prevHeight + 1
	if *heightFlag != 0 {
		height = *heightFlag
	}
	if err := s.SetMetadata("block_height", u64le(height)); err != nil {
		return err
	}
	r, err = s.Call(context.Background(), id, "tick", nil, DefaultCallGas)
	if err != nil {
		return err
	}
	counter, recorded := binary.LittleEndian.Uint64(r.Data), binary.LittleEndian.Uint64(r.Data[8:])
	out.Counter, out.BlockHeight = counter, recorded
	details := []string{
		fmt.Sprintf("metadata:  block_height = %d (u64)", height),
		fmt.Sprintf("returned:  counter %d -> %d, block_height %d", prevCounter, counter, recorded),
		fmt.Sprintf("gas:       %d spent of %d", r.GasSpent, r.GasLimit),
	}
	for _, ev := range r.Events {
		details = append(details, fmt.Sprintf("event:     %q from %s…, data %x", ev.Topic, ev.Source.String()[:16], ev.Data))
	}
	log.step("Call tick with session metadata block_height",
		"The host passes block_height to the session as metadata; the contract reads it with the hd host function and stores it next to its counter, in page 0 of its memory.",
		details...)

	// 4. Commit.
	root, err := s.Commit(context.Background())
	if err != nil {
		return err
	}
	out.Root = root.String()
	log.step("Commit",
		"Committing hashed the pages the call wrote, updated the contract's memory root, its leaf and the state root, and wrote all of it in one atomic batch; the new root is the head.",
		"parent:    "+rootLabel(head),
		"new root:  "+root.String())

	// 5. Prove page 0.
	proof, err := e.ProvePage(context.Background(), root, id, 0)
	if err != nil {
		return err
	}
	bin, err := proof.MarshalBinary()
	if err != nil {
		return err
	}
	out.ProofBytes = len(bin)
	sibs := 0
	for i, h := range proof.MemorySiblings {
		if h != merkle.EmptyMemory(i) {
			sibs++
		}
	}
	log.step("Prove page 0 of the contract under the new root",
		"The proof carries page 0 itself plus the sibling hashes along its path up the memory tree and the state tree: enough to recompute the root, and nothing else about the state.",
		fmt.Sprintf("proof:     %d bytes (binary): the 4096-byte page, the %d-byte leaf, %d of 30 memory siblings non-empty, state path depth %d",
			len(bin), merkle.ContractLeafSize, sibs, proof.Path.Depth()))

	// 6. Verify as a light client.
	page, err := lightclient.VerifyPage(root, id, 0, bin)
	if err != nil {
		return failf("the demo's own proof did not verify: %v", err)
	}
	pc, ph := binary.LittleEndian.Uint64(page), binary.LittleEndian.Uint64(page[8:])
	if pc != counter || ph != recorded {
		return failf("proven page holds counter %d, height %d; the call returned %d, %d", pc, ph, counter, recorded)
	}
	log.step("Verify the proof as a light client",
		"lightclient.VerifyPage recomputed the contract's memory root from the page and then the state root from the leaf, using only the trusted root (no store, no wasm runtime), and they match.",
		fmt.Sprintf("verified:  page 0 of %s… under %s…", id.String()[:16], root.String()[:16]),
		fmt.Sprintf("page 0:    counter %d, block_height %d (bytes 0..16: %x)", pc, ph, page[:16]))

	// 7. Tamper with the proof.
	forged := append([]byte(nil), bin...)
	at := strings.Index(string(bin), string(page))
	if at < 0 {
		return failf("page not found in its proof")
	}
	forged[at] ^= 0x01 // the counter's lowest byte
	_, ferr := lightclient.VerifyPage(root, id, 0, forged)
	if ferr == nil {
		return failf("a tampered proof verified")
	}
	log.step("Tamper with one byte of the proven page",
		"Changing the counter inside the proof changes the page's hash and so every hash above it: the forged proof no longer reaches the trusted root and is rejected.",
		fmt.Sprintf("forged:    counter %d -> %d at byte %d of the proof", pc, pc^1, at),
		"rejected:  "+oneLine(ferr.Error()))

	// 8. Follow the page from the previous root.
	if !out.Reused {
		log.step("Follow the page across commits",
			"A light client trusting a sequence of roots can follow one page from commit to commit; run statectl demo again to see it go from this root to the next.",
			"skipped:   the contract did not exist under the previous root")
	} else {
		old, err := e.ProvePage(context.Background(), head, id, 0)
		if err != nil {
			return err
		}
		oldBin, err := old.MarshalBinary()
		if err != nil {
			return err
		}
		versions, err := lightclient.VerifyChain(id, 0, []lightclient.Step{
			{Height: prevHeight, Root: head, Proof: oldBin},
			{Height: recorded, Root: root, Proof: bin},
		})
		if err != nil {
			return failf("chain verification failed: %v", err)
		}
		var lines []string
		for _, v := range versions {
			lines = append(lines, fmt.Sprintf("height %-4d root %s…  counter %d  changed %v",
				v.Height, v.Root.String()[:16], binary.LittleEndian.Uint64(v.Page), v.Changed))
		}
		log.step("Follow the page from the previous root to the new one",
			"lightclient.VerifyChain checked both proofs against their roots, in height order, for this very contract and page, and reports at which step the page changed.",
			lines...)
	}

	if c.json {
		return c.writeJSON(out)
	}
	c.printf("\nTry it yourself:\n")
	c.printf("  statectl inspect %s\n", id)
	c.printf("  statectl prove --root %s %s --page 0 -o page0.proof\n", root, id)
	c.printf("  statectl verify --root %s page0.proof --contract %s --page 0\n", root, id)
	return nil
}
