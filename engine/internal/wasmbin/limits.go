package wasmbin

// Limits bounds the size of a module. A module exceeding any of them is
// rejected with [ErrLimit] before anything compiles it. A zero field means
// the value in [DefaultLimits] (as does a negative ModuleBytes).
type Limits struct {
	// ModuleBytes is the largest module, in bytes.
	ModuleBytes int
	// Types is the largest number of entries in the type section.
	Types uint32
	// Imports is the largest number of imports.
	Imports uint32
	// Functions is the largest number of functions the module defines
	// (imports not included).
	Functions uint32
	// FunctionBodyBytes is the largest function body, in bytes, as encoded
	// in the code section (local declarations included).
	FunctionBodyBytes uint32
	// Locals is the largest number of locals one function may declare: the
	// sum of the counts of its local declarations, parameters not included.
	Locals uint32
	// Globals is the largest number of globals.
	Globals uint32
	// Exports is the largest number of exports (before [Rewrite] adds its
	// own).
	Exports uint32
	// Tables is the largest number of tables.
	Tables uint32
	// TableElements is the largest sum, over all tables, of their initial
	// sizes in elements.
	TableElements uint64
	// MemoryPages is the largest initial memory size, in 64 KiB pages.
	MemoryPages uint64
	// ElementSegments is the largest number of element segments.
	ElementSegments uint32
	// DataSegments is the largest number of data segments.
	DataSegments uint32
}

// DefaultLimits returns the limits used for zero fields of [Limits]. They
// leave ample room for contracts built with the Dusk SDK (typically under
// 512 KiB, a few hundred functions, one table and a handful of globals and
// data segments) while keeping what a deploy can make the host decode and
// compile small.
func DefaultLimits() Limits {
	return Limits{
		ModuleBytes:       4 << 20,
		Types:             4096,
		Imports:           256,
		Functions:         16384,
		FunctionBodyBytes: 1 << 20,
		Locals:            16384,
		Globals:           1024,
		Exports:           1024,
		Tables:            4,
		TableElements:     65536,
		MemoryPages:       4096,
		ElementSegments:   1024,
		DataSegments:      1024,
	}
}

// withDefaults returns l with its zero fields set from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	def := func(v *uint32, dv uint32) {
		if *v == 0 {
			*v = dv
		}
	}
	if l.ModuleBytes <= 0 {
		l.ModuleBytes = d.ModuleBytes
	}
	def(&l.Types, d.Types)
	def(&l.Imports, d.Imports)
	def(&l.Functions, d.Functions)
	def(&l.FunctionBodyBytes, d.FunctionBodyBytes)
	def(&l.Locals, d.Locals)
	def(&l.Globals, d.Globals)
	def(&l.Exports, d.Exports)
	def(&l.Tables, d.Tables)
	def(&l.ElementSegments, d.ElementSegments)
	def(&l.DataSegments, d.DataSegments)
	if l.TableElements == 0 {
		l.TableElements = d.TableElements
	}
	if l.MemoryPages == 0 {
		l.MemoryPages = d.MemoryPages
	}
	return l
}
