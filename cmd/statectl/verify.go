package main

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/wasmstate/wasmstate/lightclient"
	"github.com/wasmstate/wasmstate/merkle"
)

var verifyCmd = &command{
	name:     "verify",
	synopsis: "--root ROOT PROOF_FILE [--contract ID]... [--page N | --range OFFSET:LENGTH | --absent | --lookup]... [--json]",
	summary:  "verify a proof against a root (needs no store)",
	help: `Verifies the proof in PROOF_FILE (binary or JSON, detected; "-" reads
stdin) against ROOT, with the lightclient package alone: no store is opened,
so a light client can run it anywhere.

With --contract, verify checks a claim and fails unless the proof proves
exactly that claim:
  --contract ID --page N                page N of ID's memory
  --contract ID --range OFFSET:LENGTH   those bytes of ID's memory
  --contract ID --absent                no contract has the id ID
  --contract ID                         ID's leaf
Without --contract it verifies whatever the proof claims and prints that
claim: check it is the question you asked.

A multiproof (statectl prove with several claims, SPEC.md §7.6) is checked
against a claim of several items, which it must prove exactly (no more, no
fewer): --contract, --page and --range are repeatable; bare --page/--range
values apply to every --contract, CONTRACT:N and CONTRACT:OFFSET:LENGTH to
that contract; a --contract with no bare value claims its leaf, or with
--absent its absence, or with --lookup either.

On success it prints what is proven (kind, contract, offsets and bytes, or
the absence) and exits 0; otherwise it names what failed and exits 1.

Examples:
  statectl verify --root ROOT page0.proof --contract CONTRACT --page 0
  statectl verify --root ROOT counter.json --contract CONTRACT --range 0:8
  statectl verify --root ROOT absent.proof --contract CONTRACT --absent
  statectl verify --root ROOT some.proof --json
  statectl verify --root ROOT three.proof --contract CONTRACT --page 0 --page 7 --range 4096:16`,
	run: runVerify,
}

type verifyJSON struct {
	Verified     bool      `json:"verified"`
	Error        string    `json:"error,omitempty"`
	Root         string    `json:"root"`
	Encoding     string    `json:"encoding"`
	Kind         string    `json:"kind,omitempty"`
	Contract     string    `json:"contract,omitempty"`
	ClaimChecked bool      `json:"claim_checked"`
	Present      bool      `json:"present"`
	Leaf         *leafJSON `json:"leaf,omitempty"`
	Offset       *uint64   `json:"offset,omitempty"`
	Length       *uint64   `json:"length,omitempty"`
	Data         string    `json:"data,omitempty"`
}

// verifyClaim is what verify is asked: a proof, a trusted root and
// optionally a claim about a contract.
type verifyClaim struct {
	root     merkle.Hash
	id       merkle.ContractID
	kind     string // "", "page", "range", "absent" or "leaf"
	index    uint64 // page
	offset   uint64 // range
	length   uint64
	proof    []byte
	describe string // the claim in words, "" without one
	// A claim of several items (verify_multi.go): its contracts (the
	// --contract values) and what they must be.
	multi *merkle.MultiClaim
	ids   []merkle.ContractID
	mode  multiMode
}

func runVerify(c *cli, args []string) error {
	q, err := parseVerify(c, args)
	if err != nil {
		return err
	}
	if q.multi != nil || isMultiProof(q.proof) {
		if q.multi == nil && q.kind != "" {
			q.asMultiClaim()
		}
		return runVerifyMulti(c, q)
	}
	out, proven, err := verifyProof(q)
	if err != nil {
		if c.json {
			out.Error = err.Error()
			if werr := c.writeJSON(out); werr != nil {
				return werr
			}
		}
		if q.describe != "" {
			return failf("%s under root %s NOT proven: %v", q.describe, q.root, err)
		}
		return failf("proof does not verify against root %s: %v", q.root, err)
	}
	if c.json {
		return c.writeJSON(out)
	}
	renderVerify(c, q, out, proven)
	return nil
}

