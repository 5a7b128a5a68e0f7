package merkle

// PageSize is the size in bytes of a page of linear memory, the unit that is
// hashed, stored, tracked for writes and proven. It equals the granularity at
// which the OS reports written pages; see SPEC.md §2 for the measurements
// behind the choice.
const PageSize = 4096

// PageShift is log2(PageSize).
const PageShift = 12

// MemoryTreeHeight is the height of every memory tree: 2^30 leaves of
// PageSize bytes cover 4 TiB, enough for a full wasm32 memory and for the
// largest wasm64 memory wasmstate stores.
const MemoryTreeHeight = 30

// MaxPages is the number of leaves of a memory tree.
const MaxPages = uint64(1) << MemoryTreeHeight

// MaxMemoryBytes is the largest memory length a contract leaf may carry.
const MaxMemoryBytes = MaxPages * PageSize

// StateTreeHeight is the maximal depth of the state tree: one level per bit
// of a state key.
const StateTreeHeight = 256

// MaxProofRange is the largest byte range one range proof may prove (16 MiB).
// It bounds what a verifier allocates for a proof it is handed.
const MaxProofRange = 16 << 20

// Limits of a multiproof (SPEC.md §7.6, §12). They bound what a verifier
// allocates for a proof it is handed.
const (
	// MaxMultiIDs is the largest number of contract ids one multiproof (or
	// one state part of it) may name.
	MaxMultiIDs = 1 << 16
	// MaxMultiRanges is the largest number of byte ranges one multiproof
	// may prove.
	MaxMultiRanges = 1 << 16
	// MaxMultiPages is the largest number of distinct pages one multiproof
	// may carry, over all its memory parts (and so in any one part).
	MaxMultiPages = 1 << 16
	// MaxMultiBytes is the largest total length of the byte ranges one
	// multiproof may prove (256 MiB, the bytes of MaxMultiPages pages):
	// overlapping ranges cannot make a small proof expand into more.
	MaxMultiBytes = MaxMultiPages * PageSize
)
