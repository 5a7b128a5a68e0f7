package witness

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/zeebo/blake3"

	"github.com/wasmstate/wasmstate/merkle"
)

// Binary encoding (SPEC.md §17.2), integers little-endian:
//
//	witness  = "WSWT" version:u8 flags:u8 pre:32 post:32
//	           nmeta:u16 (klen:u16 key vlen:u32 value)*
//	           state:§7.6 state part
//	           per id of the state part that is present, in order: loaded:u8 [contract]
//	           [ncode:u32 (len:u32 code)*]         (flags bit 0)
//	           nops:u32 op*
//	contract = glen:u32 globals olen:u32 owner memory:§7.6 memory part with indices
//	op       = 1 id:32 flen:u16 fn alen:u32 arg gas:u64 feed:u8 result
//	         | 2 code_hash:32 olen:u32 owner alen:u32 arg nonce:u64 gas:u64 explicit:u8 id:32 result
//	         | 3 klen:u16 key vlen:u32 value
//	         | 4                                   (a commit: ephemeral data cleared)
//	result   = status:u8 spent:u64 olen:u32 output digest:32

const flagCode = 1

// MarshalBinary encodes the witness canonically.
func (w *Witness) MarshalBinary() ([]byte, error) {
	b := append([]byte(Magic), Version, 0)
	if len(w.Code) > 0 {
		b[len(b)-1] = flagCode
	}
	b = append(b, w.PreRoot[:]...)
	b = append(b, w.PostRoot[:]...)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(w.Metadata)))
	for _, m := range w.Metadata {
		b = appendStr16(b, m.Key)
		b = appendBlob(b, m.Value)
	}
	b = w.State.AppendBinary(b)
	present := presentIDs(&w.State)
	for id := range w.Contracts {
		if !present[id] {
			return nil, fmt.Errorf("witness: encode: contract %s is not a leaf of the state proof", id)
		}
	}
	for _, id := range w.State.IDs {
		if !present[id] {
			continue
		}
		c := w.Contracts[id]
		if c == nil {
			b = append(b, 0)
			continue
		}
		b = append(b, 1)
		b = appendBlob(b, c.Globals)
		b = appendBlob(b, c.Owner)
		b = c.Memory.AppendBinary(b, true)
	}
	if len(w.Code) > 0 {
		hs := slices.SortedFunc(maps.Keys(w.Code), func(a, b merkle.Hash) int { return bytes.Compare(a[:], b[:]) })
		b = binary.LittleEndian.AppendUint32(b, uint32(len(hs)))
		for _, h := range hs {
			b = appendBlob(b, w.Code[h])
		}
	}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(w.Ops)))
	for i := range w.Ops {
		b = w.Ops[i].append(b)
	}
	return b, nil
}

func (op *Op) append(b []byte) []byte {
	b = op.appendInput(b)
	if op.Kind == OpMetadata || op.Kind == OpCommit {
		return b
	}
	b = append(b, byte(op.Status))
	b = binary.LittleEndian.AppendUint64(b, op.GasSpent)
	b = appendBlob(b, op.Output)
	return append(b, op.Digest[:]...)
}

// appendInput appends the operation without its result.
func (op *Op) appendInput(b []byte) []byte {
	b = append(b, byte(op.Kind))
	switch op.Kind {
	case OpCall:
		b = append(b, op.Contract[:]...)
		b = appendStr16(b, op.Function)
		b = appendBlob(b, op.Arg)
		b = binary.LittleEndian.AppendUint64(b, op.GasLimit)
		b = append(b, boolByte(op.Feed))
	case OpDeploy:
		b = append(b, op.CodeHash[:]...)
		b = appendBlob(b, op.Owner)
		b = appendBlob(b, op.Arg)
		b = binary.LittleEndian.AppendUint64(b, op.Nonce)
		b = binary.LittleEndian.AppendUint64(b, op.GasLimit)
		b = append(b, boolByte(op.ExplicitID))
		b = append(b, op.Contract[:]...)
	case OpMetadata:
		b = appendStr16(b, op.Key)
		b = appendBlob(b, op.Value)
	}
	return b
}

