package wasmbin

import "slices"

// WasmPageSize is the size of a WebAssembly memory page, in bytes (not to be
// confused with merkle.PageSize, the unit of state hashing).
const WasmPageSize = 65536

// ArgBufferSize is the size of the argument buffer a contract's global A
// points at, in bytes.
const ArgBufferSize = 65536

// Maximum memory sizes in pages allowed by the core specification.
const (
	maxPages32 = 1 << 16
	maxPages64 = 1 << 48
)

// ImportFunc tells which host functions a contract may import from module
// "env", and with which signature: it returns the expected signature of the
// import name for a contract whose memory is of the given kind, and false
// when no such import exists.
type ImportFunc func(kind MemoryKind, name string) (FuncType, bool)

// ImportMaps returns an ImportFunc looking names up in mem32 for wasm32
// contracts and in mem64 for wasm64 contracts. The maps are used as they
// are, not copied.
func ImportMaps(mem32, mem64 map[string]FuncType) ImportFunc {
	return func(kind MemoryKind, name string) (FuncType, bool) {
		m := mem32
		if kind == Memory64 {
			m = mem64
		}
		t, ok := m[name]
		return t, ok
	}
}

// Config says what [Validate] and [Rewrite] accept. A nil *Config, like the
// zero Config, accepts no imports under [DefaultLimits].
type Config struct {
	// Limits bounds the module's size; zero fields take the defaults.
	Limits Limits
	// Imports gives the allowed imports; nil allows none.
	Imports ImportFunc
}

// Info describes a valid contract module.
type Info struct {
	// Memory is the kind of the module's single memory.
	Memory MemoryKind
	// MinPages is the memory's initial size in 64 KiB pages.
	MinPages uint64
	// MaxPages is the memory's maximum size in pages, when HasMax is set.
	MaxPages uint64
	// HasMax tells whether the memory declares a maximum size.
	HasMax bool
	// MemoryExport is the first name the memory is exported under (the Dusk
	// SDK uses "memory").
	MemoryExport string
	// ArgBuffer is the value of the global A: the offset in memory of the
	// ArgBufferSize-byte argument buffer. A+ArgBufferSize is within the
	// initial memory.
	ArgBuffer uint64
	// Exports lists the names of the exported functions, sorted. Every one
	// has type (i32) -> i32.
	Exports []string
	// HasInit tells whether the function "init" is exported.
	HasInit bool
	// Imports lists the distinct names imported from module "env", sorted.
	Imports []string
	// MutableGlobals lists the mutable globals the module defines, by index.
	MutableGlobals []Global
	// DataRanges lists the memory ranges the active data segments
	// initialise at instantiation, in section order.
	DataRanges []DataRange
}

// DataRange is the memory range an active data segment writes.
type DataRange struct {
	Offset, Length uint64
}

// Validate decodes the module wasm and checks that it is a contract within
// cfg's limits. It rejects a module that exports a name starting with
// [ExportPrefix]. wasm is only read; Info shares no memory with it.
func Validate(wasm []byte, cfg *Config) (*Info, error) {
	p, err := parse(wasm, cfg, false)
	if err != nil {
		return nil, err
	}
	return p.info(), nil
}

// ValidateRewritten is [Validate] for the output of [Rewrite]: it accepts
// exports starting with [ExportPrefix] when they are exactly the ones
// Rewrite adds (each mutable global exported once under [GlobalExportName]
// of its index), and returns the Info of the module before the rewrite. It
// lets an embedder check a rewritten module it stored or received.
func ValidateRewritten(wasm []byte, cfg *Config) (*Info, error) {
	p, err := parse(wasm, cfg, true)
	if err != nil {
		return nil, err
	}
	return p.info(), nil
}

type importEntry struct {
	name    []byte
	typeIdx uint32
	off     int
}

type globalEntry struct {
	typ     ValType
	mutable bool
	init    uint64 // the value of an i32 (zero-extended) or i64 initializer
	rewrite bool   // exported by Rewrite; ValidateRewritten only
}

