package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/bytecodealliance/wasmtime-go/v39"
	"github.com/zeebo/blake3"

	"github.com/wasmstate/wasmstate/engine/internal/instrument"
	"github.com/wasmstate/wasmstate/engine/internal/wasmbin"
	"github.com/wasmstate/wasmstate/hostfns"
	"github.com/wasmstate/wasmstate/merkle"
)

// module is a validated, compiled contract module.
type module struct {
	codeHash merkle.Hash
	wt       *wasmtime.Module
	info     *wasmbin.Info
	kind     merkle.MemoryKind
}

// importConfig is the validation config: the host ABI of hostfns.
var importConfig = func() *wasmbin.Config {
	m := [2]map[string]wasmbin.FuncType{{}, {}}
	for _, imp := range hostfns.Imports {
		for i, k := range []hostfns.Kind{hostfns.Wasm32, hostfns.Wasm64} {
			p, r := imp.Signature(k)
			m[i][imp.Name] = wasmbin.FuncType{Params: toValTypes(p), Results: toValTypes(r)}
		}
	}
	return &wasmbin.Config{Imports: wasmbin.ImportMaps(m[0], m[1])}
}()

func toValTypes(b []byte) []wasmbin.ValType {
	out := make([]wasmbin.ValType, len(b))
	for i, t := range b {
		out[i] = wasmbin.ValType(t)
	}
	return out
}

// validate checks a contract module against the ABI and the limits.
func validate(code []byte) (*wasmbin.Info, error) {
	info, err := wasmbin.Validate(code, importConfig)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidModule, err)
	}
	return info, nil
}

// moduleCacheKey is the blob key of a module's compiled code: it depends on
// the code, the wasmtime version and the engine configuration, so a
// serialized module is never loaded by an engine that did not produce it.
func moduleCacheKey(codeHash merkle.Hash) []byte {
	k := []byte("module\x00" + WasmtimeVersion + "\x00" + configFingerprint + "\x00")
	return append(k, codeHash[:]...)
}

// module returns the compiled module of code (whose hash is codeHash):
// from the in-memory LRU, else from the serialized code in the store,
// else by validating and compiling it (and storing the result).
func (e *Engine) module(code []byte, codeHash merkle.Hash) (*module, error) {
	if m, ok := e.modules.Get(codeHash); ok {
		return m, nil
	}
	e.compile.Lock()
	defer e.compile.Unlock()
	if m, ok := e.modules.Get(codeHash); ok {
		return m, nil
	}
	rewritten, info, err := wasmbin.Rewrite(code, importConfig)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidModule, err)
	}
	key := moduleCacheKey(codeHash)
	var wm *wasmtime.Module
	if blob, err := e.store.Blob(key); err == nil && len(blob) > 32 {
		// Deserializing is only safe for bytes wasmtime produced: check
		// they are the ones this engine stored before trusting them.
		if sum := blake3.Sum256(blob[32:]); bytes.Equal(sum[:], blob[:32]) {
			wm, err = wasmtime.NewModuleDeserialize(e.wt, blob[32:])
			if err != nil {
				e.log.Warn("compiled-code cache entry unusable; recompiling", "code", codeHash.String(), "err", err)
				wm = nil
			}
		} else {
			e.log.Warn("compiled-code cache entry corrupt; recompiling", "code", codeHash.String())
		}
	}
	if wm == nil {
		// Compiled with growth priced in the memory.grow path (growhook.go);
		// the stored code and its hash stay the deployed bytes.
		compiled, sites, err := instrument.MemoryGrow(rewritten)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidModule, err)
		}
		if sites > 0 {
			// The rewrite adds a type and an import: the module must be
			// valid before them, not only after (an index out of range
			// could come into range).
			if err := wasmtime.ModuleValidate(e.wt, rewritten); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrInvalidModule, err)
			}
		}
		wm, err = wasmtime.NewModule(e.wt, compiled)
		if err != nil {
			return nil, fmt.Errorf("%w: compile: %w", ErrInvalidModule, err)
		}
		if ser, err := wm.Serialize(); err == nil {
			sum := blake3.Sum256(ser)
			if err := e.store.PutBlob(key, append(sum[:], ser...)); err != nil {
				e.log.Warn("cannot store compiled code", "code", codeHash.String(), "err", err)
			}
		}
	}
	kind := merkle.Memory32
	if info.Memory == wasmbin.Memory64 {
		kind = merkle.Memory64
	}
	m := &module{codeHash: codeHash, wt: wm, info: info, kind: kind}
	e.modules.Add(codeHash, m)
	return m, nil
}

// storedModule returns the compiled module of stored code codeHash,
// reading the code only when the module is not cached.
func (e *Engine) storedModule(codeHash merkle.Hash) (*module, error) {
	if m, ok := e.modules.Get(codeHash); ok {
		return m, nil
	}
	code, err := e.store.Code(codeHash)
	if err != nil {
		return nil, err
	}
	return e.module(code, codeHash)
}

