package merkle

import (
	"bytes"
	"sort"
	"sync"

	"github.com/zeebo/blake3"
)

// A naive, from-scratch implementation of the commitment scheme, written
// straight from SPEC.md and sharing no code with the package: the property
// tests check the incremental trees against it.

var refKeys sync.Map // name -> [32]byte

func refKeyed(name string, parts ...[]byte) Hash {
	k, ok := refKeys.Load(name)
	if !ok {
		var key [32]byte
		blake3.DeriveKey("wasmstate v1 "+name, nil, key[:])
		k, _ = refKeys.LoadOrStore(name, key)
	}
	key := k.([32]byte)
	h, _ := blake3.NewKeyed(key[:])
	for _, p := range parts {
		h.Write(p)
	}
	var out Hash
	h.Sum(out[:0])
	return out
}

var refEmptyMemo = map[int]Hash{}

func refEmpty(height int) Hash {
	if h, ok := refEmptyMemo[height]; ok {
		return h
	}
	h := refKeyed("page", make([]byte, 4096))
	for i := 0; i < height; i++ {
		h = refKeyed("memory node", h[:], h[:])
	}
	refEmptyMemo[height] = h
	return h
}

// refMemoryRoot hashes a memory given as page index -> contents.
func refMemoryRoot(pages map[uint64][]byte) Hash {
	var idx []uint64
	for i, p := range pages {
		if !bytes.Equal(p, make([]byte, 4096)) {
			idx = append(idx, i)
		}
	}
	sort.Slice(idx, func(a, b int) bool { return idx[a] < idx[b] })
	var node func(h int, base uint64, idx []uint64) Hash
	node = func(h int, base uint64, idx []uint64) Hash {
		if len(idx) == 0 {
			return refEmpty(h)
		}
		if h == 0 {
			return refKeyed("page", pages[idx[0]])
		}
		mid := base + 1<<(h-1)
		k := sort.Search(len(idx), func(i int) bool { return idx[i] >= mid })
		l, r := node(h-1, base, idx[:k]), node(h-1, mid, idx[k:])
		return refKeyed("memory node", l[:], r[:])
	}
	return node(30, 0, idx)
}

func refLeafHash(l ContractLeaf) Hash {
	var b bytes.Buffer
	b.Write(l.ID[:])
	b.Write(l.CodeHash[:])
	b.Write(l.OwnerHash[:])
	b.WriteByte(byte(l.Kind))
	var n [8]byte
	for i := 0; i < 8; i++ {
		n[i] = byte(l.MemoryLen >> (8 * i))
	}
	b.Write(n[:])
	b.Write(l.MemoryRoot[:])
	b.Write(l.GlobalsHash[:])
	return refKeyed("contract leaf", b.Bytes())
}

// refStateRoot builds the collapsed sparse Merkle tree from scratch.
func refStateRoot(leaves map[ContractID]ContractLeaf) Hash {
	type kv struct {
		key  Hash
		leaf ContractLeaf
	}
	var all []kv
	for id, l := range leaves {
		all = append(all, kv{refKeyed("state key", id[:]), l})
	}
	bitOf := func(k Hash, d int) int { return int(k[d/8]>>(7-d%8)) & 1 }
	var build func(set []kv, depth int) Hash
	build = func(set []kv, depth int) Hash {
		switch len(set) {
		case 0:
			return Hash{}
		case 1:
			return refLeafHash(set[0].leaf)
		}
		var l, r []kv
		for _, e := range set {
			if bitOf(e.key, depth) == 0 {
				l = append(l, e)
			} else {
				r = append(r, e)
			}
		}
		lh, rh := build(l, depth+1), build(r, depth+1)
		return refKeyed("state node", lh[:], rh[:])
	}
	return build(all, 0)
}