// parseVerify reads verify's flags, arguments and proof file.
func parseVerify(c *cli, args []string) (*verifyClaim, error) {
	fs := c.flags()
	rootFlag := fs.String("root", "", "the trusted state `ROOT`, 64 hex digits (required)")
	var contracts, pageList, rangeList listFlag
	fs.Var(&contracts, "contract", "claim: the proof is about contract `ID`; repeatable")
	fs.Var(&pageList, "page", "claim: the proof proves page `N` of --contract (or CONTRACT:N); repeatable")
	fs.Var(&rangeList, "range", "claim: the proof proves bytes `OFFSET:LENGTH` of --contract (or CONTRACT:OFFSET:LENGTH); repeatable")
	absent := fs.Bool("absent", false, "claim: the proof proves --contract absent")
	lookup := fs.Bool("lookup", false, "claim: a multiproof proves each --contract's leaf or absence, whichever holds")
	pos, err := c.parse(fs, args)
	if err != nil {
		return nil, err
	}
	if len(pos) != 1 {
		return nil, c.usagef("want one PROOF_FILE argument, got %d", len(pos))
	}
	if !isSet(fs, "root") {
		return nil, c.usagef("--root is required: verify checks a proof against a root you trust")
	}
	vals, qualified, err := parseClaimValues(pageList.values, rangeList.values)
	if err != nil {
		return nil, err
	}
	if qualified || *lookup || len(contracts.values) > 1 || len(vals) > 1 {
		return parseVerifyMulti(c, pos[0], *rootFlag, contracts.values, vals, multiMode{absent: *absent, lookup: *lookup})
	}
	contract := new(string)
	if len(contracts.values) == 1 {
		*contract = contracts.values[0]
	}
	page, rng := new(string), new(string)
	if len(pageList.values) == 1 {
		*page = pageList.values[0]
	}
	if len(rangeList.values) == 1 {
		*rng = rangeList.values[0]
	}
	q := &verifyClaim{}
	for _, m := range []string{"page", "range", "absent"} {
		if isSet(fs, m) {
			if q.kind != "" {
				return nil, c.usagef("want at most one of --page, --range and --absent")
			}
			q.kind = m
		}
	}
	if q.kind != "" && *contract == "" {
		return nil, c.usagef("--page, --range and --absent need --contract")
	}
	if q.root, err = parseRootHex(*rootFlag); err != nil {
		return nil, err
	}
	if *contract != "" {
		if q.id, err = parseContract(*contract); err != nil {
			return nil, err
		}
		if q.kind == "" {
			q.kind = "leaf"
		}
	}
	switch q.kind {
	case "page":
		if q.index, err = parseUint("page", *page); err != nil {
			return nil, err
		}
		q.describe = fmt.Sprintf("page %d of %s", q.index, q.id)
	case "range":
		if q.offset, q.length, err = parseRange(*rng); err != nil {
			return nil, err
		}
		q.describe = fmt.Sprintf("bytes %d+%d of %s", q.offset, q.length, q.id)
	case "absent":
		q.describe = fmt.Sprintf("absence of %s", q.id)
	case "leaf":
		q.describe = fmt.Sprintf("leaf of %s", q.id)
	}
	if q.proof, err = c.readInput(pos[0]); err != nil {
		return nil, err
	}
	return q, nil
}

// verifyProof checks the claim, if any, then verifies again without one to
// learn everything the proof establishes (the leaf), for display. The
// returned error is the verification failure.
func verifyProof(q *verifyClaim) (verifyJSON, *merkle.Proven, error) {
	out := verifyJSON{Root: q.root.String(), Encoding: "binary", ClaimChecked: q.kind != ""}
	if lightclient.IsJSON(q.proof) {
		out.Encoding = "json"
	}
	var err error
	switch q.kind {
	case "page":
		_, err = lightclient.VerifyPage(q.root, q.id, q.index, q.proof)
	case "range":
		_, err = lightclient.VerifyRange(q.root, q.id, q.offset, q.length, q.proof)
	case "absent":
		err = lightclient.VerifyAbsence(q.root, q.id, q.proof)
	case "leaf":
		_, err = lightclient.VerifyContract(q.root, q.id, q.proof)
	}
	if err != nil {
		return out, nil, err
	}
	proven, err := lightclient.VerifyAny(q.root, q.proof)
	if err != nil {
		return out, nil, err
	}
	out.Verified, out.Kind, out.Contract, out.Present = true, proven.Kind.String(), proven.ID.String(), proven.Present
	if proven.Present {
		l := leafToJSON(proven.Leaf)
		out.Leaf = &l
	}
	if proven.Kind == merkle.KindRange {
		n := uint64(len(proven.Data))
		out.Offset, out.Length, out.Data = &proven.Offset, &n, hex.EncodeToString(proven.Data)
	}
	return out, proven, nil
}

// renderVerify prints a verified proof as text.
func renderVerify(c *cli, q *verifyClaim, out verifyJSON, proven *merkle.Proven) {
	c.printf("verified  %s proof (%s, %d bytes) against root %s\n", proven.Kind, out.Encoding, len(q.proof), rootLabel(q.root))
	if q.describe != "" {
		c.printf("claim     %s: checked\n", q.describe)
	} else {
		c.printf("claim     none given: below is what the proof itself proves; pass --contract (and --page/--range/--absent) to check your question\n")
	}
	c.printf("contract  %s\n", proven.ID)
	switch proven.Kind {
	case merkle.KindAbsence:
		c.printf("absent    no contract with this id exists under the root\n")
	case merkle.KindContract, merkle.KindRange:
		l := proven.Leaf
		c.printf("code      %s\n", l.CodeHash)
		c.printf("owner     hash %s\n", l.OwnerHash)
		c.printf("memory    %s, %s, root %s\n", l.Kind, sizeLabel(l.MemoryLen), l.MemoryRoot)
		c.printf("globals   hash %s\n", l.GlobalsHash)
	}
	if proven.Kind == merkle.KindRange {
		n := uint64(len(proven.Data))
		first, last := proven.Offset/merkle.PageSize, (proven.Offset+n-1)/merkle.PageSize
		c.printf("bytes     %d..%d (%d bytes, pages %d-%d)\n", proven.Offset, proven.Offset+n, n, first, last)
		if n == 8 {
			c.printf("as u64    %d\n", binary.LittleEndian.Uint64(proven.Data))
		}
		c.printf("%s", hexDump(proven.Data, proven.Offset))
	}
}

// hexDump prints data 32 bytes a line, each line labelled with its memory
// offset; runs of all-zero lines collapse into "*".
func hexDump(data []byte, base uint64) string {
	const width = 32
	var b strings.Builder
	zeroRun := false
	for i := 0; i < len(data); i += width {
		line := data[i:min(i+width, len(data))]
		allZero := true
		for _, x := range line {
			allZero = allZero && x == 0
		}
		last := i+width >= len(data)
		if allZero && !last && i > 0 {
			if !zeroRun {
				b.WriteString("          *\n")
				zeroRun = true
			}
			continue
		}
		zeroRun = false
		fmt.Fprintf(&b, "  %08x  %s\n", base+uint64(i), hex.EncodeToString(line))
	}
	return b.String()
}
