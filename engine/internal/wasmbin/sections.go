package wasmbin

import (
	"bytes"
	"math"
	"slices"
)

// The decoders of each section. Each reads the section from p.r, which is
// bounded by the section's end, and records in p what later checks need.

func (p *parser) valType() (ValType, error) {
	off := p.r.pos
	b, err := p.r.byte()
	if err != nil {
		return 0, err
	}
	t := ValType(b)
	if !t.valid() {
		return 0, p.badType(off, b)
	}
	return t, nil
}

func (p *parser) badType(off int, b byte) error {
	if proposalValType(b) {
		return p.r.fail(ErrUnsupported, off, "value type 0x%02x (typed references, GC or exceptions) is not supported", b)
	}
	return p.r.fail(ErrMalformed, off, "invalid value type 0x%02x", b)
}

// valTypes reads a vector of value types, aliasing the module.
func (p *parser) valTypes() ([]byte, error) {
	r := &p.r
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	off := r.pos
	ts, err := r.bytes(n)
	if err != nil {
		return nil, err
	}
	for i, b := range ts {
		if !ValType(b).valid() {
			return nil, p.badType(off+i, b)
		}
	}
	return ts, nil
}

func (p *parser) typeSection() error {
	r := &p.r
	n, err := r.count(p.lim.Types, "types")
	if err != nil {
		return err
	}
	p.types = make([]funcType, 0, n)
	for range n {
		off := r.pos
		form, err := r.byte()
		if err != nil {
			return err
		}
		if form != 0x60 {
			switch form {
			case 0x4E, 0x4F, 0x50, 0x5E, 0x5F:
				return r.fail(ErrUnsupported, off, "GC type form 0x%02x is not supported", form)
			}
			return r.fail(ErrMalformed, off, "invalid type form 0x%02x", form)
		}
		var t funcType
		if t.params, err = p.valTypes(); err != nil {
			return err
		}
		if t.results, err = p.valTypes(); err != nil {
			return err
		}
		p.types = append(p.types, t)
	}
	return nil
}

func (p *parser) typeIndex() (uint32, error) {
	off := p.r.pos
	idx, err := p.r.u32()
	if err != nil {
		return 0, err
	}
	if uint64(idx) >= uint64(len(p.types)) {
		return 0, p.r.fail(ErrMalformed, off, "type index %d out of range (%d types)", idx, len(p.types))
	}
	return idx, nil
}

func (p *parser) importSection() error {
	r := &p.r
	n, err := r.count(p.lim.Imports, "imports")
	if err != nil {
		return err
	}
	p.imps = make([]importEntry, 0, n)
	for range n {
		off := r.pos
		mod, err := r.name()
		if err != nil {
			return err
		}
		name, err := r.name()
		if err != nil {
			return err
		}
		kind, err := r.byte()
		if err != nil {
			return err
		}
		switch kind {
		case 0x00:
			idx, err := p.typeIndex()
			if err != nil {
				return err
			}
			if string(mod) != "env" {
				return r.fail(ErrInvalidContract, off, "import %q.%q: only module \"env\" may be imported from", mod, name)
			}
			p.imps = append(p.imps, importEntry{name: name, typeIdx: idx, off: off})
		case 0x01:
			return r.fail(ErrInvalidContract, off, "import %q.%q: tables may not be imported", mod, name)
		case 0x02:
			return r.fail(ErrInvalidContract, off, "import %q.%q: the memory must be defined by the module, not imported", mod, name)
		case 0x03:
			return r.fail(ErrInvalidContract, off, "import %q.%q: globals may not be imported", mod, name)
		case 0x04:
			return r.fail(ErrUnsupported, off, "import %q.%q: tags (exception handling) are not supported", mod, name)
		default:
			return r.fail(ErrMalformed, off, "invalid import kind 0x%02x", kind)
		}
	}
	return nil
}

func (p *parser) functionSection() error {
	r := &p.r
	n, err := r.count(p.lim.Functions, "functions")
	if err != nil {
		return err
	}
	p.funcs = make([]uint32, n)
	for i := range p.funcs {
		if p.funcs[i], err = p.typeIndex(); err != nil {
			return err
		}
	}
	return nil
}

// numFuncs is the size of the function index space.
func (p *parser) numFuncs() uint64 { return uint64(len(p.imps)) + uint64(len(p.funcs)) }

