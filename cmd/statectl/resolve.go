package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/pagestore"
)

// minPrefix is the shortest abbreviation of a root or contract id that
// statectl accepts, like git's: short enough to type, long enough that
// collisions are rare.
const minPrefix = 8

// hexPrefix reports whether s is an abbreviation: minPrefix to 63 hex
// digits, optionally 0x-prefixed. It returns the digits in lower case.
func hexPrefix(s string) (string, bool) {
	t := strings.ToLower(strings.TrimPrefix(strings.TrimPrefix(s, "0x"), "0X"))
	if len(t) < minPrefix || len(t) >= 64 {
		return "", false
	}
	if strings.Trim(t, "0123456789abcdef") != "" {
		return "", false
	}
	return t, true
}

// matchPrefix picks the one candidate whose hex starts with prefix.
func matchPrefix(what, prefix string, candidates []merkle.Hash) (merkle.Hash, bool, error) {
	var found []merkle.Hash
	seen := map[merkle.Hash]bool{}
	for _, h := range candidates {
		if !seen[h] && strings.HasPrefix(h.String(), prefix) {
			seen[h] = true
			found = append(found, h)
		}
	}
	switch len(found) {
	case 0:
		return merkle.Hash{}, false, nil
	case 1:
		return found[0], true, nil
	}
	sort.Slice(found, func(i, j int) bool { return found[i].String() < found[j].String() })
	var names []string
	for i, h := range found {
		if i == 4 {
			names = append(names, fmt.Sprintf("and %d more", len(found)-4))
			break
		}
		names = append(names, h.String()[:16]+"...")
	}
	return merkle.Hash{}, false, badInputf("%s prefix %s is ambiguous: it matches %s (give more digits)", what, prefix, strings.Join(names, ", "))
}

// resolveRoot reads a ROOT argument: "head", "empty", 64 hex digits or a
// unique prefix of at least 8 of a committed root. A hex root must be
// committed in the store.
func resolveRoot(e *engine.Engine, s string) (merkle.Hash, error) {
	switch s {
	case "head", "":
		return e.Head()
	case "empty":
		return merkle.EmptyState(), nil
	}
	if p, ok := hexPrefix(s); ok {
		recs, err := e.Commits()
		if err != nil {
			return merkle.Hash{}, err
		}
		roots := make([]merkle.Hash, len(recs))
		for i, r := range recs {
			roots[i] = r.Root
		}
		h, ok, err := matchPrefix("root", p, roots)
		if err != nil || ok {
			return h, err
		}
		return h, fmt.Errorf("%w: no commit's root starts with %s (see statectl commits)", engine.ErrUnknownRoot, p)
	}
	h, err := parseHash32("root", s)
	if err != nil {
		return h, err
	}
	if h == merkle.EmptyState() {
		return h, nil
	}
	if _, err := e.Store().CommitRecord(h); err != nil {
		if errors.Is(err, pagestore.ErrNotFound) {
			return h, fmt.Errorf("%w: %s (see statectl commits)", engine.ErrUnknownRoot, h)
		}
		return h, err
	}
	return h, nil
}

// resolveContract reads a CONTRACT argument: 64 hex digits, or a unique
// prefix of at least 8 of a contract id that some commit changed or that
// exists at the head.
func resolveContract(e *engine.Engine, s string) (merkle.ContractID, error) {
	p, ok := hexPrefix(s)
	if !ok {
		return parseContract(s)
	}
	var ids []merkle.Hash
	recs, err := e.Commits()
	if err != nil {
		return merkle.ContractID{}, err
	}
	for _, r := range recs {
		for _, id := range r.Changed {
			ids = append(ids, merkle.Hash(id))
		}
	}
	head, err := e.Head()
	if err != nil {
		return merkle.ContractID{}, err
	}
	leaves, err := e.Contracts(context.Background(), head)
	if err != nil {
		return merkle.ContractID{}, err
	}
	for _, l := range leaves {
		ids = append(ids, merkle.Hash(l.ID))
	}
	h, ok, err := matchPrefix("contract id", p, ids)
	if err != nil {
		return merkle.ContractID{}, err
	}
	if !ok {
		return merkle.ContractID{}, fmt.Errorf("%w: no known contract id starts with %s (see statectl contracts)", engine.ErrNoContract, p)
	}
	return merkle.ContractID(h), nil
}

// checkRootSyntax checks a ROOT argument before the store is opened:
// "head", "empty", 64 hex digits or a prefix of at least 8.
func checkRootSyntax(s string) error {
	if s == "head" || s == "empty" {
		return nil
	}
	if _, ok := hexPrefix(s); ok {
		return nil
	}
	_, err := parseHash32("root", s)
	return err
}

// checkContractSyntax checks a CONTRACT argument before the store is
// opened: 64 hex digits or a prefix of at least 8.
func checkContractSyntax(s string) error {
	if _, ok := hexPrefix(s); ok {
		return nil
	}
	_, err := parseContract(s)
	return err
}

// openContractAt opens the store read-only and resolves a CONTRACT and a
// ROOT argument, for the commands that look at one contract at one root.
// The caller closes the engine.
func (c *cli) openContractAt(contract, root string) (*engine.Engine, merkle.ContractID, merkle.Hash, error) {
	if err := checkRootSyntax(root); err != nil {
		return nil, merkle.ContractID{}, merkle.Hash{}, err
	}
	e, err := c.open(readStore)
	if err != nil {
		return nil, merkle.ContractID{}, merkle.Hash{}, err
	}
	id, err := resolveContract(e, contract)
	if err == nil {
		var r merkle.Hash
		if r, err = resolveRoot(e, root); err == nil {
			return e, id, r, nil
		}
	}
	e.Close()
	return nil, merkle.ContractID{}, merkle.Hash{}, err
}
