package merkle

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"testing"
)

// A from-scratch reader of the formats of SPEC.md §5 and §7, sharing no
// code with the package beyond the BLAKE3 primitive (refKeyed, itself
// checked against the official BLAKE3 vectors): its own leaf encoding and
// decoding, proof decoder and verifier. TestVectors requires its verdict
// on every vector to be the file's, and TestReferenceAgrees compares it
// with the package's on mutated proofs.

// refLeaf is a contract leaf as SPEC.md §5 lays it out.
type refLeaf struct {
	id, code, owner [32]byte
	kind            byte
	memLen          uint64
	memRoot         [32]byte
	globals         [32]byte
}

// errors of the reference: the three classes of SPEC.md §7.4.
var (
	refMalformed  = errors.New("malformed")
	refInvalid    = errors.New("invalid")
	refOutOfRange = errors.New("out of range")
)

func refDecodeLeaf(b []byte) (refLeaf, error) {
	var l refLeaf
	if len(b) != 169 {
		return l, refMalformed
	}
	copy(l.id[:], b[0:32])
	copy(l.code[:], b[32:64])
	copy(l.owner[:], b[64:96])
	l.kind = b[96]
	l.memLen = binary.LittleEndian.Uint64(b[97:105])
	copy(l.memRoot[:], b[105:137])
	copy(l.globals[:], b[137:169])
	switch {
	case l.kind != 1 && l.kind != 2:
		return l, refMalformed
	case l.memLen%65536 != 0:
		return l, refMalformed
	case l.kind == 1 && l.memLen > 1<<32:
		return l, refMalformed
	case l.kind == 2 && l.memLen > 1<<42:
		return l, refMalformed
	}
	return l, nil
}

func (l refLeaf) encode() []byte {
	b := make([]byte, 0, 169)
	b = append(b, l.id[:]...)
	b = append(b, l.code[:]...)
	b = append(b, l.owner[:]...)
	b = append(b, l.kind)
	b = binary.LittleEndian.AppendUint64(b, l.memLen)
	b = append(b, l.memRoot[:]...)
	return append(b, l.globals[:]...)
}

func (l refLeaf) hash() Hash { return refKeyed("contract leaf", l.encode()) }

// refReader reads a proof, failing with refMalformed past the end.
type refReader struct {
	b   []byte
	err error
}

