package engine

// Storage prices (SPEC.md §11 quotes them with the host-function prices of
// hostfns/prices.go). Execution costs one unit of wasmtime fuel per wasm
// instruction.
const (
	// GasPageWrite is charged per 4 KiB page a call frame writes that the
	// session had not yet changed since its last commit... per frame: the
	// first write of a page in a frame.
	GasPageWrite = 2000
	// GasMemoryGrow is charged per 64 KiB wasm page of memory growth.
	GasMemoryGrow = 10000
	// CalleeGasPercent is the share of its remaining gas a caller forwards
	// when it gives no explicit limit (or one above what it has left).
	CalleeGasPercent = 93
)

// calleeLimit computes the gas limit of an inter-contract call.
func calleeLimit(explicit, remaining uint64) uint64 {
	if explicit > 0 && explicit < remaining {
		return explicit
	}
	return remaining / 100 * CalleeGasPercent
}
