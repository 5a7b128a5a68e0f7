package wasmbin

import (
	"math"
	"strconv"
)

// ExportPrefix starts the names of the exports [Rewrite] adds. [Validate]
// rejects modules that export any name starting with it.
const ExportPrefix = "__wasmstate_"

// GlobalExportName returns the name under which [Rewrite] exports the
// global of the given index: "__wasmstate_g" and the index in decimal.
func GlobalExportName(index uint32) string {
	return string(appendGlobalExportName(nil, index))
}

func appendGlobalExportName(b []byte, index uint32) []byte {
	b = append(b, ExportPrefix+"g"...)
	return strconv.AppendUint(b, uint64(index), 10)
}

// Rewrite validates wasm like [Validate] and returns a module that also
// exports every mutable global it defines, global N under the name
// [GlobalExportName](N), so that an embedder reaching globals only through
// exports can save and restore them. Only the export section changes: its
// size and count are re-encoded and the new exports follow the existing ones;
// every other byte is kept. When the module defines no mutable global,
// Rewrite returns wasm itself. The returned Info is that of the input, which
// [ValidateRewritten] also returns for the output.
func Rewrite(wasm []byte, cfg *Config) ([]byte, *Info, error) {
	p, err := parse(wasm, cfg, false)
	if err != nil {
		return nil, nil, err
	}
	info := p.info()
	if len(info.MutableGlobals) == 0 {
		return wasm, info, nil
	}
	// A valid contract exports its memory, so the export section exists.
	ex := p.exports
	added := 0
	for _, g := range info.MutableGlobals {
		added += exportEntrySize(g.Index)
	}
	count := uint64(ex.count) + uint64(len(info.MutableGlobals))
	content := uint64(lenULEB(count)) + uint64(ex.end-ex.entries) + uint64(added)
	if count > math.MaxUint32 || content > math.MaxUint32 {
		return nil, nil, &ValidationError{Section: SectionExport, Offset: ex.start, Err: ErrLimit,
			Reason: "rewritten export section too large"}
	}
	out := make([]byte, 0, len(wasm)+int(content)-(ex.end-ex.start)+1+lenULEB(content))
	out = append(out, wasm[:ex.start]...)
	out = append(out, byte(SectionExport))
	out = appendULEB(out, content)
	out = appendULEB(out, count)
	out = append(out, wasm[ex.entries:ex.end]...)
	for _, g := range info.MutableGlobals {
		out = appendULEB(out, uint64(len(ExportPrefix)+1+decimalLen(g.Index)))
		out = appendGlobalExportName(out, g.Index)
		out = append(out, 0x03)
		out = appendULEB(out, uint64(g.Index))
	}
	out = append(out, wasm[ex.end:]...)
	return out, info, nil
}

// exportEntrySize is the encoded size of the export Rewrite adds for global
// index.
func exportEntrySize(index uint32) int {
	n := len(ExportPrefix) + 1 + decimalLen(index)
	return lenULEB(uint64(n)) + n + 1 + lenULEB(uint64(index))
}

func decimalLen(v uint32) int {
	n := 1
	for v >= 10 {
		v /= 10
		n++
	}
	return n
}

// rewriteSlack bounds how many bytes Rewrite adds to a module with at most
// globals globals: one export entry per global, plus the growth of the
// section's size and count.
func rewriteSlack(globals uint32) uint64 {
	return 8 + uint64(globals)*uint64(exportEntrySize(math.MaxUint32))
}
