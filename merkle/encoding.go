package merkle

import (
	"encoding/binary"
	"math/bits"
)

// ProofVersion is the first byte of every binary proof.
const ProofVersion = 1

// Binary proof encoding (SPEC.md §7); integers little-endian:
//
//	proof     = version:u8 kind:u8 body
//	range     = leaf:169 statepath offset:u64 length:u64
//	            pagebits:⌈n/8⌉ page:4096 × popcount(pagebits)
//	            membits:⌈m/8⌉ hash:32 × popcount(membits)
//	contract  = leaf:169 statepath
//	absence   = id:32 statepath end:u8 (0 = empty, 1 = leaf:169)
//	statepath = depth:u16 bits:⌈depth/8⌉ hash:32 × popcount(bits)
//
// n is the number of pages the range touches and m the number of memory
// siblings it needs; bit i (byte i/8, bit i%8 from the least significant)
// is set when item i is present: a non-zero page, a non-empty sibling.
// Unused high bits must be zero, a present sibling must not equal the
// empty hash it replaces, and a present page must not be all zero, so each
// proof has exactly one encoding.

type encoder struct{ b []byte }

func (e *encoder) u8(v uint8)   { e.b = append(e.b, v) }
func (e *encoder) u16(v uint16) { e.b = binary.LittleEndian.AppendUint16(e.b, v) }
func (e *encoder) u64(v uint64) { e.b = binary.LittleEndian.AppendUint64(e.b, v) }
func (e *encoder) raw(v []byte) { e.b = append(e.b, v...) }

// bitmap appends a presence bitmap for n items and then calls item for
// each present one.
func (e *encoder) bitmap(n int, present func(i int) bool) {
	start := len(e.b)
	e.b = append(e.b, make([]byte, (n+7)/8)...)
	for i := 0; i < n; i++ {
		if present(i) {
			e.b[start+i/8] |= 1 << (i % 8)
		}
	}
}

func (e *encoder) statePath(p StatePath) {
	e.u16(uint16(len(p.Siblings)))
	e.bitmap(len(p.Siblings), func(i int) bool { return p.Siblings[i] != EmptyState() })
	for _, s := range p.Siblings {
		if s != EmptyState() {
			e.raw(s[:])
		}
	}
}

func header(k ProofKind, size int) *encoder {
	e := &encoder{b: make([]byte, 0, size)}
	e.u8(ProofVersion)
	e.u8(uint8(k))
	return e
}

// MarshalBinary encodes the proof.
func (p *ContractProof) MarshalBinary() ([]byte, error) {
	if len(p.Path.Siblings) > StateTreeHeight {
		return nil, malformed("contract proof", -1, "state path too deep")
	}
	e := header(KindContract, 2+ContractLeafSize+2+32+32*len(p.Path.Siblings))
	e.raw(p.Leaf.Encode())
	e.statePath(p.Path)
	return e.b, nil
}

// MarshalBinary encodes the proof.
func (p *AbsenceProof) MarshalBinary() ([]byte, error) {
	if len(p.Path.Siblings) > StateTreeHeight {
		return nil, malformed("absence proof", -1, "state path too deep")
	}
	e := header(KindAbsence, 2+32+2+32+32*len(p.Path.Siblings)+1+ContractLeafSize)
	e.raw(p.ID[:])
	e.statePath(p.Path)
	if p.Other == nil {
		e.u8(0)
	} else {
		e.u8(1)
		e.raw(p.Other.Encode())
	}
	return e.b, nil
}

// MarshalBinary encodes the proof.
func (p *RangeProof) MarshalBinary() ([]byte, error) {
	if len(p.Path.Siblings) > StateTreeHeight {
		return nil, malformed("range proof", -1, "state path too deep")
	}
	if err := checkRange(p.Offset, p.Length, MaxMemoryBytes); err != nil {
		return nil, err
	}
	first, last := pageSpan(p.Offset, p.Length)
	if uint64(len(p.Pages)) != last-first+1 || len(p.MemorySiblings) != rangeSlotCount(first, last) {
		return nil, malformed("range proof", -1, "page or sibling count does not match the range")
	}
	slots := memorySlotHeights(first, last)
	e := header(KindRange, 2+ContractLeafSize+2+32*len(p.Path.Siblings)+16+len(p.Pages)*PageSize+len(slots)*32+64)
	e.raw(p.Leaf.Encode())
	e.statePath(p.Path)
	e.u64(p.Offset)
	e.u64(p.Length)
	zero := func(i int) bool { return p.Pages[i] == nil || isZero(p.Pages[i]) }
	e.bitmap(len(p.Pages), func(i int) bool { return !zero(i) })
	for i, pg := range p.Pages {
		if !zero(i) {
			if len(pg) != PageSize {
				return nil, malformed("range proof", -1, "page %d has %d bytes", i, len(pg))
			}
			e.raw(pg)
		}
	}
	e.bitmap(len(slots), func(i int) bool { return p.MemorySiblings[i] != emptyMemory[slots[i]] })
	for i, s := range p.MemorySiblings {
		if s != emptyMemory[slots[i]] {
			e.raw(s[:])
		}
	}
	return e.b, nil
}

