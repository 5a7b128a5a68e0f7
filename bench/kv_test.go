package bench

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethdb/memorydb"
	"github.com/ethereum/go-ethereum/trie"
	"github.com/ethereum/go-ethereum/trie/trienode"
	"github.com/ethereum/go-ethereum/triedb"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/engine/dirty"
	"github.com/wasmstate/wasmstate/merkle"
)

// The key-value workload, side by side with go-ethereum's Merkle-Patricia
// trie in the same process: N random 32-byte keys with random 32-byte
// values are written into an empty map, committed to an in-memory
// database, then one key is proven and the proof verified.
//
//	geth:      trie.NewEmpty over triedb (hash scheme) on
//	           rawdb.NewMemoryDatabase; N × Trie.Update; Trie.Commit,
//	           triedb.Update and triedb.Commit (nodes written to the
//	           database); Trie.Prove of one key on the trie reopened at the
//	           root; trie.VerifyProof.
//	wasmstate: kv.wat (an open-addressing hash table in linear memory,
//	           bench/testdata/kv.wat), deployed into a fresh in-memory engine
//	           with room for 2N keys (not timed: deploy-ns reports it);
//	           put_many calls of 1,000 pairs each (N/1,000 top-level calls, 64
//	           KB of argument each); Session.Commit; the "slot" call finds the
//	           key's slot and Engine.ProvePage proves its page; the verifier
//	           runs merkle.VerifyPage and reads the key and value from the page.
//
// ns/op is the timed workload (writes + commit + prove + verify), cpu-ns/op
// its process CPU time (all threads: geth hashes big tries in parallel);
// the parts are reported as write-ns, commit-ns, prove-ns and verify-ns, and
// the proof size as proof-bytes. The wasmstate case reports x-geth and
// cpu-x-geth, its ns/op and cpu-ns/op divided by geth's for the same N,
// from the geth sub-benchmark that ran just before it in the same process.
func BenchmarkKV(b *testing.B) {
	for _, n := range []int{1000, 100_000} {
		var gethNs, gethCPU float64
		b.Run(fmt.Sprintf("N=%d/geth", n), func(b *testing.B) {
			keys, vals := kvPairs(n)
			var ph kvPhases
			for b.Loop() {
				ph.add(gethKV(b, keys, vals))
			}
			gethNs, gethCPU = ph.report(b)
		})
		b.Run(fmt.Sprintf("N=%d/wasmstate", n), func(b *testing.B) {
			keys, vals := kvPairs(n)
			var ph kvPhases
			var deploy time.Duration
			for b.Loop() {
				p, d := wasmstateKV(b, keys, vals)
				ph.add(p)
				deploy += d
			}
			ns, cpu := ph.report(b)
			b.ReportMetric(float64(deploy.Nanoseconds())/float64(b.N), "deploy-ns")
			if gethNs > 0 && gethCPU > 0 {
				b.ReportMetric(ns/gethNs, "x-geth")
				b.ReportMetric(cpu/gethCPU, "cpu-x-geth")
			}
		})
	}
}

// kvPhases are the times of the parts of the workload, summed over ops.
type kvPhases struct {
	n                            int
	write, commit, prove, verify time.Duration
	cpu                          time.Duration // process CPU of the four
	proofBytes                   int
}

func (p *kvPhases) add(q kvPhases) {
	p.n++
	p.write += q.write
	p.commit += q.commit
	p.prove += q.prove
	p.verify += q.verify
	p.cpu += q.cpu
	p.proofBytes = q.proofBytes
}

// report reports the parts, ns/op (their sum) and cpu-ns/op, and returns
// ns/op and cpu-ns/op.
func (p *kvPhases) report(b *testing.B) (total, cpu float64) {
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(p.n) }
	total, cpu = per(p.write+p.commit+p.prove+p.verify), per(p.cpu)
	b.ReportMetric(total, "ns/op")
	b.ReportMetric(cpu, "cpu-ns/op")
	b.ReportMetric(per(p.write), "write-ns")
	b.ReportMetric(per(p.commit), "commit-ns")
	b.ReportMetric(per(p.prove), "prove-ns")
	b.ReportMetric(per(p.verify), "verify-ns")
	b.ReportMetric(float64(p.proofBytes), "proof-bytes")
	return total, cpu
}

// kvPairs returns n random non-zero keys and values (the same for a given
// n in every run).
func kvPairs(n int) (keys, vals [][32]byte) {
	r := rand.New(rand.NewPCG(uint64(n), 7))
	keys, vals = make([][32]byte, n), make([][32]byte, n)
	for i := range keys {
		for j := 0; j < 32; j += 8 {
			binary.LittleEndian.PutUint64(keys[i][j:], r.Uint64())
			binary.LittleEndian.PutUint64(vals[i][j:], r.Uint64())
		}
	}
	return keys, vals
}

// kvProven is the index of the key that is proven.
func kvProven(n int) int { return n / 2 }

