package serve

import (
	"encoding/json"
	"net/http"

	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/pagestore"
)

// HeadJSON is the body of /v1/head and the data of a /v1/heads event.
type HeadJSON struct {
	Root  string `json:"root"`
	Empty bool   `json:"empty"`
}

func headJSON(root merkle.Hash) HeadJSON {
	return HeadJSON{Root: root.String(), Empty: root == merkle.EmptyState()}
}

// commitJSON is a commit record (SPEC.md §8) in JSON.
type commitJSON struct {
	Root    string   `json:"root"`
	Parent  string   `json:"parent"`
	Time    int64    `json:"time"`
	Changed []string `json:"changed"`
}

func toCommitJSON(r pagestore.CommitRecord) commitJSON {
	c := commitJSON{Root: r.Root.String(), Parent: r.Parent.String(), Time: r.Time, Changed: make([]string, len(r.Changed))}
	for i, id := range r.Changed {
		c.Changed[i] = id.String()
	}
	return c
}

// LeafJSON is a contract leaf in the JSON form of SPEC.md §7.5.
type LeafJSON struct {
	ID          string `json:"id"`
	CodeHash    string `json:"code_hash"`
	OwnerHash   string `json:"owner_hash"`
	MemoryKind  string `json:"memory_kind"`
	MemoryLen   uint64 `json:"memory_len"`
	MemoryRoot  string `json:"memory_root"`
	GlobalsHash string `json:"globals_hash"`
}

// LeafJSONOf returns l's JSON form.
func LeafJSONOf(l merkle.ContractLeaf) LeafJSON {
	return LeafJSON{ID: l.ID.String(), CodeHash: l.CodeHash.String(), OwnerHash: l.OwnerHash.String(),
		MemoryKind: l.Kind.String(), MemoryLen: l.MemoryLen, MemoryRoot: l.MemoryRoot.String(),
		GlobalsHash: l.GlobalsHash.String()}
}

func jsonAnswer(v any, immutable bool) (*answer, *apiError) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, errorf(http.StatusInternalServerError, CodeInternal, "encode: %v", err)
	}
	return &answer{contentType: typeJSON, body: append(b, '\n'), immutable: immutable}, nil
}