func (p *parser) refType() (ValType, error) {
	off := p.r.pos
	b, err := p.r.byte()
	if err != nil {
		return 0, err
	}
	switch t := ValType(b); t {
	case FuncRef, ExternRef:
		return t, nil
	}
	if proposalValType(b) {
		return 0, p.r.fail(ErrUnsupported, off, "reference type 0x%02x is not supported", b)
	}
	return 0, p.r.fail(ErrMalformed, off, "invalid reference type 0x%02x", b)
}

// table is a table's element type and index type.
type table struct {
	elem ValType
	is64 bool // table64 (memory64 proposal): indexed by i64
}

// indexType is the value type of an index into t.
func (t table) indexType() ValType {
	if t.is64 {
		return I64
	}
	return I32
}

func (p *parser) tableSection() error {
	r := &p.r
	n, err := r.count(p.lim.Tables, "tables")
	if err != nil {
		return err
	}
	p.tables = make([]table, 0, n)
	for range n {
		off := r.pos
		if r.pos < r.end && r.b[r.pos] == 0x40 {
			return r.fail(ErrUnsupported, off, "tables with an initializer expression are not supported")
		}
		t, err := p.refType()
		if err != nil {
			return err
		}
		flagsOff := r.pos
		flags, err := r.byte()
		if err != nil {
			return err
		}
		// Bit 0: a maximum follows; bit 2: 64-bit indices, which wasm-ld
		// emits for the indirect function table of wasm64 modules.
		if flags&^0x05 != 0 {
			return r.fail(ErrMalformed, flagsOff, "invalid table limits flags 0x%02x", flags)
		}
		is64 := flags&0x04 != 0
		read := func() (uint64, error) {
			if is64 {
				return r.u64()
			}
			v, err := r.u32()
			return uint64(v), err
		}
		lo, err := read()
		if err != nil {
			return err
		}
		if flags&1 != 0 {
			hi, err := read()
			if err != nil {
				return err
			}
			if hi < lo {
				return r.fail(ErrMalformed, off, "table maximum %d below minimum %d", hi, lo)
			}
		}
		// p.tableElems <= p.lim.TableElements: no overflow.
		if lo > p.lim.TableElements-p.tableElems {
			return r.fail(ErrLimit, off, "tables hold over %d initial elements", p.lim.TableElements)
		}
		p.tableElems += lo
		p.tables = append(p.tables, table{elem: t, is64: is64})
	}
	return nil
}

func (p *parser) memorySection() error {
	r := &p.r
	off := r.pos
	n, err := r.u32()
	if err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	if n > 1 {
		return r.fail(ErrInvalidContract, off, "%d memories: a contract has exactly one", n)
	}
	off = r.pos
	flags, err := r.byte()
	if err != nil {
		return err
	}
	switch {
	case flags&0x08 != 0:
		return r.fail(ErrUnsupported, off, "custom page sizes are not supported")
	case flags&^0x07 != 0:
		return r.fail(ErrMalformed, off, "invalid memory limits flags 0x%02x", flags)
	case flags&0x02 != 0:
		return r.fail(ErrUnsupported, off, "shared memory (threads) is not supported")
	}
	p.hasMemory, p.memOff = true, off
	p.memKind, p.memHasMax = Memory32, flags&0x01 != 0
	read, limit := func() (uint64, error) { v, err := r.u32(); return uint64(v), err }, uint64(maxPages32)
	if flags&0x04 != 0 {
		p.memKind, read, limit = Memory64, r.u64, maxPages64
	}
	if p.memMin, err = read(); err != nil {
		return err
	}
	if p.memHasMax {
		if p.memMax, err = read(); err != nil {
			return err
		}
	}
	switch {
	case p.memMin > limit || p.memMax > limit:
		return r.fail(ErrMalformed, off, "%v memory size out of range", p.memKind)
	case p.memHasMax && p.memMax < p.memMin:
		return r.fail(ErrMalformed, off, "memory maximum %d below minimum %d", p.memMax, p.memMin)
	case p.memMin > p.lim.MemoryPages:
		return r.fail(ErrLimit, off, "initial memory of %d pages, limit %d", p.memMin, p.lim.MemoryPages)
	}
	return nil
}

