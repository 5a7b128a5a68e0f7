//go:build linux && cgo

package engine

// #include <malloc.h>
import "C"

// trimCHeap returns the C heap's free memory to the OS: wasmtime allocates
// instances, stores and compiled code with malloc, and glibc keeps what
// they free in its arenas unless asked.
func trimCHeap() { C.malloc_trim(0) }
