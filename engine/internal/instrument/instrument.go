// Package instrument rewrites a contract module so that the engine prices
// memory growth before it happens.
//
// wasmtime offers no callback on memory.grow, only a static limit, so
// [MemoryGrow] puts one in the module: every memory.grow is preceded by a
// call of an imported host function ([HookModule].[HookName]) that takes
// the requested delta (i32 for a 32-bit memory, i64 for memory64) and
// returns it unchanged, after charging for the growth or trapping. Adding an
// import shifts the index of every defined function by one, so every place
// that names one is rewritten too: call, return_call and ref.func in
// function bodies and constant expressions, element segments, exports, the
// start function, and the function-indexed parts of the "name" section.
// DWARF sections (".debug_*"), whose code offsets no longer hold, are
// dropped; every other byte is kept.
//
// The rewrite is for compilation only: the engine stores and hashes the
// module as deployed. It decodes every instruction of the features the
// engine's wasmtime configuration enables and fails on anything else, so it
// never turns a module the compiler would reject into one it accepts.
//
// The package uses only the standard library.
package instrument

import (
	"bytes"
	"strings"
)

// The hook's import names.
const (
	HookModule = "wasmstate"
	HookName   = "grow"
)

// Version identifies the rewrite: the engine's compiled-code cache key
// includes it, so code compiled by an older rewrite (or none) is never
// reused.
const Version = "grow-hook-1"

// Section ids.
const (
	secCustom   = 0
	secType     = 1
	secImport   = 2
	secFunction = 3
	secTable    = 4
	secMemory   = 5
	secGlobal   = 6
	secExport   = 7
	secStart    = 8
	secElem     = 9
	secCode     = 10
)

type section struct {
	id         byte
	start      int // the id byte
	body, end  int // the contents
	name       string
	count      uint32 // type and import sections: entries
	entries    int    // type and import sections: the first entry
	codeBodies [][2]int
}

// module is what the rewrite needs of the input.
type module struct {
	src      []byte
	sections []section
	hasTypes bool
	mem64    bool
	hasMem   bool
	walker
}

// MemoryGrow returns wasm with a call of the hook before each memory.grow,
// and how many it found. A module without memory.grow comes back as it is
// (the same slice). Errors are [*Error].
func MemoryGrow(wasm []byte) ([]byte, int, error) {
	m := &module{src: wasm}
	if err := m.scan(); err != nil {
		return nil, 0, err
	}
	if m.sites == 0 {
		return wasm, 0, nil
	}
	if !m.hasMem {
		return nil, 0, &Error{Offset: m.edits[0].at, Reason: "memory.grow in a module without a memory", Err: ErrUnsupported}
	}
	if !m.hasTypes {
		return nil, 0, &Error{Offset: len(wasm), Reason: "function bodies without a type section", Err: ErrMalformed}
	}
	return m.emit(), m.sites, nil
}

// scan decodes the sections, recording the edits.
func (m *module) scan() error {
	b := m.src
	r := &reader{b: b, end: len(b)}
	if len(b) < 8 || !bytes.Equal(b[:8], []byte("\x00asm\x01\x00\x00\x00")) {
		return r.fail(ErrMalformed, 0, "not a WebAssembly 1.0 module")
	}
	r.pos = 8
	var seen [256]bool
	for r.pos < len(b) {
		s := section{start: r.pos}
		var err error
		if s.id, err = r.byte(); err != nil {
			return err
		}
		size, err := r.u32()
		if err != nil {
			return err
		}
		if uint64(size) > uint64(len(b)-r.pos) {
			return r.fail(ErrMalformed, s.start, "section %d extends past the end", s.id)
		}
		s.body, s.end = r.pos, r.pos+int(size)
		if s.id != secCustom {
			if seen[s.id] {
				return r.fail(ErrMalformed, s.start, "section %d repeated", s.id)
			}
			seen[s.id] = true
		}
		sr := &reader{b: b, pos: s.body, end: s.end}
		if err := m.section(sr, &s); err != nil {
			return err
		}
		if sr.pos != s.end {
			return r.fail(ErrMalformed, sr.pos, "%d unread bytes at the end of section %d", s.end-sr.pos, s.id)
		}
		m.sections = append(m.sections, s)
		r.pos = s.end
	}
	return nil
}