// OpsDigest commits to a list of operations without their results: the
// keyed BLAKE3 (key derive_key("wasmstate v1 operations digest", "")) of
// the operations' encodings up to their results (SPEC.md §17.3). A replay
// proves that these operations lead from the pre-root to the post-root;
// a node binds them to its block by comparing this digest (or the
// operations) with what the block's header commits to.
func OpsDigest(ops []Op) merkle.Hash {
	h, err := blake3.NewKeyed(opsKey)
	if err != nil {
		panic(err) // a 32-byte key is always accepted
	}
	var buf []byte
	for i := range ops {
		buf = ops[i].appendInput(buf[:0])
		h.Write(buf)
	}
	var out merkle.Hash
	h.Sum(out[:0])
	return out
}

var opsKey = derivedKey("wasmstate v1 operations digest")

func derivedKey(context string) []byte {
	k := make([]byte, 32)
	blake3.DeriveKey(context, nil, k)
	return k
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

func appendStr16(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

func appendBlob(b []byte, v []byte) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
	return append(b, v...)
}

// decoder reads a witness; the first fault sticks.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: at byte %d: %s", ErrMalformed, d.off, fmt.Sprintf(format, args...))
	}
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || n > len(d.b)-d.off {
		d.fail("truncated (%d more bytes needed)", n)
		return nil
	}
	v := d.b[d.off : d.off+n]
	d.off += n
	return v
}

func (d *decoder) u8() uint8 {
	if v := d.take(1); v != nil {
		return v[0]
	}
	return 0
}

func (d *decoder) u16() uint16 {
	if v := d.take(2); v != nil {
		return binary.LittleEndian.Uint16(v)
	}
	return 0
}

func (d *decoder) u32() uint32 {
	if v := d.take(4); v != nil {
		return binary.LittleEndian.Uint32(v)
	}
	return 0
}

func (d *decoder) u64() uint64 {
	if v := d.take(8); v != nil {
		return binary.LittleEndian.Uint64(v)
	}
	return 0
}

func (d *decoder) hash() (h merkle.Hash) {
	copy(h[:], d.take(32))
	return h
}

func (d *decoder) flag(what string) bool {
	switch v := d.u8(); v {
	case 0:
		return false
	case 1:
		return true
	default:
		d.off--
		d.fail("%s flag %d (0 or 1)", what, v)
		return false
	}
}

// str16 reads a u16-prefixed string of at most max bytes.
func (d *decoder) str16(what string, max int) string {
	n := int(d.u16())
	if d.err == nil && n > max {
		d.off -= 2
		d.fail("%s of %d bytes (at most %d)", what, n, max)
	}
	return string(d.take(n))
}

// blob reads a u32-prefixed byte string of at most max bytes; never nil
// unless the decoder failed.
func (d *decoder) blob(what string, max int) []byte {
	n := d.u32()
	if d.err == nil && uint64(n) > uint64(max) {
		d.off -= 4
		d.fail("%s of %d bytes (at most %d)", what, n, max)
	}
	v := d.take(int(n))
	if v == nil {
		return nil
	}
	return bytes.Clone(v)
}

