package instrument

import "math"

// edit replaces bytes [at, at+n) of the input. n = 0 inserts a call of the
// hook before the memory.grow at at; n > 0 replaces a function index with
// fn.
type edit struct {
	at, n int
	fn    uint32
}

// walker decodes instructions and records the edits the rewrite makes.
type walker struct {
	// nTypes is the module's type count. The hook's type is appended at
	// that index, so a reference to it in the input (out of range there)
	// would become valid: every type index is checked against it.
	nTypes uint32
	nImp   uint32 // imported functions: their indices do not move
	edits  []edit // in increasing order of at
	sites  int    // memory.grow instructions
}

// funcIdx reads a function index and, if it names a defined function,
// records its shift by one (the hook is imported after the other imports).
func (w *walker) funcIdx(r *reader) error {
	at := r.pos
	idx, err := r.u32()
	if err != nil {
		return err
	}
	if idx >= w.nImp {
		if idx == math.MaxUint32 {
			return r.fail(ErrMalformed, at, "function index %d out of range", idx)
		}
		w.edits = append(w.edits, edit{at: at, n: r.pos - at, fn: idx + 1})
	}
	return nil
}

// valType reads a value type: one byte, or 0x63/0x64 and a heap type
// (typed references; the validator rejects them where disabled).
func valType(r *reader) error {
	b, err := r.byte()
	if err != nil {
		return err
	}
	if b == 0x63 || b == 0x64 {
		_, err = r.s33()
	}
	return err
}

// blockType reads the type of a block, loop or if: 0x40 (none), a value
// type, or a type index as a non-negative s33.
func (w *walker) blockType(r *reader) error {
	if r.pos < r.end && (r.b[r.pos] == 0x63 || r.b[r.pos] == 0x64) {
		return valType(r)
	}
	at := r.pos
	v, err := r.s33()
	if err == nil && v >= 0 {
		return w.typeIdx(r, at, uint64(v))
	}
	return err
}

// readTypeIdx reads a type index (u32) and checks it.
func (w *walker) readTypeIdx(r *reader) error {
	at := r.pos
	idx, err := r.u32()
	if err != nil {
		return err
	}
	return w.typeIdx(r, at, uint64(idx))
}

// typeIdx fails for a type index the module does not define.
func (w *walker) typeIdx(r *reader, at int, idx uint64) error {
	if idx >= uint64(w.nTypes) {
		return r.fail(ErrMalformed, at, "type index %d out of range (%d types)", idx, w.nTypes)
	}
	return nil
}

// memArg reads a memory instruction's alignment (with bit 6 set, a memory
// index follows: multi-memory) and offset (u64: memory64).
func memArg(r *reader) error {
	align, err := r.u32()
	if err != nil {
		return err
	}
	if align&(1<<6) != 0 {
		if _, err := r.u32(); err != nil {
			return err
		}
	}
	_, err = r.u64()
	return err
}

// expr decodes instructions from r.pos through the end that closes the
// expression (a function body or a constant expression), recording the
// edits. code tells whether it is a function body: memory.grow is only
// accepted there.
func (w *walker) expr(r *reader, code bool) error {
	depth := 0
	for {
		op, err := w.instr(r, code)
		if err != nil {
			return err
		}
		switch op {
		case opBlock, opLoop, opIf:
			depth++
		case opEnd:
			if depth == 0 {
				return nil
			}
			depth--
		}
	}
}

// instr decodes the instruction at r.pos and records its edits. It returns
// the opcode: the byte, or for a prefixed instruction the prefix shifted
// left by 16 bits, or'ed with the sub-opcode.
func (w *walker) instr(r *reader, code bool) (uint32, error) {
	at := r.pos
	b, err := r.byte()
	if err != nil {
		return 0, err
	}
	op, k := uint32(b), ops[b]
	if b == prefixFC || b == prefixFD {
		sub, err := r.u32()
		if err != nil {
			return 0, err
		}
		t := fcOps[:]
		if b == prefixFD {
			t = fdOps[:]
		}
		if sub >= uint32(len(t)) || t[sub] == 0 {
			return 0, r.fail(ErrMalformed, at, "unknown or disabled instruction 0x%02X %d", b, sub)
		}
		op, k = op<<16|sub, t[sub]
	}
	switch k {
	case 0:
		return 0, r.fail(ErrMalformed, at, "unknown or disabled opcode 0x%02X", b)
	case immBlock:
		err = w.blockType(r)
	case immIdx, immMem:
		_, err = r.u32()
	case immIdx2:
		if b == 0x11 || b == 0x13 { // call_indirect's type, then its table
			err = w.readTypeIdx(r)
		} else {
			_, err = r.u32()
		}
		if err == nil {
			_, err = r.u32()
		}
	case immBrTable:
		var n uint32
		if n, err = r.u32(); err == nil {
			for i := uint64(0); i <= uint64(n) && err == nil; i++ {
				_, err = r.u32()
			}
		}
	case immSelect:
		var n uint32
		if n, err = r.u32(); err == nil {
			for i := uint32(0); i < n && err == nil; i++ {
				err = valType(r)
			}
		}
	case immMemArg:
		err = memArg(r)
	case immMemLane:
		if err = memArg(r); err == nil {
			err = r.skip(1)
		}
	case immGrow:
		var mem uint32
		if mem, err = r.u32(); err != nil {
			return 0, err
		}
		if !code {
			return 0, r.fail(ErrMalformed, at, "memory.grow in a constant expression")
		}
		if mem != 0 {
			return 0, r.fail(ErrUnsupported, at, "memory.grow of memory %d", mem)
		}
		w.edits = append(w.edits, edit{at: at})
		w.sites++
	case immFunc:
		err = w.funcIdx(r)
	case immI32:
		_, err = r.leb(32, true)
	case immI64:
		_, err = r.leb(64, true)
	case immF32:
		err = r.skip(4)
	case immF64:
		err = r.skip(8)
	case immHeap:
		_, err = r.s33()
	case immLane:
		err = r.skip(1)
	case immV128:
		err = r.skip(16)
	}
	return op, err
}
