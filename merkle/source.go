package merkle

// Source resolves stored tree nodes by hash. The page store implements it;
// trees call it lazily, only for nodes they walk.
type Source interface {
	// MemoryNode returns the children of the inner memory-tree node h.
	MemoryNode(h Hash) (left, right Hash, err error)
	// StateNode returns the stored encoding of the state-tree node h:
	// 64 bytes (left || right) for an inner node, ContractLeafSize bytes
	// for a contract leaf.
	StateNode(h Hash) ([]byte, error)
}

// Sink receives the nodes a tree created since its last commit, so that a
// commit writes only what changed.
type Sink interface {
	PutMemoryNode(h, left, right Hash)
	PutStateNode(h Hash, enc []byte)
}

// MapSource is an in-memory Source and Sink, for tests and tools.
type MapSource struct {
	Memory map[Hash][2]Hash
	State  map[Hash][]byte
}

// NewMapSource returns an empty MapSource.
func NewMapSource() *MapSource {
	return &MapSource{Memory: map[Hash][2]Hash{}, State: map[Hash][]byte{}}
}

// MemoryNode implements Source.
func (m *MapSource) MemoryNode(h Hash) (Hash, Hash, error) {
	n, ok := m.Memory[h]
	if !ok {
		return Hash{}, Hash{}, &MissingNodeError{Hash: h}
	}
	return n[0], n[1], nil
}

// StateNode implements Source.
func (m *MapSource) StateNode(h Hash) ([]byte, error) {
	n, ok := m.State[h]
	if !ok {
		return nil, &MissingNodeError{Hash: h}
	}
	return n, nil
}

// PutMemoryNode implements Sink.
func (m *MapSource) PutMemoryNode(h, l, r Hash) { m.Memory[h] = [2]Hash{l, r} }

// PutStateNode implements Sink.
func (m *MapSource) PutStateNode(h Hash, enc []byte) {
	m.State[h] = append([]byte(nil), enc...)
}
