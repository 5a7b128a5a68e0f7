package engine

import (
	"context"
	"fmt"
	"math"
	"time"
)

// Wall-clock stops. Gas bounds what a call computes, but not its time on
// every path, and an embedder must be able to give up on a call (a block
// deadline, a shutdown): contracts are compiled with wasmtime's epoch
// interruption, a ticker advances the engine's epoch every epochTick, and
// each top-level call sets its store's deadline from its context and
// Options.MaxCallDuration. A cancelled context (without a deadline) is
// seen at the next host function call or at the call's deadline.

// epochTick is the resolution of call deadlines.
const epochTick = 5 * time.Millisecond

// DefaultMaxCallDuration bounds a top-level call when Options.MaxCallDuration
// is 0.
const DefaultMaxCallDuration = 10 * time.Second

// tickEpochs advances the engine's epoch until stop is closed, then closes
// done (Close waits for it before it frees the wasmtime engine).
func (e *Engine) tickEpochs(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(epochTick)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			e.wt.IncrementEpoch()
		case <-stop:
			return
		}
	}
}

// deadlineTicks is the epoch deadline of a call under ctx, in ticks from
// now.
func (e *Engine) deadlineTicks(ctx context.Context) uint64 {
	d := e.maxCall
	if dl, ok := ctx.Deadline(); ok {
		if until := time.Until(dl); until < d || d < 0 {
			d = max(until, 0)
		}
	}
	if d < 0 {
		return math.MaxUint64 / 2
	}
	return uint64(d/epochTick) + 1
}

// ctxErr is the error of a done context, as ErrInterrupted; a nil context
// is bad input. Every entry point that takes a context starts with it.
func ctxErr(ctx context.Context) error {
	if ctx == nil {
		return badInput("nil context")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: %w", ErrInterrupted, err)
	}
	return nil
}

// interrupted reports ErrInterrupted once the running call's context is
// done.
func (s *Session) interrupted() error {
	if s.ctx == nil {
		return nil
	}
	return ctxErr(s.ctx)
}

// interruptedBy explains an epoch interruption: the context's end, or the
// engine's maximum call duration.
func (s *Session) interruptedBy() error {
	if err := s.interrupted(); err != nil {
		return err
	}
	if s.ctx != nil {
		if dl, ok := s.ctx.Deadline(); ok && !time.Now().Before(dl.Add(-epochTick)) {
			return fmt.Errorf("%w: %w", ErrInterrupted, context.DeadlineExceeded)
		}
	}
	return fmt.Errorf("%w: longer than the maximum call duration %v", ErrInterrupted, s.e.maxCall)
}