// constExpr reads a constant expression of type want: a single constant
// instruction and end. It returns the value of an i32 (zero-extended) or
// i64 constant, and zero for other types.
func (p *parser) constExpr(want ValType) (uint64, error) {
	r := &p.r
	off := r.pos
	op, err := r.byte()
	if err != nil {
		return 0, err
	}
	var v uint64
	var got ValType
	switch op {
	case 0x41: // i32.const
		x, err := r.s32()
		if err != nil {
			return 0, err
		}
		v, got = uint64(uint32(x)), I32
	case 0x42: // i64.const
		x, err := r.s64()
		if err != nil {
			return 0, err
		}
		v, got = uint64(x), I64
	case 0x43: // f32.const
		_, err = r.bytes(4)
		got = F32
	case 0x44: // f64.const
		_, err = r.bytes(8)
		got = F64
	case 0xFD: // v128.const
		var sub uint32
		if sub, err = r.u32(); err == nil {
			if sub != 12 {
				return 0, r.fail(ErrMalformed, off, "SIMD instruction %d in constant expression", sub)
			}
			_, err = r.bytes(16)
		}
		got = V128
	case 0xD0: // ref.null
		got, err = p.refType()
	case 0xD2: // ref.func
		var idx uint32
		if idx, err = r.u32(); err == nil && uint64(idx) >= p.numFuncs() {
			return 0, r.fail(ErrMalformed, off, "ref.func %d out of range", idx)
		}
		got = FuncRef
	case 0x23: // global.get
		return 0, r.fail(ErrUnsupported, off, "global.get in a constant expression (no global is imported)")
	default:
		return 0, r.fail(ErrMalformed, off, "instruction 0x%02x in a constant expression", op)
	}
	if err != nil {
		return 0, err
	}
	endOff := r.pos
	end, err := r.byte()
	if err != nil {
		return 0, err
	}
	if end != 0x0B {
		return 0, r.fail(ErrUnsupported, endOff, "constant expression of more than one instruction (extended-const)")
	}
	if got != want {
		return 0, r.fail(ErrMalformed, off, "constant expression of type %v, want %v", got, want)
	}
	return v, nil
}

func (p *parser) globalSection() error {
	r := &p.r
	n, err := r.count(p.lim.Globals, "globals")
	if err != nil {
		return err
	}
	p.globals = make([]globalEntry, 0, n)
	for range n {
		off := r.pos
		t, err := p.valType()
		if err != nil {
			return err
		}
		m, err := r.byte()
		if err != nil {
			return err
		}
		if m > 1 {
			return r.fail(ErrMalformed, off+1, "invalid global mutability 0x%02x", m)
		}
		if m == 1 && (t == V128 || t == FuncRef || t == ExternRef) {
			return r.fail(ErrUnsupported, off, "mutable %v global %d cannot be persisted", t, len(p.globals))
		}
		v, err := p.constExpr(t)
		if err != nil {
			return err
		}
		p.globals = append(p.globals, globalEntry{typ: t, mutable: m == 1, init: v})
	}
	return nil
}

var funcI32toI32 = FuncType{Params: []ValType{I32}, Results: []ValType{I32}}