// section decodes one section: what the rewrite changes, and what it needs
// to know (imported functions, the memory's index type, the type count).
func (m *module) section(r *reader, s *section) error {
	var n uint32
	var err error
	if s.id != secCustom && s.id != secStart {
		if n, err = r.u32(); err != nil {
			return err
		}
		s.count, s.entries = n, r.pos
	}
	switch s.id {
	case secCustom:
		r.pos = s.body
		ln, err := r.u32()
		if err != nil {
			return err
		}
		if err := r.skip(uint64(ln)); err != nil {
			return err
		}
		s.name = string(m.src[r.pos-int(ln) : r.pos])
		r.pos = s.end
	case secType:
		m.hasTypes, m.nTypes = true, n
		r.pos = s.end
	case secFunction:
		for range n {
			if err := m.readTypeIdx(r); err != nil {
				return err
			}
		}
	case secImport:
		for range n {
			if err := m.importEntry(r); err != nil {
				return err
			}
		}
	case secTable:
		for range n {
			if err := m.table(r); err != nil {
				return err
			}
		}
	case secMemory:
		for range n {
			if err := m.memType(r); err != nil {
				return err
			}
		}
	case secGlobal:
		for range n {
			if err := m.global(r); err != nil {
				return err
			}
		}
	case secExport:
		for range n {
			if err := r.name(); err != nil {
				return err
			}
			kind, err := r.byte()
			if err != nil {
				return err
			}
			if kind == 0x00 {
				err = m.funcIdx(r)
			} else {
				_, err = r.u32()
			}
			if err != nil {
				return err
			}
		}
	case secStart:
		return m.funcIdx(r)
	case secElem:
		for range n {
			if err := m.elemSegment(r); err != nil {
				return err
			}
		}
	case secCode:
		for range n {
			if err := m.body(r, s); err != nil {
				return err
			}
		}
	default:
		// Function, data, data count, tag: no function index, no code.
		r.pos = s.end
	}
	return nil
}

// global reads a global: its type, mutability and initializer.
func (m *module) global(r *reader) error {
	if err := valType(r); err != nil {
		return err
	}
	if _, err := r.byte(); err != nil {
		return err
	}
	return m.expr(r, false)
}

func (m *module) importEntry(r *reader) error {
	if err := r.name(); err != nil {
		return err
	}
	if err := r.name(); err != nil {
		return err
	}
	off := r.pos
	kind, err := r.byte()
	if err != nil {
		return err
	}
	switch kind {
	case 0x00: // function
		if err := m.readTypeIdx(r); err != nil {
			return err
		}
		m.nImp++
		if m.nImp == 0 {
			return r.fail(ErrMalformed, off, "too many imported functions")
		}
		return nil
	case 0x01: // table
		if err := valType(r); err != nil {
			return err
		}
		return limits(r)
	case 0x02:
		return m.memType(r)
	case 0x03: // global
		if err := valType(r); err != nil {
			return err
		}
		_, err := r.byte()
		return err
	case 0x04: // tag
		if _, err := r.byte(); err != nil {
			return err
		}
		_, err := r.u32()
		return err
	}
	return r.fail(ErrMalformed, off, "import kind 0x%02x", kind)
}

// limits reads the limits of a table or memory; it returns the flags.
func limits(r *reader) error {
	_, err := limitsFlags(r)
	return err
}

func limitsFlags(r *reader) (byte, error) {
	off := r.pos
	flags, err := r.byte()
	if err != nil {
		return 0, err
	}
	if flags&^0x0F != 0 {
		return 0, r.fail(ErrMalformed, off, "limits flags 0x%02x", flags)
	}
	bits := uint(32)
	if flags&0x04 != 0 {
		bits = 64
	}
	if _, err := r.leb(bits, false); err != nil {
		return 0, err
	}
	if flags&0x01 != 0 {
		if _, err := r.leb(bits, false); err != nil {
			return 0, err
		}
	}
	if flags&0x08 != 0 { // custom page size: log2
		if _, err := r.u32(); err != nil {
			return 0, err
		}
	}
	return flags, nil
}

