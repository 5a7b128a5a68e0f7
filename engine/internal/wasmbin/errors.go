package wasmbin

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error returned by this package is a
// [*ValidationError] that matches exactly one of them with errors.Is.
var (
	// ErrMalformed reports bytes that are not a well-formed, valid
	// WebAssembly module as far as this package checks: bad magic or
	// version, truncated or over-long LEB128, sections out of order,
	// out-of-range indices, mismatched counts or types.
	ErrMalformed = errors.New("wasmbin: malformed module")
	// ErrUnsupported reports a module that uses a WebAssembly feature
	// wasmstate does not accept: shared memory, custom page sizes, GC or exception-handling types, extended constant
	// expressions, mutable globals whose value cannot be persisted.
	ErrUnsupported = errors.New("wasmbin: unsupported feature")
	// ErrInvalidContract reports a valid module that does not have the shape
	// of a contract: memory missing, imported or not exported, global A
	// missing or misplaced, an export or import of the wrong type, a start
	// function, a reserved export name.
	ErrInvalidContract = errors.New("wasmbin: invalid contract")
	// ErrLimit reports a module exceeding one of the configured [Limits].
	ErrLimit = errors.New("wasmbin: limit exceeded")
)

// SectionID identifies a section of a module (the byte that starts it).
type SectionID byte

// Section identifiers, as in the binary format.
const (
	SectionCustom    SectionID = 0
	SectionType      SectionID = 1
	SectionImport    SectionID = 2
	SectionFunction  SectionID = 3
	SectionTable     SectionID = 4
	SectionMemory    SectionID = 5
	SectionGlobal    SectionID = 6
	SectionExport    SectionID = 7
	SectionStart     SectionID = 8
	SectionElement   SectionID = 9
	SectionCode      SectionID = 10
	SectionData      SectionID = 11
	SectionDataCount SectionID = 12
	// SectionModule is not a section: it marks errors in the module header,
	// in the framing of sections, or in checks that span several sections.
	SectionModule SectionID = 0xFF
)

var sectionNames = [...]string{
	"custom", "type", "import", "function", "table", "memory", "global",
	"export", "start", "element", "code", "data", "data count",
}

// String returns the section's name as used in the specification
// ("type", "data count"...), "module" for SectionModule, or "section N"
// for an unknown id.
func (s SectionID) String() string {
	if int(s) < len(sectionNames) {
		return sectionNames[s]
	}
	if s == SectionModule {
		return "module"
	}
	return fmt.Sprintf("section %d", byte(s))
}

// ValidationError describes why a module was rejected.
type ValidationError struct {
	// Section is the section being decoded or checked.
	Section SectionID
	// Offset is the byte offset in the module where the fault was found.
	Offset int
	// Reason says what is wrong, in words.
	Reason string
	// Err is the sentinel the error matches: ErrMalformed, ErrUnsupported,
	// ErrInvalidContract or ErrLimit.
	Err error
}

// Error returns the sentinel's text, the section, the offset and the reason.
func (e *ValidationError) Error() string {
	return fmt.Sprintf("%v: %v section at byte %d: %s", e.Err, e.Section, e.Offset, e.Reason)
}

// Unwrap returns the sentinel, so that errors.Is(err, ErrMalformed) and
// the like work.
func (e *ValidationError) Unwrap() error { return e.Err }
