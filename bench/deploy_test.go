package bench

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/engine/dirty"
	"github.com/wasmstate/wasmstate/merkle"
)

// BenchmarkDeploy measures Session.Deploy of counter.wat (a 2-page wasm32
// contract; validation, instrumentation of the mutable globals, compile or
// load of the compiled code, instantiation, dirty-tracker setup):
//
//	compile:  code never seen before (each op deploys the module with a
//	          different custom section, so its code hash is new): validate,
//	          rewrite, compile with Cranelift, serialize and store the
//	          compiled code.
//	cached:   the same code again (another nonce): the compiled module comes
//	          from the engine's in-memory cache.
//	restart:  the same code after the engine was closed and reopened on the
//	          same directory: the compiled code comes from the on-disk cache
//	          (deserialized); reopening the engine is not timed.
//
// ns/op is Deploy alone; sessions are rotated (untimed) so that one
// session does not accumulate thousands of instances.
func BenchmarkDeploy(b *testing.B) {
	code := wasmCode(b, "counter")
	b.Run("compile", func(b *testing.B) {
		e := openEngine(b, "", dirty.Auto)
		defer e.Close()
		benchDeploys(b, e, 64, func(i int) []byte { return withCustomSection(code, uint64(i)) })
	})
	b.Run("cached", func(b *testing.B) {
		e := openEngine(b, "", dirty.Auto)
		defer e.Close()
		s := newSession(b, e, merkle.EmptyState())
		deploy(b, s, code, engine.DeployOptions{Nonce: 1 << 40})
		s.Close()
		benchDeploys(b, e, 1000, func(int) []byte { return code })
	})
	b.Run("restart", func(b *testing.B) {
		dir := b.TempDir()
		e := openEngine(b, dir, dirty.Auto)
		s := newSession(b, e, merkle.EmptyState())
		deploy(b, s, code, engine.DeployOptions{Nonce: 1 << 40})
		commit(b, s)
		s.Close()
		e.Close()
		var l lap
		for i := 0; b.Loop(); i++ {
			e := openEngine(b, dir, dirty.Auto)
			s := newSession(b, e, merkle.EmptyState())
			l.start()
			_, err := s.Deploy(context.Background(), code, engine.DeployOptions{Nonce: uint64(i)})
			l.stop()
			if err != nil {
				b.Fatal(err)
			}
			s.Close()
			e.Close()
		}
		l.nsPerOp(b)
	})
}

// benchDeploys deploys code(i) with nonce i per op into sessions of at
// most perSession contracts.
func benchDeploys(b *testing.B, e *engine.Engine, perSession int, code func(i int) []byte) {
	var l lap
	var s *engine.Session
	for i := 0; b.Loop(); i++ {
		if i%perSession == 0 {
			if s != nil {
				s.Close()
			}
			s = newSession(b, e, merkle.EmptyState())
		}
		c := code(i)
		l.start()
		_, err := s.Deploy(context.Background(), c, engine.DeployOptions{Nonce: uint64(i)})
		l.stop()
		if err != nil {
			b.Fatal(err)
		}
	}
	s.Close()
	l.nsPerOp(b)
}

// withCustomSection returns code with a custom section "bench" holding n
// appended: the same module with another code hash.
func withCustomSection(code []byte, n uint64) []byte {
	payload := append([]byte{5, 'b', 'e', 'n', 'c', 'h'}, binary.LittleEndian.AppendUint64(nil, n)...)
	out := append([]byte{}, code...)
	out = append(out, 0) // custom section id
	out = binary.AppendUvarint(out, uint64(len(payload)))
	return append(out, payload...)
}