// memorySlotHeights returns the tree height of each sibling slot of a
// proof of pages first..last, in proof order.
func memorySlotHeights(first, last uint64) []uint8 {
	var hs []uint8
	rangeSiblingSlots(first, last, func(h int, _ uint64) error { hs = append(hs, uint8(h)); return nil })
	return hs
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

type decoder struct {
	b    []byte
	off  int
	what string
	err  error
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = malformed(d.what, d.off, format, args...)
	}
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || len(d.b)-d.off < n {
		d.fail("truncated: need %d more bytes, have %d", n, len(d.b)-d.off)
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

func (d *decoder) u64() uint64 {
	if v := d.take(8); v != nil {
		return binary.LittleEndian.Uint64(v)
	}
	return 0
}

func (d *decoder) hash() (h Hash) {
	copy(h[:], d.take(HashSize))
	return h
}

// bitmap reads a presence bitmap for n items, rejecting set padding bits.
func (d *decoder) bitmap(n int) []byte {
	bm := d.take((n + 7) / 8)
	if d.err == nil && n%8 != 0 && bm[len(bm)-1]>>(n%8) != 0 {
		d.off--
		d.fail("padding bits of a bitmap are set")
	}
	return bm
}

func bit(bm []byte, i int) bool { return bm[i/8]>>(i%8)&1 == 1 }

func (d *decoder) leaf() ContractLeaf {
	b := d.take(ContractLeafSize)
	if d.err != nil {
		return ContractLeaf{}
	}
	l, err := DecodeContractLeaf(b)
	if err != nil {
		d.off -= ContractLeafSize
		d.fail("contract leaf: %v", err)
	}
	return l
}

func (d *decoder) statePath() StatePath {
	depth := int(d.u16())
	if depth > StateTreeHeight {
		d.off -= 2
		d.fail("state path depth %d exceeds %d", depth, StateTreeHeight)
		return StatePath{}
	}
	bm := d.bitmap(depth)
	if d.err != nil {
		return StatePath{}
	}
	p := StatePath{Siblings: make([]Hash, depth)}
	for i := range p.Siblings {
		if bit(bm, i) {
			if p.Siblings[i] = d.hash(); d.err == nil && p.Siblings[i] == EmptyState() {
				d.off -= HashSize
				d.fail("present state sibling is the empty hash")
			}
		}
	}
	return p
}

// DecodeProof decodes a binary proof. It accepts exactly the canonical
// encoding: no trailing bytes, no set padding bits, no present item equal
// to what its absence stands for.
func DecodeProof(b []byte) (Proof, error) {
	d := &decoder{b: b, what: "proof"}
	if v := d.u8(); d.err == nil && v != ProofVersion {
		return nil, malformed("proof", 0, "version %d, want %d", v, ProofVersion)
	}
	kind := ProofKind(d.u8())
	var p Proof
	switch {
	case d.err != nil:
	case kind == KindContract:
		d.what = "contract proof"
		cp := &ContractProof{Leaf: d.leaf()}
		cp.Path = d.statePath()
		p = cp
	case kind == KindAbsence:
		d.what = "absence proof"
		ap := &AbsenceProof{}
		copy(ap.ID[:], d.take(32))
		ap.Path = d.statePath()
		switch end := d.u8(); {
		case d.err != nil:
		case end == 1:
			l := d.leaf()
			ap.Other = &l
		case end != 0:
			d.off--
			d.fail("path end %d, want 0 or 1", end)
		}
		p = ap
	case kind == KindRange:
		d.what = "range proof"
		p = d.rangeProof()
	case kind == KindMulti:
		d.what = "multiproof"
		if mp := d.multiProof(); mp != nil {
			p = mp
		}
	default:
		d.off--
		d.fail("unknown kind %d", kind)
	}
	if d.err == nil && d.off != len(b) {
		d.fail("%d trailing bytes", len(b)-d.off)
	}
	if d.err != nil {
		return nil, d.err
	}
	return p, nil
}

func (d *decoder) rangeProof() *RangeProof {
	rp := &RangeProof{Leaf: d.leaf()}
	rp.Path = d.statePath()
	rp.Offset, rp.Length = d.u64(), d.u64()
	if d.err != nil {
		return nil
	}
	// Bound the range before allocating anything it sizes.
	if rp.Length == 0 || rp.Length > MaxProofRange || rp.Offset > MaxMemoryBytes-rp.Length {
		d.off -= 16
		d.fail("range %d+%d out of bounds", rp.Offset, rp.Length)
		return nil
	}
	first, last := pageSpan(rp.Offset, rp.Length)
	if rp.Pages = d.pages(int(last - first + 1)); d.err != nil {
		return nil
	}
	rp.MemorySiblings = d.memorySiblings(memorySlotHeights(first, last))
	return rp
}

// pages reads a presence bitmap for n pages and the present pages; a clear
// bit is a zero page (nil), and a present page may not be all zero.
func (d *decoder) pages(n int) [][]byte {
	pbm := d.bitmap(n)
	if d.err != nil {
		return nil
	}
	present := 0
	for _, c := range pbm {
		present += bits.OnesCount8(c)
	}
	if present > (len(d.b)-d.off)/PageSize {
		d.fail("truncated: %d pages announced", present)
		return nil
	}
	out := make([][]byte, n)
	for i := range out {
		if bit(pbm, i) {
			pg := d.take(PageSize)
			if d.err == nil && isZero(pg) {
				d.off -= PageSize
				d.fail("present page %d is all zero", i)
				return nil
			}
			out[i] = pg
		}
	}
	return out
}

// memorySiblings reads a presence bitmap for memory sibling slots of the
// given heights and the present hashes; a clear bit is E[h], and a present
// hash may not equal it.
func (d *decoder) memorySiblings(heights []uint8) []Hash {
	mbm := d.bitmap(len(heights))
	if d.err != nil {
		return nil
	}
	out := make([]Hash, len(heights))
	for i, h := range heights {
		if !bit(mbm, i) {
			out[i] = emptyMemory[h]
			continue
		}
		if out[i] = d.hash(); d.err != nil {
			return nil
		}
		if out[i] == emptyMemory[h] {
			d.off -= HashSize
			d.fail("present memory sibling is the empty hash")
			return nil
		}
	}
	return out
}
