package pagestore

// Backend is the ordered key-value store under a Store. It is small on
// purpose so that another engine (pebble, a remote store) can be added
// without touching the Store. Implementations must be safe for concurrent
// use.
type Backend interface {
	// Get returns the value stored under key; the caller may keep and
	// modify it. A missing key gives an error matching ErrNotFound; a value
	// the backend knows to be damaged gives one matching ErrCorrupt.
	Get(key []byte) ([]byte, error)
	// Has reports whether a value is stored under key.
	Has(key []byte) (bool, error)
	// NewBatch returns an empty batch for Write.
	NewBatch() WriteBatch
	// Write applies the batch atomically: after a crash either all of it
	// or none of it is visible. With sync, Write returns only once the
	// batch is durable. b must come from this backend's NewBatch.
	Write(b WriteBatch, sync bool) error
	// Iterate calls fn for every key starting with prefix, in ascending
	// key order, over a snapshot taken when Iterate starts: writes made
	// meanwhile (including by fn) are not seen. fn must not keep key or
	// value after it returns. An error from fn stops the iteration and is
	// returned unchanged.
	Iterate(prefix []byte, fn func(key, value []byte) error) error
	// Close releases the backend. Later calls fail with ErrClosed.
	Close() error
}

// WriteBatch collects puts and deletes for Backend.Write. It copies the
// keys and values it is given.
type WriteBatch interface {
	// Put stages setting key to value.
	Put(key, value []byte)
	// Delete stages removing key; removing a missing key is not an error.
	Delete(key []byte)
	// Len is the number of operations in the batch.
	Len() int
	// Size is the approximate number of bytes the batch holds.
	Size() int
	// Reset empties the batch for reuse.
	Reset()
}
