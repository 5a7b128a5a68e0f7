// Package hostfns implements the host functions contracts import from
// module "env": the piecrust contract ABI (so contracts built with Dusk's
// SDK run unchanged) plus wasmstate's own ephemeral-data imports.
//
// The functions run against Env, a small interface the engine implements
// for the call frame that is running; this package never imports the
// engine. Every pointer and length a contract passes is bounds-checked
// against the memory's current length before it is used.
package hostfns

import "github.com/bytecodealliance/wasmtime-go/v39"

// Kind is the memory kind of the importing module: pointers are i32 in
// wasm32 modules and i64 in wasm64 (memory64) modules; lengths, counts and
// return codes stay i32, gas values are i64 in both.
type Kind uint8

// Module kinds.
const (
	Wasm32 Kind = 32
	Wasm64 Kind = 64
)

// ValType is a wasm value type byte: 0x7F i32, 0x7E i64.
type ValType = byte

const (
	i32 ValType = 0x7F
	i64 ValType = 0x7E
	ptr ValType = 0 // i32 in wasm32 modules, i64 in wasm64 modules
)

// Import is one host function of the ABI.
type Import struct {
	Name    string
	Params  []ValType // ptr entries depend on the module kind
	Results []ValType
	Doc     string
}

// ArgBufSize is the size of a contract's argument buffer.
const ArgBufSize = 65536

// Imports is the host ABI, in the order SPEC.md §10 lists it.
var Imports = []Import{
	{"c", []ValType{ptr, ptr, i32, i32, i64}, []ValType{i32}, "call another contract"},
	{"hq", []ValType{ptr, i32, i32}, []ValType{i32}, "host query"},
	{"hd", []ValType{ptr, i32}, []ValType{i32}, "session metadata"},
	{"emit", []ValType{ptr, i32, i32}, nil, "emit an event"},
	{"feed", []ValType{i32}, nil, "stream bytes to the host"},
	{"caller", nil, []ValType{i32}, "immediate caller"},
	{"callstack", nil, []ValType{i32}, "all callers"},
	{"limit", nil, []ValType{i64}, "gas limit of the frame"},
	{"spent", nil, []ValType{i64}, "gas spent in the frame"},
	{"panic", []ValType{i32}, nil, "fail with a message"},
	{"owner", []ValType{ptr}, []ValType{i32}, "owner of a contract"},
	{"self_id", nil, nil, "own contract id"},
	{"hdebug", []ValType{i32}, nil, "debug message"},
	{"ws_eph_set", []ValType{ptr, i32, i32}, nil, "set ephemeral data"},
	{"ws_eph_get", []ValType{ptr, i32}, []ValType{i32}, "get ephemeral data"},
	{"ws_eph_del", []ValType{ptr, i32}, []ValType{i32}, "delete ephemeral data"},
}

// Signature returns the concrete parameter and result types of imp in a
// module of kind k.
func (imp Import) Signature(k Kind) (params, results []ValType) {
	params = make([]ValType, len(imp.Params))
	for i, p := range imp.Params {
		if p == ptr {
			p = i32
			if k == Wasm64 {
				p = i64
			}
		}
		params[i] = p
	}
	return params, imp.Results
}

func valKinds(ts []ValType) []*wasmtime.ValType {
	out := make([]*wasmtime.ValType, len(ts))
	for i, t := range ts {
		if t == i64 {
			out[i] = wasmtime.NewValType(wasmtime.KindI64)
		} else {
			out[i] = wasmtime.NewValType(wasmtime.KindI32)
		}
	}
	return out
}
