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
	GasPageWrite = 4000
	// GasMemoryGrow is charged per 64 KiB wasm page of memory growth, in
	// the memory.grow path before the memory grows (growhook.go): a growth
	// the frame cannot pay fails it out of gas with nothing mapped.
	GasMemoryGrow = 10000
	// GasGrowHook is charged for every memory.grow executed, whether it
	// succeeds or returns -1: the price of the host call that meters it.
	GasGrowHook = 1700
	// GasFrameFailure is charged for every call frame that fails after it
	// started (a trap, a panic, running out of gas): unwinding a trap and
	// reverting a frame cost the host as much as thousands of instructions
	// (BenchmarkGasCalibration). A top-level call's failure is added to
	// its gas spent (up to its limit); a nested one's is charged to the
	// caller, on top of the callee's limit.
	GasFrameFailure = 15000
	// GasStackOverflow is charged, on top of GasFrameFailure, when a frame
	// fails by exhausting the wasm stack: wasmtime unwinds and records
	// every frame of it (≈ 2 ms for the 512 KiB stack).
	GasStackOverflow = 2_500_000
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
