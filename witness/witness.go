// Package witness is the format of a block witness (SPEC.md §17): what a
// session read of the state, proven against the root it started from,
// with the operations it ran and what they returned. Anyone holding only
// the pre-root checks a witness with this package (pure Go: merkle and
// BLAKE3), and re-executes it with engine.Replay to learn whether the
// claimed post-root followed.
//
// A witness carries:
//   - a state multiproof (SPEC.md §7.6) of every contract id the session
//     looked up: their leaves, or their absence;
//   - for each stored contract the session loaded: its globals and owner
//     bytes (checked against the leaf's hashes) and a memory multiproof of
//     every page the session read or wrote, with its contents as of the
//     pre-root;
//   - optionally the code of the contracts it ran (code is large and rarely
//     changes, so by default the replayer gets it from elsewhere);
//   - the operations in order (calls, deploys, metadata changes) and, for
//     each, what it returned: status, gas spent, output, and a digest of
//     its events and fed data.
package witness

import (
	"errors"
	"fmt"

	"github.com/wasmstate/wasmstate/merkle"
)

// Version is the witness format version (the byte after the magic).
const Version = 1

// Magic starts every encoded witness.
const Magic = "WSWT"

// Errors. Every error of this package and of engine.Replay about a witness
// matches exactly one of them with errors.Is.
var (
	// ErrMalformed: the bytes are not a canonical witness encoding.
	ErrMalformed = errors.New("witness: malformed")
	// ErrInvalid: the witness does not prove what it says against its
	// pre-root (a proof, a globals or owner blob, a code blob, a root).
	ErrInvalid = errors.New("witness: invalid")
	// ErrIncomplete: re-execution needed a page, a contract or code the
	// witness does not hold.
	ErrIncomplete = errors.New("witness: incomplete")
	// ErrMismatch: re-execution gave another result than the witness
	// claims (an operation's status, gas, output or digest, or the
	// post-root).
	ErrMismatch = errors.New("witness: result mismatch")
)

// Limits of the encoding, so that a decoder's memory is bounded.
const (
	MaxMetadata     = 256     // metadata entries
	MaxMetadataKey  = 256     // bytes
	MaxMetadataVal  = 65536   // bytes
	MaxOps          = 1 << 20 // operations
	MaxFunctionName = 1024    // bytes
	MaxBlob         = 1 << 26 // bytes of one argument, output, owner, globals or code
)

// Meta is one metadata entry (SPEC.md §10.3 "hd").
type Meta struct {
	Key   string
	Value []byte
}

// Contract is what the witness holds about one stored contract the session
// loaded. Its leaf comes from the state proof.
type Contract struct {
	// Globals is the globals encoding (SPEC.md §5.1) as of the pre-root.
	Globals []byte
	// Owner is the owner bytes.
	Owner []byte
	// Memory proves every page the session read or wrote, as of the
	// pre-root. Pages at or past the memory's length are zero there; they
	// are included when the session wrote them after growing the memory.
	Memory merkle.MemoryMultiProof

	// The globals' and owner's hashes as Check verified them, for Expand.
	globalsHash, ownerHash merkle.Hash
	checked                bool
}

// OpKind tells what an operation was.
type OpKind uint8

// Operation kinds.
const (
	OpCall     OpKind = 1
	OpDeploy   OpKind = 2
	OpMetadata OpKind = 3
	// OpCommit marks a commit of the session: state is unchanged by it,
	// but the session's ephemeral data is cleared there.
	OpCommit OpKind = 4
)

func (k OpKind) String() string {
	switch k {
	case OpCall:
		return "call"
	case OpDeploy:
		return "deploy"
	case OpMetadata:
		return "metadata"
	case OpCommit:
		return "commit"
	}
	return fmt.Sprintf("op(%d)", uint8(k))
}

// Status is how an operation ended.
type Status uint8

// Statuses.
const (
	// StatusOK: the call or deploy succeeded.
	StatusOK Status = 0
	// StatusFailed: the call ran and failed (a trap, out of gas, a panic
	// of the contract): gas was spent, the state is as before.
	StatusFailed Status = 1
	// StatusRejected: the engine refused the operation before running it
	// (no such contract, bad input, a contract id taken).
	StatusRejected Status = 2
)

func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusFailed:
		return "failed"
	case StatusRejected:
		return "rejected"
	}
	return fmt.Sprintf("status(%d)", uint8(s))
}

// Op is one operation of the session, with its result.
type Op struct {
	Kind OpKind
	// Contract: the called contract (OpCall), the deployed contract's id
	// (OpDeploy; zero when rejected before an id was chosen).
	Contract merkle.ContractID
	Function string // OpCall
	Arg      []byte // OpCall: the argument; OpDeploy: the init argument
	GasLimit uint64 // OpCall, OpDeploy
	Feed     bool   // OpCall: output was streamed with "feed"

	// OpDeploy.
	CodeHash merkle.Hash
	Owner    []byte
	Nonce    uint64
	// ExplicitID: the deploy named its id (DeployOptions.ID = &Contract).
	ExplicitID bool

	// OpMetadata: the session's metadata key set to Value (deleted when
	// Value is empty).
	Key   string
	Value []byte

	// Result (OpCall, OpDeploy).
	Status   Status
	GasSpent uint64
	Output   []byte      // OpCall with StatusOK: the returned bytes
	Digest   merkle.Hash // ResultDigest of the events and fed chunks
}

// Witness is a decoded block witness.
type Witness struct {
	PreRoot, PostRoot merkle.Hash
	// Metadata is the session's metadata when it opened, keys ascending.
	Metadata []Meta
	// State proves the leaf or the absence of every id the session looked
	// up, under PreRoot.
	State merkle.StateMultiProof
	// Contracts maps each stored contract the session loaded (present in
	// State) to its globals, owner and pages.
	Contracts map[merkle.ContractID]*Contract
	// Code holds module bytes by code hash, when the witness carries them.
	Code map[merkle.Hash][]byte
	// Ops are the operations in order.
	Ops []Op
}

// PageCount is the number of pages the witness proves, over all contracts.
func (w *Witness) PageCount() int {
	n := 0
	for _, c := range w.Contracts {
		n += len(c.Memory.Pages)
	}
	return n
}