// memType reads a memory type; the first memory of the module decides the
// hook's type.
func (m *module) memType(r *reader) error {
	flags, err := limitsFlags(r)
	if err != nil {
		return err
	}
	if !m.hasMem {
		m.hasMem, m.mem64 = true, flags&0x04 != 0
	}
	return nil
}

// table reads a table type, with its initializer expression if it has one
// (function references).
func (m *module) table(r *reader) error {
	init := r.pos+1 < r.end && r.b[r.pos] == 0x40 && r.b[r.pos+1] == 0x00
	if init {
		r.pos += 2
	}
	if err := valType(r); err != nil {
		return err
	}
	if err := limits(r); err != nil {
		return err
	}
	if init {
		return m.expr(r, false)
	}
	return nil
}

func (m *module) elemSegment(r *reader) error {
	off := r.pos
	flags, err := r.u32()
	if err != nil {
		return err
	}
	if flags > 7 {
		return r.fail(ErrMalformed, off, "element segment flags %d", flags)
	}
	exprs := flags&4 != 0
	if flags&1 == 0 { // active
		if flags&2 != 0 {
			if _, err := r.u32(); err != nil { // table
				return err
			}
		}
		if err := m.expr(r, false); err != nil {
			return err
		}
	}
	if flags&3 != 0 { // element kind, or reference type
		if exprs {
			err = valType(r)
		} else {
			_, err = r.byte()
		}
		if err != nil {
			return err
		}
	}
	n, err := r.u32()
	if err != nil {
		return err
	}
	for range n {
		if exprs {
			err = m.expr(r, false)
		} else {
			err = m.funcIdx(r)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// body decodes one function body of the code section.
func (m *module) body(r *reader, s *section) error {
	off := r.pos
	size, err := r.u32()
	if err != nil {
		return err
	}
	if uint64(size) > uint64(r.end-r.pos) {
		return r.fail(ErrMalformed, off, "function body extends past the code section")
	}
	br := &reader{b: r.b, pos: r.pos, end: r.pos + int(size)}
	s.codeBodies = append(s.codeBodies, [2]int{br.pos, br.end})
	decls, err := br.u32()
	if err != nil {
		return err
	}
	for range decls {
		if _, err := br.u32(); err != nil {
			return err
		}
		if err := valType(br); err != nil {
			return err
		}
	}
	if err := m.expr(br, true); err != nil {
		return err
	}
	if br.pos != br.end {
		return r.fail(ErrMalformed, br.pos, "%d bytes after the end of a function body", br.end-br.pos)
	}
	r.pos = br.end
	return nil
}

// emit writes the instrumented module.
func (m *module) emit() []byte {
	src := m.src
	out := make([]byte, 0, len(src)+len(src)/16+64)
	out = append(out, src[:8]...)
	addrType := byte(0x7F) // i32
	if m.mem64 {
		addrType = 0x7E // i64
	}
	hasImports := false
	for _, s := range m.sections {
		hasImports = hasImports || s.id == secImport
	}
	next := 0 // the next edit to apply
	apply := func(dst []byte, lo, hi int) []byte {
		for ; next < len(m.edits) && m.edits[next].at < hi; next++ {
			e := m.edits[next]
			dst = append(dst, src[lo:e.at]...)
			if e.n == 0 {
				dst = append(dst, opCall)
				dst = appendULEB(dst, uint64(m.nImp))
			} else {
				dst = appendULEB(dst, uint64(e.fn))
			}
			lo = e.at + e.n
		}
		return append(dst, src[lo:hi]...)
	}
	var buf []byte
	for _, s := range m.sections {
		buf = buf[:0]
		switch s.id {
		case secType:
			buf = appendULEB(buf, uint64(s.count)+1)
			buf = append(buf, src[s.entries:s.end]...)
			buf = append(buf, 0x60, 1, addrType, 1, addrType)
			out = appendSection(out, secType, buf)
			if !hasImports {
				out = appendSection(out, secImport, m.hookImport(appendULEB(nil, 1)))
			}
			continue
		case secImport:
			buf = appendULEB(buf, uint64(s.count)+1)
			buf = append(buf, src[s.entries:s.end]...)
			out = appendSection(out, secImport, m.hookImport(buf))
			continue
		case secCode:
			buf = append(buf, src[s.body:s.entries]...)
			var fn []byte
			for _, b := range s.codeBodies {
				fn = apply(fn[:0], b[0], b[1])
				buf = appendULEB(buf, uint64(len(fn)))
				buf = append(buf, fn...)
			}
			out = appendSection(out, secCode, buf)
			continue
		case secTable, secGlobal, secExport, secStart, secElem:
			out = appendSection(out, s.id, apply(buf, s.body, s.end))
			continue
		case secCustom:
			if strings.HasPrefix(s.name, ".debug_") {
				continue
			}
			if s.name == "name" {
				if names, ok := m.names(s); ok {
					out = appendSection(out, secCustom, names)
				}
				continue
			}
		}
		out = append(out, src[s.start:s.end]...)
	}
	return out
}

// hookImport appends the hook's import entry to buf.
func (m *module) hookImport(buf []byte) []byte {
	for _, n := range []string{HookModule, HookName} {
		buf = appendULEB(buf, uint64(len(n)))
		buf = append(buf, n...)
	}
	buf = append(buf, 0x00)
	return appendULEB(buf, uint64(m.nTypes)) // the hook's type: the last
}

func appendSection(out []byte, id byte, content []byte) []byte {
	out = append(out, id)
	out = appendULEB(out, uint64(len(content)))
	return append(out, content...)
}

// names rewrites the "name" section: the function indices of the function
// (1), local (2) and label (3) name maps move with the functions; other
// subsections are kept. A name section that does not decode is dropped
// (names are optional), reported by ok = false.
func (m *module) names(s section) (out []byte, ok bool) {
	out = appendULEB(out, uint64(len(s.name)))
	out = append(out, s.name...)
	r := &reader{b: m.src, pos: s.body, end: s.end}
	if r.name() != nil {
		return nil, false
	}
	for r.pos < r.end {
		id, err := r.byte()
		if err != nil {
			return nil, false
		}
		size, err := r.u32()
		if err != nil || uint64(size) > uint64(r.end-r.pos) {
			return nil, false
		}
		sub := &reader{b: m.src, pos: r.pos, end: r.pos + int(size)}
		var content []byte
		switch id {
		case 1:
			content, err = m.nameMap(sub, nil, true)
		case 2, 3:
			content, err = m.indirectNameMap(sub)
		default:
			content, sub.pos = m.src[sub.pos:sub.end], sub.end
		}
		if err != nil || sub.pos != sub.end {
			return nil, false
		}
		out = append(out, id)
		out = appendULEB(out, uint64(len(content)))
		out = append(out, content...)
		r.pos = sub.end
	}
	return out, true
}

// nameMap re-encodes a name map, shifting its function indices if shift.
func (m *module) nameMap(r *reader, out []byte, shift bool) ([]byte, error) {
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	out = appendULEB(out, uint64(n))
	for range n {
		idx, err := r.u32()
		if err != nil {
			return nil, err
		}
		if shift && idx >= m.nImp {
			if idx++; idx == 0 {
				return nil, r.fail(ErrMalformed, r.pos, "function index out of range")
			}
		}
		out = appendULEB(out, uint64(idx))
		start := r.pos
		if err := r.name(); err != nil {
			return nil, err
		}
		out = append(out, m.src[start:r.pos]...)
	}
	return out, nil
}

// indirectNameMap re-encodes a map from function index to name map.
func (m *module) indirectNameMap(r *reader) ([]byte, error) {
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	out := appendULEB(nil, uint64(n))
	for range n {
		idx, err := r.u32()
		if err != nil {
			return nil, err
		}
		if idx >= m.nImp {
			if idx++; idx == 0 {
				return nil, r.fail(ErrMalformed, r.pos, "function index out of range")
			}
		}
		out = appendULEB(out, uint64(idx))
		if out, err = m.nameMap(r, out, false); err != nil {
			return nil, err
		}
	}
	return out, nil
}
