// Package wasmbin reads, checks and rewrites WebAssembly binaries at deploy,
// before anything compiles them.
//
// It is deliberately small and strict. [Validate] decodes every section of a
// module far enough to prove that it has the shape of a wasmstate contract
// (the piecrust ABI: one defined and exported 32- or 64-bit memory, an
// exported constant global A locating the 64 KiB argument buffer, exported
// functions of type (i32) -> i32, imports only from module "env" and only
// from the set the host provides, no start function) and that it stays
// within the caller's [Limits]. [Rewrite] then exports every mutable global
// the module defines, so that an embedder that can only reach exported
// globals can save and restore them as part of contract state.
//
// Every length and index read from the input is bounds-checked; malformed
// input yields a [*ValidationError] matching one of the sentinel errors
// ([ErrMalformed], [ErrUnsupported], [ErrInvalidContract], [ErrLimit]),
// never a panic. The package does not decode instructions inside function
// bodies: which instruction-level proposals (tail calls, SIMD, threads' atomics
// and so on) are accepted is decided by the engine configuration of the
// compiler that runs after this package.
//
// The package uses only the standard library.
package wasmbin