// DeployOptions configure a deploy.
type DeployOptions struct {
	// Owner is the owner's bytes (opaque to the engine; Dusk uses a public
	// key). At most MaxOwnerBytes.
	Owner []byte
	// InitArg is passed to the contract's init export, if it has one.
	InitArg []byte
	// GasLimit bounds init (0: DefaultDeployGas).
	GasLimit uint64
	// ID, when set, is the contract's id; otherwise the id is derived from
	// the code, the owner and Nonce (ContractIDFor).
	ID *merkle.ContractID
	// Nonce distinguishes deploys of the same code by the same owner.
	Nonce uint64
}

// Deploy limits.
const (
	MaxOwnerBytes    = 1024
	DefaultDeployGas = 1_000_000_000
)

// ContractIDFor returns the default id of a contract:
// BLAKE3(code hash || u64 nonce || owner bytes) (SPEC.md §10.1).
func ContractIDFor(code []byte, owner []byte, nonce uint64) merkle.ContractID {
	h := blake3.New()
	ch := merkle.HashCode(code)
	h.Write(ch[:])
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], nonce)
	h.Write(n[:])
	h.Write(owner)
	var id merkle.ContractID
	h.Sum(id[:0])
	return id
}

var errInitCall = errors.New("init can only run at deploy")

// Deploy validates, compiles and instantiates a contract, runs its init
// export (if any) with opts.InitArg, and returns its id. A failed deploy
// leaves the session as it was. ctx bounds init as it bounds a Call.
func (s *Session) Deploy(ctx context.Context, code []byte, opts DeployOptions) (merkle.ContractID, error) {
	id, err := s.deploy(ctx, code, opts)
	s.recordDeploy(code, opts, id, err)
	return id, err
}

func (s *Session) deploy(ctx context.Context, code []byte, opts DeployOptions) (merkle.ContractID, error) {
	if err := s.usable(); err != nil {
		return merkle.ContractID{}, err
	}
	if err := ctxErr(ctx); err != nil {
		return merkle.ContractID{}, err
	}
	if err := s.recycle(); err != nil {
		return merkle.ContractID{}, err
	}
	if len(opts.Owner) > MaxOwnerBytes {
		return merkle.ContractID{}, badInput("owner of %d bytes exceeds %d", len(opts.Owner), MaxOwnerBytes)
	}
	if len(opts.InitArg) > hostfns.ArgBufSize {
		return merkle.ContractID{}, badInput("init argument of %d bytes exceeds the %d-byte buffer", len(opts.InitArg), hostfns.ArgBufSize)
	}
	codeHash := merkle.HashCode(code)
	id := ContractIDFor(code, opts.Owner, opts.Nonce)
	if opts.ID != nil {
		id = *opts.ID
	}
	if ok, err := s.exists(id); err != nil || ok {
		if err == nil {
			err = fmt.Errorf("%w: %s", ErrContractExists, id)
		}
		return id, err
	}
	mod, err := s.e.module(code, codeHash)
	if err != nil {
		return id, err
	}
	owner := bytes.Clone(opts.Owner)
	if owner == nil {
		owner = []byte{}
	}
	c := &contract{s: s, id: id, mod: mod, owner: owner, code: bytes.Clone(code),
		leaf:  merkle.ContractLeaf{ID: id, CodeHash: codeHash, OwnerHash: merkle.HashOwner(owner), Kind: mod.kind},
		mt:    merkle.NewMemTree(merkle.EmptyMemoryRoot(), s.e.store),
		pages: map[uint64][]byte{}, hashes: map[uint64]merkle.Hash{}, pending: map[uint64]struct{}{},
		isNew: true, changed: true, initPending: mod.info.HasInit}
	if err := c.instantiate(); err != nil {
		return id, err
	}
	// The data segments made the initial memory: record the pages they
	// wrote (all others are zero).
	mem := c.memory()
	c.memLen = uint64(len(mem))
	for _, d := range mod.info.DataRanges {
		for i := d.Offset / merkle.PageSize; i <= (d.Offset+d.Length-1)/merkle.PageSize; i++ {
			p := mem[i*merkle.PageSize : (i+1)*merkle.PageSize]
			if _, ok := c.pages[i]; !ok && !bytes.Equal(p, zeroPage[:]) {
				c.pages[i] = bytes.Clone(p)
				c.pending[i] = struct{}{}
			}
		}
	}
	c.globalVals = c.readGlobals(nil)
	if err := c.newTracker(); err != nil {
		return id, err
	}
	s.contracts[id] = c
	if c.initPending {
		gas := opts.GasLimit
		if gas == 0 {
			gas = DefaultDeployGas
		}
		_, err := s.topLevel(ctx, c, "init", opts.InitArg, gas, nil)
		c.initPending = false
		if err != nil {
			c.close()
			delete(s.contracts, id)
			return id, err
		}
	}
	return id, nil
}