func (p *parser) exportSection() error {
	r := &p.r
	limit := p.lim.Exports
	if p.rewritten {
		// Rewrite adds one export per mutable global; the exact count is
		// checked below.
		limit = uint32(min(uint64(limit)+uint64(len(p.globals)), math.MaxUint32))
	}
	n, err := r.count(limit, "exports")
	if err != nil {
		return err
	}
	p.exports.entries, p.exports.count = r.pos, n
	p.exports.end = r.end
	names := make([][]byte, 0, n)
	p.exportNames = make([][]byte, 0, n)
	for range n {
		off := r.pos
		name, err := r.name()
		if err != nil {
			return err
		}
		names = append(names, name)
		kind, err := r.byte()
		if err != nil {
			return err
		}
		idx, err := r.u32()
		if err != nil {
			return err
		}
		if bytes.HasPrefix(name, []byte(ExportPrefix)) {
			if err := p.rewriteExport(off, name, kind, idx); err != nil {
				return err
			}
			continue
		}
		switch kind {
		case 0x00:
			if uint64(idx) >= p.numFuncs() {
				return r.fail(ErrMalformed, off, "export %q: function %d out of range", name, idx)
			}
			if uint64(idx) < uint64(len(p.imps)) {
				return r.fail(ErrInvalidContract, off, "export %q re-exports an imported function", name)
			}
			if t := p.types[p.funcs[idx-uint32(len(p.imps))]]; !t.is(funcI32toI32) {
				return r.fail(ErrInvalidContract, off, "exported function %q has type %v, want %v", name, t.export(), funcI32toI32)
			}
			p.exportNames = append(p.exportNames, name)
			if string(name) == "init" {
				p.hasInit = true
			}
			continue
		case 0x01:
			if uint64(idx) >= uint64(len(p.tables)) {
				return r.fail(ErrMalformed, off, "export %q: table %d out of range", name, idx)
			}
		case 0x02:
			if idx != 0 || !p.hasMemory {
				return r.fail(ErrMalformed, off, "export %q: memory %d out of range", name, idx)
			}
			if p.memExport == nil {
				p.memExport = name
			}
		case 0x03:
			if uint64(idx) >= uint64(len(p.globals)) {
				return r.fail(ErrMalformed, off, "export %q: global %d out of range", name, idx)
			}
			if string(name) == "A" {
				p.argGlobal, p.argOff = int(idx), off
			}
		case 0x04:
			return r.fail(ErrUnsupported, off, "export %q: tags (exception handling) are not supported", name)
		default:
			return r.fail(ErrMalformed, off, "export %q: invalid kind 0x%02x", name, kind)
		}
		if string(name) == "init" {
			return r.fail(ErrInvalidContract, off, "export \"init\" must be a function")
		}
	}
	if n-p.numRewrites > p.lim.Exports {
		return r.fail(ErrLimit, p.exports.entries, "%d exports, limit %d", n-p.numRewrites, p.lim.Exports)
	}
	slices.SortFunc(names, bytes.Compare)
	for i := 1; i < len(names); i++ {
		if bytes.Equal(names[i-1], names[i]) {
			return r.fail(ErrMalformed, p.exports.entries, "duplicate export name %q", names[i])
		}
	}
	slices.SortFunc(p.exportNames, bytes.Compare)
	return nil
}

// rewriteExport checks an export whose name starts with ExportPrefix: only
// ValidateRewritten accepts them, and only as Rewrite writes them.
func (p *parser) rewriteExport(off int, name []byte, kind byte, idx uint32) error {
	r := &p.r
	if !p.rewritten {
		return r.fail(ErrInvalidContract, off, "export %q uses the reserved prefix %q", name, ExportPrefix)
	}
	if kind != 0x03 || uint64(idx) >= uint64(len(p.globals)) || !p.globals[idx].mutable ||
		p.globals[idx].rewrite || string(name) != string(appendGlobalExportName(nil, idx)) {
		return r.fail(ErrInvalidContract, off, "export %q uses the reserved prefix %q and is not one Rewrite adds", name, ExportPrefix)
	}
	p.globals[idx].rewrite = true
	p.numRewrites++
	return nil
}

func (p *parser) tableIndex() (table, error) {
	off := p.r.pos
	idx, err := p.r.u32()
	if err != nil {
		return table{}, err
	}
	if uint64(idx) >= uint64(len(p.tables)) {
		return table{}, p.r.fail(ErrMalformed, off, "table index %d out of range (%d tables)", idx, len(p.tables))
	}
	return p.tables[idx], nil
}

func (p *parser) elementSection() error {
	r := &p.r
	n, err := r.count(p.lim.ElementSegments, "element segments")
	if err != nil {
		return err
	}
	for range n {
		off := r.pos
		flags, err := r.u32()
		if err != nil {
			return err
		}
		if flags > 7 {
			return r.fail(ErrMalformed, off, "invalid element segment flags %d", flags)
		}
		// Bit 0: passive or declarative (else active); bit 1: explicit table
		// index when active, declarative when not; bit 2: expressions rather
		// than function indices.
		active, explicit, exprs := flags&1 == 0, flags&2 != 0, flags&4 != 0
		var tab table
		if active {
			if explicit {
				if tab, err = p.tableIndex(); err != nil {
					return err
				}
			} else if len(p.tables) == 0 {
				return r.fail(ErrMalformed, off, "active element segment without a table")
			} else {
				tab = p.tables[0]
			}
			if _, err := p.constExpr(tab.indexType()); err != nil {
				return err
			}
		}
		elem := FuncRef
		if explicit || !active {
			// An element kind (function indices) or reference type follows.
			if exprs {
				if elem, err = p.refType(); err != nil {
					return err
				}
			} else {
				kindOff := r.pos
				k, err := r.byte()
				if err != nil {
					return err
				}
				if k != 0x00 {
					return r.fail(ErrMalformed, kindOff, "invalid element kind 0x%02x", k)
				}
			}
		}
		if active && tab.elem != elem {
			return r.fail(ErrMalformed, off, "element segment of %v for a table of %v", elem, tab.elem)
		}
		cnt, err := r.count(^uint32(0), "elements")
		if err != nil {
			return err
		}
		for range cnt {
			if exprs {
				_, err = p.constExpr(elem)
				if err != nil {
					return err
				}
				continue
			}
			idxOff := r.pos
			idx, err := r.u32()
			if err != nil {
				return err
			}
			if uint64(idx) >= p.numFuncs() {
				return r.fail(ErrMalformed, idxOff, "function index %d out of range", idx)
			}
		}
	}
	return nil
}

