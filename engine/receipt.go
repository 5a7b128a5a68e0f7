package engine

import "github.com/wasmstate/wasmstate/merkle"

// Receipt is what a successful top-level call returns.
type Receipt struct {
	// Data is the called function's return value.
	Data []byte
	// GasSpent and GasLimit are the call's gas figures.
	GasSpent, GasLimit uint64
	// Events are the events of the call, in emission order; events of
	// failed inter-contract calls are kept with Reverted set.
	Events []Event
	// CallTree is the tree of call frames, the top-level call at the root.
	CallTree *CallNode
}

// Event is an event a contract emitted.
type Event struct {
	Source   merkle.ContractID
	Topic    string
	Data     []byte
	Reverted bool
}

// CallNode is one call frame in a receipt's call tree.
type CallNode struct {
	Contract  merkle.ContractID
	Function  string
	GasLimit  uint64
	GasSpent  uint64
	MemoryLen uint64 // the contract's memory length when the frame ended
	Failed    bool
	Children  []*CallNode
}