// Decode decodes a witness and checks that its encoding is canonical. It
// does not check the proofs against the pre-root: Check does.
func Decode(b []byte) (w *Witness, err error) {
	d := &decoder{b: b}
	if string(d.take(len(Magic))) != Magic {
		return nil, fmt.Errorf("%w: not a witness (magic)", ErrMalformed)
	}
	if v := d.u8(); v != Version {
		d.off--
		d.fail("version %d (want %d)", v, Version)
	}
	flags := d.u8()
	if flags&^flagCode != 0 {
		d.off--
		d.fail("unknown flags %#x", flags)
	}
	w = &Witness{PreRoot: d.hash(), PostRoot: d.hash(), Contracts: map[merkle.ContractID]*Contract{}}
	nmeta := int(d.u16())
	if d.err == nil && nmeta > MaxMetadata {
		d.fail("%d metadata entries (at most %d)", nmeta, MaxMetadata)
	}
	for i := 0; i < nmeta && d.err == nil; i++ {
		m := Meta{Key: d.str16("metadata key", MaxMetadataKey), Value: d.blob("metadata value", MaxMetadataVal)}
		if d.err == nil {
			if m.Key == "" || len(m.Value) == 0 {
				d.fail("empty metadata key or value")
			} else if i > 0 && m.Key <= w.Metadata[i-1].Key {
				d.fail("metadata keys not strictly ascending")
			}
		}
		w.Metadata = append(w.Metadata, m)
	}
	if d.err != nil {
		return nil, d.err
	}
	st, rest, err := merkle.DecodeStateMultiProof(b[d.off:])
	if err != nil {
		return nil, fmt.Errorf("%w: state proof: %w", ErrMalformed, err)
	}
	d.off = len(b) - len(rest)
	w.State = *st
	// Contract entries follow the ids that are present: those equal to
	// the id of a leaf node of the state part (Check verifies the rest).
	present := presentIDs(&w.State)
	for _, id := range w.State.IDs {
		if !present[id] || d.err != nil {
			continue
		}
		if !d.flag("loaded") {
			continue
		}
		c := &Contract{Globals: d.blob("globals", MaxBlob), Owner: d.blob("owner", MaxBlob)}
		if d.err != nil {
			break
		}
		mp, rest, err := merkle.DecodeMemoryMultiProof(b[d.off:], nil)
		if err != nil {
			return nil, fmt.Errorf("%w: memory proof of %s: %w", ErrMalformed, id, err)
		}
		d.off = len(b) - len(rest)
		c.Memory = *mp
		w.Contracts[id] = c
	}
	if flags&flagCode != 0 && d.err == nil {
		n := d.u32()
		if d.err == nil && n == 0 {
			d.fail("code flag set with no code")
		}
		w.Code = map[merkle.Hash][]byte{}
		var prev merkle.Hash
		for i := uint32(0); i < n && d.err == nil; i++ {
			code := d.blob("code", MaxBlob)
			if d.err != nil {
				break
			}
			h := merkle.HashCode(code)
			if i > 0 && bytes.Compare(h[:], prev[:]) <= 0 {
				d.fail("code not in strictly ascending hash order")
			}
			prev = h
			w.Code[h] = code
		}
	}
	nops := d.u32()
	if d.err == nil && nops > MaxOps {
		d.fail("%d operations (at most %d)", nops, MaxOps)
	}
	for i := uint32(0); i < nops && d.err == nil; i++ {
		w.Ops = append(w.Ops, d.op())
	}
	if d.err == nil && d.off != len(b) {
		d.fail("%d trailing bytes", len(b)-d.off)
	}
	if d.err != nil {
		return nil, d.err
	}
	return w, nil
}

// presentIDs returns the ids of p that are the id of one of its leaves.
func presentIDs(p *merkle.StateMultiProof) map[merkle.ContractID]bool {
	leaves := map[merkle.ContractID]bool{}
	for _, n := range p.Nodes {
		if n.Kind == merkle.StateLeaf {
			leaves[n.Leaf.ID] = true
		}
	}
	out := map[merkle.ContractID]bool{}
	for _, id := range p.IDs {
		if leaves[id] {
			out[id] = true
		}
	}
	return out
}

