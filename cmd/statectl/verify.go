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
	synopsis: "--root ROOT PROOF_FILE [--contract ID] [--page N | --range OFFSET:LENGTH | --absent] [--json]",
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

On success it prints what is proven (kind, contract, offsets and bytes, or
the absence) and exits 0; otherwise it names what failed and exits 1.

Examples:
  statectl verify --root ROOT page0.proof --contract CONTRACT --page 0
  statectl verify --root ROOT counter.json --contract CONTRACT --range 0:8
  statectl verify --root ROOT absent.proof --contract CONTRACT --absent
  statectl verify --root ROOT some.proof --json`,
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

func runVerify(c *cli, args []string) error {
	fs := c.flags()
	rootFlag := fs.String("root", "", "the trusted state `ROOT`, 64 hex digits (required)")
	contract := fs.String("contract", "", "claim: the proof is about contract `ID`")
	page := fs.String("page", "", "claim: the proof proves page `N` of --contract")
	rng := fs.String("range", "", "claim: the proof proves bytes `OFFSET:LENGTH` of --contract")
	absent := fs.Bool("absent", false, "claim: the proof proves --contract absent")
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return c.usagef("want one PROOF_FILE argument, got %d", len(pos))
	}
	if !isSet(fs, "root") {
		return c.usagef("--root is required: verify checks a proof against a root you trust")
	}
	claims := 0
	for _, m := range []string{"page", "range", "absent"} {
		if isSet(fs, m) {
			claims++
		}
	}
	if claims > 1 {
		return c.usagef("want at most one of --page, --range and --absent")
	}
	if claims == 1 && *contract == "" {
		return c.usagef("--page, --range and --absent need --contract")
	}
	root, err := parseRootHex(*rootFlag)
	if err != nil {
		return err
	}
	var id merkle.ContractID
	if *contract != "" {
		if id, err = parseContract(*contract); err != nil {
			return err
		}
	}
	var index, offset, length uint64
	switch {
	case isSet(fs, "page"):
		if index, err = parseUint("page", *page); err != nil {
			return err
		}
	case isSet(fs, "range"):
		if offset, length, err = parseRange(*rng); err != nil {
			return err
		}
	}
	data, err := c.readInput(pos[0])
	if err != nil {
		return err
	}
	out := verifyJSON{Root: root.String(), Encoding: "binary", ClaimChecked: *contract != ""}
	if lightclient.IsJSON(data) {
		out.Encoding = "json"
	}

	// Check the claim, if any, then verify again without one to learn
	// everything the proof establishes (the leaf), for display.
	var claimErr error
	claim := ""
	switch {
	case *contract == "":
	case isSet(fs, "page"):
		claim = fmt.Sprintf("page %d of %s", index, id)
		_, claimErr = lightclient.VerifyPage(root, id, index, data)
	case isSet(fs, "range"):
		claim = fmt.Sprintf("bytes %d+%d of %s", offset, length, id)
		_, claimErr = lightclient.VerifyRange(root, id, offset, length, data)
	case *absent:
		claim = fmt.Sprintf("absence of %s", id)
		claimErr = lightclient.VerifyAbsence(root, id, data)
	default:
		claim = fmt.Sprintf("leaf of %s", id)
		_, claimErr = lightclient.VerifyContract(root, id, data)
	}
	var proven *merkle.Proven
	if claimErr == nil {
		proven, claimErr = lightclient.Verify(root, data)
	}
	if claimErr != nil {
		if c.json {
			out.Error = claimErr.Error()
			if err := c.writeJSON(out); err != nil {
				return err
			}
		}
		if claim != "" {
			return failf("%s under root %s NOT proven: %v", claim, root, claimErr)
		}
		return failf("proof does not verify against root %s: %v", root, claimErr)
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
	if c.json {
		return c.writeJSON(out)
	}
	c.printf("verified  %s proof (%s, %d bytes) against root %s\n", proven.Kind, out.Encoding, len(data), rootLabel(root))
	if claim != "" {
		c.printf("claim     %s: checked\n", claim)
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
	return nil
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