// parser holds what has been decoded so far. Slices alias the module where
// they hold names or signatures.
type parser struct {
	r          reader
	lim        Limits
	imports    ImportFunc
	rewritten  bool
	dataRanges []DataRange // active data segments, for the engine to undo at reload

	types       []funcType
	imps        []importEntry
	funcs       []uint32 // type index of each defined function
	tables      []table
	tableElems  uint64
	hasMemory   bool
	memKind     MemoryKind
	memMin      uint64
	memMax      uint64
	memHasMax   bool
	memOff      int
	globals     []globalEntry
	exportNames [][]byte // function exports, sorted when done
	memExport   []byte
	argGlobal   int // index of the exported global A, or -1
	argOff      int // offset of the export of A
	hasInit     bool
	exports     exportSection
	sawCode     bool
	sawData     bool
	hasDataCnt  bool
	dataCount   uint32
	numRewrites uint32
}

// exportSection locates the export section for Rewrite.
type exportSection struct {
	start   int // the section id byte
	entries int // the first entry, after the count
	end     int
	count   uint32
}

// sectionRank orders non-custom sections: each must have a rank above the
// previous one. Zero means unknown.
var sectionRank = [...]int{
	SectionType: 1, SectionImport: 2, SectionFunction: 3, SectionTable: 4,
	SectionMemory: 5, SectionGlobal: 7, SectionExport: 8, SectionStart: 9,
	SectionElement: 10, SectionDataCount: 11, SectionCode: 12, SectionData: 13,
}

const sectionTag = 13 // exception handling

func parse(wasm []byte, cfg *Config, rewritten bool) (*parser, error) {
	p := &parser{rewritten: rewritten, argGlobal: -1}
	if cfg != nil {
		p.lim = cfg.Limits.withDefaults()
		p.imports = cfg.Imports
	} else {
		p.lim = DefaultLimits()
	}
	r := &p.r
	*r = reader{b: wasm, end: len(wasm), sec: SectionModule}

	maxBytes := uint64(p.lim.ModuleBytes)
	if rewritten {
		maxBytes += rewriteSlack(p.lim.Globals)
	}
	if uint64(len(wasm)) > maxBytes {
		return nil, r.fail(ErrLimit, 0, "module is %d bytes, limit %d", len(wasm), maxBytes)
	}
	if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" {
		return nil, r.fail(ErrMalformed, 0, "not a WebAssembly binary (bad magic)")
	}
	switch string(wasm[4:8]) {
	case "\x01\x00\x00\x00":
	case "\x0d\x00\x01\x00":
		return nil, r.fail(ErrUnsupported, 4, "component model binaries are not supported")
	default:
		return nil, r.fail(ErrMalformed, 4, "unsupported binary version")
	}
	r.pos = 8

	lastRank := 0
	for r.pos < len(wasm) {
		start := r.pos
		r.sec, r.end = SectionModule, len(wasm)
		id, err := r.byte()
		if err != nil {
			return nil, err
		}
		sec := SectionID(id)
		if sec != SectionCustom {
			rank := 0
			if int(id) < len(sectionRank) {
				rank = sectionRank[id]
			}
			if rank == 0 {
				if id == sectionTag {
					return nil, r.fail(ErrUnsupported, start, "tag section (exception handling) is not supported")
				}
				return nil, r.fail(ErrMalformed, start, "unknown section id %d", id)
			}
			if rank <= lastRank {
				return nil, r.fail(ErrMalformed, start, "%v section out of order or repeated", sec)
			}
			lastRank = rank
		}
		size, err := r.u32()
		if err != nil {
			return nil, err
		}
		if uint64(size) > uint64(r.left()) {
			return nil, r.fail(ErrMalformed, start, "%v section of %d bytes extends past the end of the module", sec, size)
		}
		r.sec, r.end = sec, r.pos+int(size)
		switch sec {
		case SectionCustom:
			_, err = r.name()
			r.pos = r.end
		case SectionType:
			err = p.typeSection()
		case SectionImport:
			err = p.importSection()
		case SectionFunction:
			err = p.functionSection()
		case SectionTable:
			err = p.tableSection()
		case SectionMemory:
			err = p.memorySection()
		case SectionGlobal:
			err = p.globalSection()
		case SectionExport:
			p.exports.start = start
			err = p.exportSection()
		case SectionStart:
			err = r.fail(ErrInvalidContract, start, "start function not allowed")
		case SectionElement:
			err = p.elementSection()
		case SectionDataCount:
			p.hasDataCnt = true
			p.dataCount, err = r.u32()
		case SectionCode:
			err = p.codeSection()
		case SectionData:
			err = p.dataSection()
		}
		if err != nil {
			return nil, err
		}
		if r.pos != r.end {
			return nil, r.fail(ErrMalformed, r.pos, "%d unread bytes at the end of the %v section", r.end-r.pos, sec)
		}
	}
	r.sec, r.end = SectionModule, len(wasm)
	if err := p.finish(); err != nil {
		return nil, err
	}
	return p, nil
}

