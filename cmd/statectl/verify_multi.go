package main

import (
	"encoding/hex"
	"fmt"

	"github.com/wasmstate/wasmstate/lightclient"
	"github.com/wasmstate/wasmstate/merkle"
)

// Verifying a multiproof (SPEC.md §7.6), with a claim of several items or
// none. A single claim (--contract ID --page N, ...) checked against a
// multiproof is the multi claim of that one item.

type verifyContractJSON struct {
	Contract string    `json:"contract"`
	Present  bool      `json:"present"`
	Leaf     *leafJSON `json:"leaf,omitempty"`
}

type verifyRangeJSON struct {
	Contract string `json:"contract"`
	Offset   uint64 `json:"offset"`
	Length   uint64 `json:"length"`
	Data     string `json:"data"`
}

type verifyMultiJSON struct {
	Verified     bool                 `json:"verified"`
	Error        string               `json:"error,omitempty"`
	Root         string               `json:"root"`
	Encoding     string               `json:"encoding"`
	Kind         string               `json:"kind"`
	ClaimChecked bool                 `json:"claim_checked"`
	Contracts    []verifyContractJSON `json:"contracts"`
	Ranges       []verifyRangeJSON    `json:"ranges"`
}

// isMultiProof reports whether proof decodes as a multiproof.
func isMultiProof(proof []byte) bool {
	p, err := lightclient.Decode(proof)
	return err == nil && p.Kind() == merkle.KindMulti
}

// asMultiClaim turns a single claim into the multi claim of that item.
func (q *verifyClaim) asMultiClaim() {
	m := &merkle.MultiClaim{}
	switch q.kind {
	case "page":
		m.Ranges = []merkle.ByteRange{{ID: q.id, Offset: q.index * merkle.PageSize, Length: merkle.PageSize}}
	case "range":
		m.Ranges = []merkle.ByteRange{{ID: q.id, Offset: q.offset, Length: q.length}}
	case "absent":
		m.IDs, q.mode.absent = []merkle.ContractID{q.id}, true
	case "leaf":
		m.IDs, q.mode.leaf = []merkle.ContractID{q.id}, true
	}
	q.multi = m
	q.ids = m.IDs
}

// runVerifyMulti verifies a multiproof against q's multi claim, or with
// no claim.
func runVerifyMulti(c *cli, q *verifyClaim) error {
	out, m, err := verifyMultiProof(q)
	if err != nil {
		if c.json {
			out.Error = err.Error()
			if werr := c.writeJSON(out); werr != nil {
				return werr
			}
		}
		if q.multi != nil {
			return failf("%s under root %s NOT proven: %v", q.describe, q.root, err)
		}
		return failf("proof does not verify against root %s: %v", q.root, err)
	}
	if c.json {
		return c.writeJSON(out)
	}
	c.printf("verified  multi proof (%s, %d bytes) against root %s\n", out.Encoding, len(q.proof), rootLabel(q.root))
	if q.multi != nil {
		c.printf("claim     %s: checked\n", q.describe)
	} else {
		c.printf("claim     none given: below is what the proof itself proves; pass --contract, --page, --range to check your question\n")
	}
	for i, id := range m.IDs {
		l := m.Leaves[i]
		if l == nil {
			c.printf("contract  %s absent\n", id)
			continue
		}
		c.printf("contract  %s present: code %s, memory %s, %s, root %s\n", id, l.CodeHash, l.Kind, sizeLabel(l.MemoryLen), l.MemoryRoot)
	}
	for _, r := range m.Ranges {
		c.printf("bytes     %d..%d of %s (%d bytes)\n", r.Offset, r.Offset+r.Length, r.ID, r.Length)
		c.printf("%s", hexDump(r.Data, r.Offset))
	}
	return nil
}

// verifyMultiProof checks the claim, if any, and the leaf or absence the
// flags ask of the claim's contracts.
func verifyMultiProof(q *verifyClaim) (verifyMultiJSON, *merkle.MultiProven, error) {
	out := verifyMultiJSON{Root: q.root.String(), Encoding: "binary", Kind: merkle.KindMulti.String(), ClaimChecked: q.multi != nil,
		Contracts: []verifyContractJSON{}, Ranges: []verifyRangeJSON{}}
	if lightclient.IsJSON(q.proof) {
		out.Encoding = "json"
	}
	var m *merkle.MultiProven
	if q.multi != nil {
		var err error
		if m, err = lightclient.VerifyMulti(q.root, *q.multi, q.proof); err != nil {
			return out, nil, err
		}
		for _, id := range q.ids {
			l, _ := m.Leaf(id)
			switch {
			case q.mode.leaf && l == nil:
				return out, nil, fmt.Errorf("contract %s is absent", id)
			case q.mode.absent && l != nil:
				return out, nil, fmt.Errorf("contract %s is present", id)
			}
		}
	} else {
		p, err := lightclient.VerifyAny(q.root, q.proof)
		if err != nil {
			return out, nil, err
		}
		m = p.Multi
	}
	out.Verified = true
	for i, id := range m.IDs {
		cj := verifyContractJSON{Contract: id.String()}
		if l := m.Leaves[i]; l != nil {
			lj := leafToJSON(*l)
			cj.Present, cj.Leaf = true, &lj
		}
		out.Contracts = append(out.Contracts, cj)
	}
	for _, r := range m.Ranges {
		out.Ranges = append(out.Ranges, verifyRangeJSON{Contract: r.ID.String(), Offset: r.Offset, Length: r.Length, Data: hex.EncodeToString(r.Data)})
	}
	return out, m, nil
}

// parseVerifyMulti builds the claim of several items verify was given:
// every --contract, with the bare --page/--range values applied to each
// (else its leaf, or with --absent its absence, or with --lookup either),
// and the qualified values.
func parseVerifyMulti(c *cli, proofFile, rootFlag string, contracts []string, vals []claimValue, m multiMode) (*verifyClaim, error) {
	q := &verifyClaim{}
	var err error
	if q.root, err = parseRootHex(rootFlag); err != nil {
		return nil, err
	}
	bare := false
	for _, v := range vals {
		bare = bare || v.contract == ""
	}
	m.leaf = len(contracts) > 0 && !bare && !m.absent && !m.lookup
	claim, ids, err := buildMultiClaim(c, contracts, vals, m, parseContract)
	if err != nil {
		return nil, err
	}
	q.multi, q.ids, q.mode = &claim, ids, m
	distinct := map[merkle.ContractID]bool{}
	for _, id := range claim.IDs {
		distinct[id] = true
	}
	for _, r := range claim.Ranges {
		distinct[r.ID] = true
	}
	q.describe = fmt.Sprintf("%d contracts and %d ranges", len(distinct), len(claim.Ranges))
	if q.proof, err = c.readInput(proofFile); err != nil {
		return nil, err
	}
	return q, nil
}