func gethKV(b *testing.B, keys, vals [][32]byte) kvPhases {
	var ph kvPhases
	db := triedb.NewDatabase(rawdb.NewMemoryDatabase(), triedb.HashDefaults)
	c0 := cpuTime()
	t0 := time.Now()
	tr := trie.NewEmpty(db)
	for i := range keys {
		if err := tr.Update(keys[i][:], vals[i][:]); err != nil {
			b.Fatal(err)
		}
	}
	t1 := time.Now()
	root, nodes := tr.Commit(false)
	if err := db.Update(root, types.EmptyRootHash, 0, trienode.NewWithNodeSet(nodes), nil); err != nil {
		b.Fatal(err)
	}
	if err := db.Commit(root, false); err != nil {
		b.Fatal(err)
	}
	t2 := time.Now()
	k := kvProven(len(keys))
	tr, err := trie.New(trie.TrieID(root), db)
	if err != nil {
		b.Fatal(err)
	}
	proof := memorydb.New()
	if err := tr.Prove(keys[k][:], proof); err != nil {
		b.Fatal(err)
	}
	t3 := time.Now()
	v, err := trie.VerifyProof(root, keys[k][:], proof)
	t4 := time.Now()
	ph.cpu = cpuTime() - c0
	if err != nil || !bytes.Equal(v, vals[k][:]) {
		b.Fatalf("geth: VerifyProof = %x, %v; want %x", v, err, vals[k])
	}
	ph.write, ph.commit, ph.prove, ph.verify = t1.Sub(t0), t2.Sub(t1), t3.Sub(t2), t4.Sub(t3)
	it := proof.NewIterator(nil, nil)
	for it.Next() {
		ph.proofBytes += len(it.Value())
	}
	it.Release()
	return ph
}

// kvPerCall is the number of pairs per put_many call.
const kvPerCall = 1000

// kvLog2Cap is the table size kv.wat gets for n keys: the smallest power of
// two >= 2n slots (load factor <= 1/2).
func kvLog2Cap(n int) uint32 {
	l := uint32(1)
	for 1<<l < 2*n {
		l++
	}
	return l
}

func wasmstateKV(b *testing.B, keys, vals [][32]byte) (kvPhases, time.Duration) {
	var ph kvPhases
	e := openEngine(b, "", dirty.Auto)
	defer e.Close()
	s := newSession(b, e, merkle.EmptyState())
	defer s.Close()
	code := wasmCode(b, "kv")
	td := time.Now()
	id, err := s.Deploy(context.Background(), code, engine.DeployOptions{InitArg: u32s(kvLog2Cap(len(keys)))})
	deploy := time.Since(td)
	if err != nil {
		b.Fatal(err)
	}
	arg := make([]byte, 0, 4+64*kvPerCall)
	c0 := cpuTime()
	t0 := time.Now()
	for i := 0; i < len(keys); i += kvPerCall {
		m := min(kvPerCall, len(keys)-i)
		arg = binary.LittleEndian.AppendUint32(arg[:0], uint32(m))
		for j := i; j < i+m; j++ {
			arg = append(arg, keys[j][:]...)
			arg = append(arg, vals[j][:]...)
		}
		if _, err := s.Call(context.Background(), id, "put_many", arg, bigGas); err != nil {
			b.Fatal(err)
		}
	}
	t1 := time.Now()
	root, err := s.Commit(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	t2 := time.Now()
	k := kvProven(len(keys))
	r, err := s.Call(context.Background(), id, "slot", keys[k][:], bigGas)
	if err != nil {
		b.Fatal(err)
	}
	slot := uint64(binary.LittleEndian.Uint32(r.Data))
	proof, err := e.ProvePage(context.Background(), root, id, slot/merkle.PageSize)
	if err != nil {
		b.Fatal(err)
	}
	bin, err := proof.MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	t3 := time.Now()
	v, err := verifyKV(root, id, keys[k], slot, bin)
	t4 := time.Now()
	ph.cpu = cpuTime() - c0
	if err != nil || v != vals[k] {
		b.Fatalf("wasmstate: verify = %x, %v; want %x", v, err, vals[k])
	}
	ph.write, ph.commit, ph.prove, ph.verify = t1.Sub(t0), t2.Sub(t1), t3.Sub(t2), t4.Sub(t3)
	ph.proofBytes = len(bin)
	return ph, deploy
}

// verifyKV is the light client's side: decode and verify the page proof,
// then read the slot.
func verifyKV(root merkle.Hash, id merkle.ContractID, key [32]byte, slot uint64, bin []byte) ([32]byte, error) {
	var v [32]byte
	p, err := merkle.DecodeProof(bin)
	if err != nil {
		return v, err
	}
	page, err := merkle.VerifyPage(root, id, slot/merkle.PageSize, p)
	if err != nil {
		return v, err
	}
	off := slot % merkle.PageSize
	if !bytes.Equal(page[off:off+32], key[:]) {
		return v, fmt.Errorf("slot %d holds key %x, not %x", slot, page[off:off+32], key)
	}
	copy(v[:], page[off+32:off+64])
	return v, nil
}