// finish makes the checks that need the whole module.
func (p *parser) finish() error {
	r := &p.r
	end := len(r.b)
	switch {
	case len(p.funcs) > 0 && !p.sawCode:
		return r.fail(ErrMalformed, end, "%d functions but no code section", len(p.funcs))
	case p.hasDataCnt && p.dataCount > 0 && !p.sawData:
		return r.fail(ErrMalformed, end, "data count section says %d segments but there is no data section", p.dataCount)
	case !p.hasMemory:
		return r.fail(ErrInvalidContract, end, "the module defines no memory")
	case p.memExport == nil:
		r.sec = SectionMemory
		return r.fail(ErrInvalidContract, p.memOff, "the memory is not exported")
	case p.argGlobal < 0:
		return r.fail(ErrInvalidContract, end, "no global A is exported")
	}
	r.sec = SectionExport
	a := p.globals[p.argGlobal]
	switch want := p.memKind.addrType(); {
	case a.mutable:
		return r.fail(ErrInvalidContract, p.argOff, "global A must be immutable")
	case a.typ != want:
		return r.fail(ErrInvalidContract, p.argOff, "global A has type %v, want %v for a %v memory", a.typ, want, p.memKind)
	case p.memMin == 0 || a.init > (p.memMin-1)*WasmPageSize:
		// memMin <= 2^48, so (memMin-1)*WasmPageSize cannot overflow.
		return r.fail(ErrInvalidContract, p.argOff,
			"argument buffer [%d, +%d) does not fit in the initial memory of %d pages", a.init, ArgBufferSize, p.memMin)
	}
	r.sec = SectionImport
	for _, im := range p.imps {
		var want FuncType
		ok := p.imports != nil
		if ok {
			want, ok = p.imports(p.memKind, string(im.name))
		}
		if !ok {
			return r.fail(ErrInvalidContract, im.off, "import env.%q is not provided by the host", im.name)
		}
		if t := p.types[im.typeIdx]; !t.is(want) {
			return r.fail(ErrInvalidContract, im.off, "import env.%q has type %v, want %v for a %v contract", im.name, t.export(), want, p.memKind)
		}
	}
	if p.rewritten {
		r.sec = SectionExport
		for i, g := range p.globals {
			if g.mutable && !g.rewrite {
				return r.fail(ErrInvalidContract, p.exports.entries, "mutable global %d is not exported as %q", i, GlobalExportName(uint32(i)))
			}
		}
	}
	return nil
}

func (p *parser) info() *Info {
	in := &Info{
		Memory:       p.memKind,
		MinPages:     p.memMin,
		MaxPages:     p.memMax,
		HasMax:       p.memHasMax,
		MemoryExport: string(p.memExport),
		ArgBuffer:    p.globals[p.argGlobal].init,
		HasInit:      p.hasInit,
		Exports:      make([]string, len(p.exportNames)),
		DataRanges:   slices.Clone(p.dataRanges),
	}
	for i, n := range p.exportNames {
		in.Exports[i] = string(n)
	}
	if len(p.imps) > 0 {
		names := make([]string, len(p.imps))
		for i, im := range p.imps {
			names[i] = string(im.name)
		}
		slices.Sort(names)
		in.Imports = slices.Compact(names)
	}
	mutable := 0
	for _, g := range p.globals {
		if g.mutable {
			mutable++
		}
	}
	if mutable > 0 {
		in.MutableGlobals = make([]Global, 0, mutable)
		for i, g := range p.globals {
			if g.mutable {
				in.MutableGlobals = append(in.MutableGlobals, Global{Index: uint32(i), Type: g.typ})
			}
		}
	}
	return in
}
