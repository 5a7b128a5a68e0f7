package engine

import (
	"fmt"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/wasmstate/wasmstate/engine/internal/instrument"
	"github.com/wasmstate/wasmstate/hostfns"
	"github.com/wasmstate/wasmstate/merkle"
)

// Growth is paid before it happens. The engine compiles every contract
// instrumented (engine/internal/instrument): each memory.grow is preceded by
// a call of the host function below, which receives the requested number of
// pages, charges GasGrowHook plus GasMemoryGrow per page when the growth
// would succeed, and returns the count unchanged for memory.grow to run.
// A growth the frame cannot pay fails it out of gas before wasmtime maps
// anything (SPEC.md §11).

// defineGrowHook adds the hook, for modules of kind k, to l.
func defineGrowHook(l *wasmtime.Linker, k hostfns.Kind) error {
	addr := wasmtime.KindI32
	if k == hostfns.Wasm64 {
		addr = wasmtime.KindI64
	}
	at := []*wasmtime.ValType{wasmtime.NewValType(addr)}
	ty := wasmtime.NewFuncType(at, at)
	err := l.FuncNew(instrument.HookModule, instrument.HookName, ty, func(caller *wasmtime.Caller, args []wasmtime.Val) (_ []wasmtime.Val, trap *wasmtime.Trap) {
		h := hostEnv{caller.Data().(*storeOwner).s}
		defer func() {
			if p := recover(); p != nil {
				trap = h.Fail(&hostfns.GoPanicError{Value: p})
			}
		}()
		var pages uint64
		if k == hostfns.Wasm64 {
			pages = uint64(args[0].I64())
		} else {
			pages = uint64(uint32(args[0].I32()))
		}
		if err := h.chargeGrowth(pages); err != nil {
			return nil, h.Fail(err)
		}
		return args[:1:1], nil
	})
	if err != nil {
		return fmt.Errorf("engine: define the growth hook: %w", err)
	}
	return nil
}

// chargeGrowth charges the running frame for memory.grow(pages) of its
// contract's memory: GasGrowHook, plus GasMemoryGrow per page when the
// growth fits under the memory's maximum and the engine's MaxMemoryBytes
// (else memory.grow will return -1 and grow nothing).
func (h hostEnv) chargeGrowth(pages uint64) error {
	s := h.s
	if len(s.frames) == 0 {
		return fmt.Errorf("%w: memory.grow outside a call", ErrInternal)
	}
	c := h.top().c
	limit := c.maxPages()
	cur := c.mem.Size(s.wstore)
	gas := uint64(GasGrowHook)
	if cur <= limit && pages <= limit-cur {
		// pages <= 2^48: the product fits.
		gas += pages * GasMemoryGrow
	}
	return h.Charge(gas)
}

// maxPages is the largest size, in 64 KiB pages, the contract's memory may
// grow to: its declared maximum, the engine's MaxMemoryBytes, and the
// address space of its kind.
func (c *contract) maxPages() uint64 {
	info := c.mod.info
	limit := min(c.s.e.opts.MaxMemoryBytes, c.mod.kind.MaxBytes()) / merkle.WasmPageSize
	if info.HasMax {
		limit = min(limit, info.MaxPages)
	}
	return limit
}
