package engine

// Storage prices (SPEC.md §11 quotes them with the host-function prices of
// hostfns/prices.go; TestGasPricesAgree keeps the three in step). Execution costs one unit of wasmtime fuel per wasm
// instruction.
const (
	// GasPageWrite is charged per 4 KiB page whose contents changed, each
	// time the engine collects a frame's writes: before a nested call and
	// when the frame ends. A page rewritten with the bytes it held is not
	// charged; one changed both before and after a nested call is charged
	// twice (SPEC.md §11; TestGasTranscript's write_pages and call_between).
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
