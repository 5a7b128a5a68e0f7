package merkle

// emptyMemory[h] is the hash of a memory subtree of height h whose pages are
// all zero: emptyMemory[0] is the hash of the zero page, and
// emptyMemory[h+1] = H_memory_node(emptyMemory[h] || emptyMemory[h]).
// Because the zero page hashes to emptyMemory[0], a memory tree's root
// depends only on the memory's contents, not on which pages were written.
var emptyMemory [MemoryTreeHeight + 1]Hash

// EmptyState returns the hash of the empty state tree and of every empty subtree
// of it: 32 zero bytes, a value no BLAKE3 output is expected to take.
func EmptyState() Hash { return Hash{} }

func initEmpty() {
	var zero [PageSize]byte
	emptyMemory[0] = DomainPage.Sum(zero[:])
	for h := 1; h <= MemoryTreeHeight; h++ {
		emptyMemory[h] = DomainMemoryNode.Sum2(emptyMemory[h-1], emptyMemory[h-1])
	}
}

// EmptyMemory returns the hash of an all-zero memory subtree of the given
// height (0 = one page, MemoryTreeHeight = a whole memory). It panics if
// height is out of range; callers pass constants or loop indices.
func EmptyMemory(height int) Hash { return emptyMemory[height] }

// EmptyPageHash is the hash of the all-zero page. The store never holds it.
func EmptyPageHash() Hash { return emptyMemory[0] }

// EmptyMemoryRoot is the root of a memory tree whose pages are all zero.
func EmptyMemoryRoot() Hash { return emptyMemory[MemoryTreeHeight] }