func (r *refReader) take(n int) []byte {
	if r.err != nil || n > len(r.b) {
		r.err = refMalformed
		return make([]byte, n)
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *refReader) u8() byte    { return r.take(1)[0] }
func (r *refReader) u16() int    { return int(binary.LittleEndian.Uint16(r.take(2))) }
func (r *refReader) u64() uint64 { return binary.LittleEndian.Uint64(r.take(8)) }

// bitmap reads ⌈n/8⌉ bytes and returns the n bits, rejecting set padding.
func (r *refReader) bitmap(n int) []bool {
	b := r.take((n + 7) / 8)
	bits := make([]bool, n)
	for i := 0; i < 8*len(b); i++ {
		set := b[i/8]>>(i%8)&1 == 1
		if i >= n {
			if set {
				r.err = refMalformed
			}
			continue
		}
		bits[i] = set
	}
	return bits
}

// hashes reads the present hashes of a bitmap; absent slots get absent(i),
// and a present one equal to it is non-canonical.
func (r *refReader) hashes(bits []bool, absent func(i int) Hash) []Hash {
	out := make([]Hash, len(bits))
	for i, set := range bits {
		out[i] = absent(i)
		if !set {
			continue
		}
		h := Hash(r.take(32))
		if h == out[i] {
			r.err = refMalformed
		}
		out[i] = h
	}
	return out
}

// statePath reads depth, bits and siblings (bottom-up, Z when absent).
func (r *refReader) statePath() []Hash {
	d := r.u16()
	if d > 256 {
		r.err = refMalformed
		return nil
	}
	return r.hashes(r.bitmap(d), func(int) Hash { return Hash{} })
}

func (r *refReader) leaf() refLeaf {
	l, err := refDecodeLeaf(r.take(169))
	if err != nil {
		r.err = refMalformed
	}
	return l
}

// refMemSlots enumerates the memory siblings of pages first..last (§7.2):
// per height, the left one then the right one.
func refMemSlots(first, last uint64) (heights []int, isLeft []bool) {
	lo, hi := first, last
	for h := 0; h < 30; h++ {
		if lo%2 == 1 {
			heights, isLeft = append(heights, h), append(isLeft, true)
		}
		if hi%2 == 0 {
			heights, isLeft = append(heights, h), append(isLeft, false)
		}
		lo, hi = lo>>1, hi>>1
	}
	return heights, isLeft
}

type refDecoded struct {
	kind           byte
	leaf           refLeaf // range, contract; absence with end = 1
	absentID       [32]byte
	end            byte
	path           []Hash
	offset, length uint64
	pages          [][]byte
	memSibs        []Hash
	memLeft        []bool
	memHeight      []int
}

func refDecode(b []byte) (*refDecoded, error) {
	r := &refReader{b: b}
	p := &refDecoded{}
	if r.u8() != 1 {
		return nil, refMalformed
	}
	p.kind = r.u8()
	switch p.kind {
	case 1:
		p.leaf = r.leaf()
		p.path = r.statePath()
		p.offset, p.length = r.u64(), r.u64()
		if r.err != nil {
			return nil, r.err
		}
		if p.length == 0 || p.length > 16<<20 || p.offset > 1<<42 || p.offset+p.length > 1<<42 {
			return nil, refMalformed
		}
		first, last := p.offset>>12, (p.offset+p.length-1)>>12
		for _, set := range r.bitmap(int(last - first + 1)) {
			page := make([]byte, 4096)
			if set {
				copy(page, r.take(4096))
				if bytes.Equal(page, make([]byte, 4096)) {
					return nil, refMalformed
				}
			}
			p.pages = append(p.pages, page)
		}
		heights, left := refMemSlots(first, last)
		p.memSibs = r.hashes(r.bitmap(len(heights)), func(i int) Hash { return refEmpty(heights[i]) })
		p.memLeft, p.memHeight = left, heights
	case 2:
		p.leaf = r.leaf()
		p.path = r.statePath()
	case 3:
		copy(p.absentID[:], r.take(32))
		p.path = r.statePath()
		p.end = r.u8()
		switch p.end {
		case 0:
		case 1:
			p.leaf = r.leaf()
		default:
			return nil, refMalformed
		}
	default:
		return nil, refMalformed
	}
	if r.err != nil {
		return nil, r.err
	}
	if len(r.b) != 0 {
		return nil, refMalformed
	}
	return p, nil
}

func refBit(k Hash, d int) int { return int(k[d/8]>>(7-d%8)) & 1 }

// refFold folds a state path over x for key k (§7.1).
func refFold(x Hash, k Hash, path []Hash) Hash {
	d := len(path)
	for i, sib := range path {
		if refBit(k, d-1-i) == 0 {
			x = refKeyed("state node", x[:], sib[:])
		} else {
			x = refKeyed("state node", sib[:], x[:])
		}
	}
	return x
}

// refVerify checks a claim against root and returns the proven bytes of a
// range. kind is "range", "contract" or "absence".
func refVerify(root Hash, proof []byte, kind string, id [32]byte, offset, length uint64) ([]byte, error) {
	p, err := refDecode(proof)
	if err != nil {
		return nil, err
	}
	want := map[string]byte{"range": 1, "contract": 2, "absence": 3}[kind]
	if p.kind != want {
		return nil, refInvalid
	}
	k := refKeyed("state key", id[:])
	if len(p.path) >= 1 && p.path[0] == (Hash{}) {
		return nil, refInvalid // a lone leaf or Z beside Z would have moved up
	}
	switch p.kind {
	case 3:
		if p.absentID != id {
			return nil, refInvalid
		}
		start := Hash{}
		if p.end == 1 {
			if p.leaf.id == id {
				return nil, refInvalid
			}
			ok := refKeyed("state key", p.leaf.id[:])
			for d := 0; d < len(p.path); d++ {
				if refBit(ok, d) != refBit(k, d) {
					return nil, refInvalid
				}
			}
			start = p.leaf.hash()
		}
		if refFold(start, k, p.path) != root {
			return nil, refInvalid
		}
		return nil, nil
	case 2:
		if p.leaf.id != id || refFold(p.leaf.hash(), k, p.path) != root {
			return nil, refInvalid
		}
		return nil, nil
	}
	if p.leaf.id != id || p.offset != offset || p.length != length {
		return nil, refInvalid
	}
	if p.offset+p.length > p.leaf.memLen {
		return nil, refOutOfRange
	}
	list := make([]Hash, len(p.pages))
	for i, pg := range p.pages {
		list[i] = refKeyed("page", pg)
	}
	s := 0
	for h := 0; h < 30; h++ {
		if s < len(p.memSibs) && p.memHeight[s] == h && p.memLeft[s] {
			list = append([]Hash{p.memSibs[s]}, list...)
			s++
		}
		if s < len(p.memSibs) && p.memHeight[s] == h && !p.memLeft[s] {
			list = append(list, p.memSibs[s])
			s++
		}
		if len(list)%2 != 0 {
			return nil, refInvalid
		}
		next := make([]Hash, len(list)/2)
		for i := range next {
			next[i] = refKeyed("memory node", list[2*i][:], list[2*i+1][:])
		}
		list = next
	}
	if len(list) != 1 || list[0] != p.leaf.memRoot {
		return nil, refInvalid
	}
	if refFold(p.leaf.hash(), k, p.path) != root {
		return nil, refInvalid
	}
	all := bytes.Join(p.pages, nil)
	start := p.offset - (p.offset>>12)<<12
	return all[start : start+p.length], nil
}

// refStateRootOf computes a state root from leaf encodings (§6).
func refStateRootOf(encodings [][]byte) (Hash, error) {
	type kv struct {
		key  Hash
		leaf Hash
	}
	var all []kv
	for _, e := range encodings {
		l, err := refDecodeLeaf(e)
		if err != nil {
			return Hash{}, err
		}
		all = append(all, kv{refKeyed("state key", l.id[:]), l.hash()})
	}
	var build func(set []kv, depth int) Hash
	build = func(set []kv, depth int) Hash {
		switch len(set) {
		case 0:
			return Hash{}
		case 1:
			return set[0].leaf
		}
		var l, r []kv
		for _, e := range set {
			if refBit(e.key, depth) == 0 {
				l = append(l, e)
			} else {
				r = append(r, e)
			}
		}
		lh, rh := build(l, depth+1), build(r, depth+1)
		return refKeyed("state node", lh[:], rh[:])
	}
	return build(all, 0), nil
}

// TestReferenceAgrees flips the low and the high bit of the bytes of every
// vector proof and cuts it at many lengths, and requires the reference and the
// package to reach the same verdict (valid with the same bytes, malformed,
// invalid or out of range) on each.
func TestReferenceAgrees(t *testing.T) {
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectorFile
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	class := func(err error) string {
		switch {
		case err == nil:
			return "valid"
		case errors.Is(err, ErrMalformed), err == refMalformed:
			return "malformed"
		case errors.Is(err, ErrOutOfRange), err == refOutOfRange:
			return "out of range"
		case errors.Is(err, ErrProofInvalid), err == refInvalid:
			return "invalid"
		}
		return "other: " + err.Error()
	}
	n := 0
	seen := map[string]bool{} // proof bytes whose mutations were checked with no claim
	for _, pv := range v.Proofs {
		proof := mustHex(t, pv.Name, pv.Proof)
		noClaim := pv.Kind == "multi" && !seen[pv.Proof]
		seen[pv.Proof] = true
		try := func(what string, p []byte) {
			n++
			q := pv
			q.Proof = hex.EncodeToString(p)
			got, gerr := checkVector(q)
			want, werr := refCheckVector(t, q, p)
			if class(gerr) != class(werr) || !bytes.Equal(got, want) {
				t.Fatalf("%s, %s: package %s (%v), reference %s", pv.Name, what, class(gerr), gerr, class(werr))
			}
			if noClaim {
				multiNoClaimAgrees(t, pv.Name+", "+what, Hash(mustHex(t, pv.Name, pv.Root)), p, class)
			}
		}
		// Every byte of the headers, leaf, state path and memory siblings
		// (the first 512 and last 2,048 bytes); page contents sampled.
		// Under the race detector every fourth of those.
		step := 1
		if raceEnabled {
			step = 4
			if pv.Kind == "multi" {
				step = 16 // four verifiers per mutation, pages hashed in each
			}
		}
		for i := 0; i < len(proof); i += step {
			if i >= 512 && i < len(proof)-2048 && i%401 != 0 {
				continue
			}
			for _, bit := range []byte{0x01, 0x80} {
				p := bytes.Clone(proof)
				p[i] ^= bit
				try(fmt.Sprintf("byte %d ^ %#x", i, bit), p)
			}
		}
		for l := 0; l < len(proof); l += 1 + l/64 {
			try(fmt.Sprintf("cut at %d", l), proof[:l])
		}
	}
	t.Logf("%d mutated proofs, same verdicts", n)
}

// multiNoClaimAgrees requires VerifyAny and the reference's verifier with
// no claim to agree on a multiproof's class and, when valid, on every leaf
// and range it proves.
func multiNoClaimAgrees(t *testing.T, what string, root Hash, proof []byte, class func(error) string) {
	t.Helper()
	var got *Proven
	p, gerr := DecodeProof(proof)
	if gerr == nil {
		got, gerr = VerifyAny(root, p)
	}
	res, werr := refVerifyMulti(root, proof, false, nil, nil)
	if len(proof) >= 2 && proof[1] != byte(KindMulti) && gerr == nil {
		return // another kind, verified whole: not the reference's multi verifier's business
	}
	if class(gerr) != class(werr) {
		t.Fatalf("%s, no claim: package %s (%v), reference %s", what, class(gerr), gerr, class(werr))
	}
	if gerr != nil {
		return
	}
	m := got.Multi
	var ids [][32]byte
	for _, id := range m.IDs {
		ids = append(ids, id)
	}
	var ranges []refRange
	var pranges []ByteRange
	for _, r := range m.Ranges {
		ranges = append(ranges, refRange{r.ID, r.Offset, r.Length})
		pranges = append(pranges, r.ByteRange)
	}
	if len(res.leaves) != len(ids) || len(res.data) != len(ranges) || !bytes.Equal(res.summary(ids, ranges), multiSummary(m, m.IDs, pranges)) {
		t.Fatalf("%s, no claim: the verifiers prove different facts", what)
	}
}
