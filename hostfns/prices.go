package hostfns

// Gas prices of host functions (SPEC.md §11 quotes this table). Execution
// is priced by wasmtime fuel: one unit per wasm instruction.
const (
	// GasHostCall is the base price of every host function call.
	GasHostCall = 1700
	// GasPerByte is charged per byte a host function copies in or out
	// (arguments, names, results, event data, metadata, feed data).
	GasPerByte = 1
	// GasEventBase is charged per event on top of its bytes.
	GasEventBase = 1200
	// GasEventByte is charged per byte of an event's topic and data.
	GasEventByte = 10
	// GasQueryByte is charged per byte of host-query input, on top of the
	// query's own price.
	GasQueryByte = 5
	// GasCallBase is the base price of an inter-contract call.
	GasCallBase = 15000
	// GasEphemeralByte is charged per byte of ephemeral key and value set.
	GasEphemeralByte = 5
)