func (d *decoder) op() Op {
	op := Op{Kind: OpKind(d.u8())}
	switch op.Kind {
	case OpCall:
		op.Contract = merkle.ContractID(d.hash())
		op.Function = d.str16("function name", MaxFunctionName)
		op.Arg = d.blob("argument", MaxBlob)
		op.GasLimit = d.u64()
		op.Feed = d.flag("feed")
	case OpDeploy:
		op.CodeHash = d.hash()
		op.Owner = d.blob("owner", MaxBlob)
		op.Arg = d.blob("init argument", MaxBlob)
		op.Nonce = d.u64()
		op.GasLimit = d.u64()
		op.ExplicitID = d.flag("explicit id")
		op.Contract = merkle.ContractID(d.hash())
	case OpMetadata:
		op.Key = d.str16("metadata key", MaxMetadataKey)
		op.Value = d.blob("metadata value", MaxMetadataVal)
		if d.err == nil && op.Key == "" {
			d.fail("empty metadata key")
		}
		return op
	case OpCommit:
		return op
	default:
		d.off--
		d.fail("operation kind %d", op.Kind)
		return op
	}
	op.Status = Status(d.u8())
	if d.err == nil && op.Status > StatusRejected {
		d.off--
		d.fail("status %d", op.Status)
	}
	op.GasSpent = d.u64()
	op.Output = d.blob("output", MaxBlob)
	op.Digest = d.hash()
	if d.err == nil && op.Status != StatusOK && len(op.Output) != 0 {
		d.fail("output on a %s operation", op.Status)
	}
	if d.err == nil && op.Status == StatusRejected && (op.GasSpent != 0 || op.Digest != EmptyDigest()) {
		d.fail("gas or events on a rejected operation")
	}
	return op
}

// digestKey keys the result digest: BLAKE3 derive_key("wasmstate v1
// result digest", ""), in the style of SPEC.md §3.
var digestKey = derivedKey("wasmstate v1 result digest")

// Digest accumulates the result digest of an operation (SPEC.md §17.3):
// every fed chunk in order (they stream while the call runs), then every
// event in order.
type Digest struct{ h *blake3.Hasher }

// NewDigest returns an empty digest.
func NewDigest() *Digest {
	h := digestHashers.Get().(*blake3.Hasher)
	h.Reset()
	return &Digest{h: h}
}

// digestHashers recycles the keyed hashers of released digests: a replay
// or a recording makes one per call, and a hasher is several KiB.
var digestHashers = sync.Pool{New: func() any {
	h, err := blake3.NewKeyed(digestKey)
	if err != nil {
		panic(err) // a 32-byte key is always accepted
	}
	return h
}}

// Release ends d: its state goes back for other digests, and d must not
// be used again.
func (d *Digest) Release() {
	if d.h != nil {
		digestHashers.Put(d.h)
		d.h = nil
	}
}

// Event adds one event: 0x01 source:32 topic_len:u32 topic data_len:u32
// data reverted:u8.
func (d *Digest) Event(source merkle.ContractID, topic string, data []byte, reverted bool) {
	var hdr [1 + 32 + 4]byte
	hdr[0] = 1
	copy(hdr[1:33], source[:])
	binary.LittleEndian.PutUint32(hdr[33:], uint32(len(topic)))
	d.h.Write(hdr[:])
	d.h.WriteString(topic)
	var n [4]byte
	binary.LittleEndian.PutUint32(n[:], uint32(len(data)))
	d.h.Write(n[:])
	d.h.Write(data)
	d.h.Write([]byte{boolByte(reverted)})
}

// Fed adds one chunk of fed output: 0x02 len:u32 chunk.
func (d *Digest) Fed(chunk []byte) {
	var hdr [5]byte
	hdr[0] = 2
	binary.LittleEndian.PutUint32(hdr[1:], uint32(len(chunk)))
	d.h.Write(hdr[:])
	d.h.Write(chunk)
}

// Sum returns the digest.
func (d *Digest) Sum() (h merkle.Hash) {
	d.h.Sum(h[:0])
	return h
}

// EmptyDigest is the digest of no events and no fed output.
func EmptyDigest() merkle.Hash {
	d := NewDigest()
	defer d.Release()
	return d.Sum()
}