func (p *parser) codeSection() error {
	r := &p.r
	p.sawCode = true
	off := r.pos
	n, err := r.u32()
	if err != nil {
		return err
	}
	if uint64(n) != uint64(len(p.funcs)) {
		return r.fail(ErrMalformed, off, "%d function bodies for %d functions", n, len(p.funcs))
	}
	sectionEnd := r.end
	for i := range n {
		off := r.pos
		size, err := r.u32()
		if err != nil {
			return err
		}
		if size > p.lim.FunctionBodyBytes {
			return r.fail(ErrLimit, off, "function %d body is %d bytes, limit %d", i, size, p.lim.FunctionBodyBytes)
		}
		if uint64(size) > uint64(r.left()) {
			return r.fail(ErrMalformed, off, "function %d body extends past the section", i)
		}
		r.end = r.pos + int(size)
		decls, err := r.u32()
		if err != nil {
			return err
		}
		var locals uint64
		for range decls {
			cntOff := r.pos
			c, err := r.u32()
			if err != nil {
				return err
			}
			if locals += uint64(c); locals > uint64(p.lim.Locals) {
				return r.fail(ErrLimit, cntOff, "function %d declares over %d locals", i, p.lim.Locals)
			}
			if _, err := p.valType(); err != nil {
				return err
			}
		}
		if r.pos >= r.end || r.b[r.end-1] != 0x0B {
			return r.fail(ErrMalformed, off, "function %d body does not end with end", i)
		}
		r.pos, r.end = r.end, sectionEnd
	}
	return nil
}

func (p *parser) dataSection() error {
	r := &p.r
	p.sawData = true
	n, err := r.count(p.lim.DataSegments, "data segments")
	if err != nil {
		return err
	}
	if p.hasDataCnt && n != p.dataCount {
		return r.fail(ErrMalformed, r.pos, "%d data segments, data count section says %d", n, p.dataCount)
	}
	for range n {
		off := r.pos
		flags, err := r.u32()
		if err != nil {
			return err
		}
		var at uint64
		switch flags {
		case 0, 2:
			if flags == 2 {
				mOff := r.pos
				m, err := r.u32()
				if err != nil {
					return err
				}
				if m != 0 {
					return r.fail(ErrMalformed, mOff, "data segment for memory %d", m)
				}
			}
			if !p.hasMemory {
				return r.fail(ErrMalformed, off, "active data segment without a memory")
			}
			if at, err = p.constExpr(p.memKind.addrType()); err != nil {
				return err
			}
		case 1:
		default:
			return r.fail(ErrMalformed, off, "invalid data segment flags %d", flags)
		}
		size, err := r.u32()
		if err != nil {
			return err
		}
		if _, err := r.bytes(size); err != nil {
			return err
		}
		// An active segment outside the initial memory would make every
		// instantiation fail.
		if mem := p.memBytes(); flags != 1 && (at > mem || uint64(size) > mem-at) {
			return r.fail(ErrInvalidContract, off, "data segment [%d, +%d) outside the initial memory of %d pages", at, size, p.memMin)
		}
		if flags != 1 && size > 0 {
			p.dataRanges = append(p.dataRanges, DataRange{Offset: at, Length: uint64(size)})
		}
	}
	return nil
}

// memBytes is the size of the initial memory in bytes, saturated at 2^64-1
// for the (theoretical) 2^48-page memory64.
func (p *parser) memBytes() uint64 {
	if p.memMin >= maxPages64 {
		return math.MaxUint64
	}
	return p.memMin * WasmPageSize
}
