package wasmbin

import (
	"fmt"
	"strings"
)

// ValType is a WebAssembly value type, encoded as in the binary format.
type ValType byte

// The value types this package accepts.
const (
	I32       ValType = 0x7F
	I64       ValType = 0x7E
	F32       ValType = 0x7D
	F64       ValType = 0x7C
	V128      ValType = 0x7B
	FuncRef   ValType = 0x70
	ExternRef ValType = 0x6F
)

// String returns the text-format name of the type ("i32", "funcref"...).
func (t ValType) String() string {
	switch t {
	case I32:
		return "i32"
	case I64:
		return "i64"
	case F32:
		return "f32"
	case F64:
		return "f64"
	case V128:
		return "v128"
	case FuncRef:
		return "funcref"
	case ExternRef:
		return "externref"
	}
	return fmt.Sprintf("valtype(0x%02x)", byte(t))
}

// valid reports whether t is one of the value types this package accepts.
func (t ValType) valid() bool {
	switch t {
	case I32, I64, F32, F64, V128, FuncRef, ExternRef:
		return true
	}
	return false
}

// proposalValType reports whether b is a value or reference type byte of a
// proposal wasmstate does not support (typed function references, GC,
// exception handling), as opposed to a byte that is no type at all.
func proposalValType(b byte) bool {
	return b == 0x63 || b == 0x64 || (b >= 0x69 && b <= 0x6E) || (b >= 0x71 && b <= 0x74)
}

// FuncType is a function signature.
type FuncType struct {
	Params  []ValType
	Results []ValType
}

// String formats the signature as "(i32, i64) -> (i32)".
func (f FuncType) String() string {
	var b strings.Builder
	list := func(ts []ValType) {
		b.WriteByte('(')
		for i, t := range ts {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(t.String())
		}
		b.WriteByte(')')
	}
	list(f.Params)
	b.WriteString(" -> ")
	list(f.Results)
	return b.String()
}

// Equal reports whether f and g have the same parameters and results.
func (f FuncType) Equal(g FuncType) bool {
	return equalTypes(f.Params, g.Params) && equalTypes(f.Results, g.Results)
}

func equalTypes(a, b []ValType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// funcType is a signature as it lies in the module: params and results are
// sub-slices of the module bytes, one byte per value type (this package
// accepts no multi-byte value type). It costs no allocation.
type funcType struct {
	params, results []byte
}

func (f funcType) is(g FuncType) bool {
	return sameTypes(f.params, g.Params) && sameTypes(f.results, g.Results)
}

func sameTypes(enc []byte, ts []ValType) bool {
	if len(enc) != len(ts) {
		return false
	}
	for i := range enc {
		if ValType(enc[i]) != ts[i] {
			return false
		}
	}
	return true
}

func (f funcType) export() FuncType {
	conv := func(enc []byte) []ValType {
		ts := make([]ValType, len(enc))
		for i, b := range enc {
			ts[i] = ValType(b)
		}
		return ts
	}
	return FuncType{Params: conv(f.params), Results: conv(f.results)}
}

// MemoryKind says whether a memory is 32-bit (wasm32) or 64-bit (memory64).
type MemoryKind uint8

// Memory kinds. The value is the width of an address in bits.
const (
	Memory32 MemoryKind = 32
	Memory64 MemoryKind = 64
)

// String returns "wasm32" or "wasm64".
func (k MemoryKind) String() string {
	switch k {
	case Memory32:
		return "wasm32"
	case Memory64:
		return "wasm64"
	}
	return fmt.Sprintf("MemoryKind(%d)", uint8(k))
}

// addrType is the value type of an address in a memory of kind k.
func (k MemoryKind) addrType() ValType {
	if k == Memory64 {
		return I64
	}
	return I32
}

// Global is a mutable global defined by a module.
type Global struct {
	// Index is the global's index in the module's global index space. As
	// contracts may not import globals, it is also its position in the
	// global section.
	Index uint32
	// Type is I32, I64, F32 or F64: the only types of mutable globals
	// wasmstate persists.
	Type ValType
}

// ExportName returns the name under which [Rewrite] exports the global.
func (g Global) ExportName() string { return GlobalExportName(g.Index) }
