package engine_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/merkle"
)

// The life of a state: deploy, call with session metadata, commit, prove
// a page and verify the proof with nothing but the root.
func Example() {
	src, _ := os.ReadFile("../testdata/contracts/counter.wat")
	code, _ := wasmtime.Wat2Wasm(string(src))

	e, err := engine.OpenInMemory(engine.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		panic(err)
	}
	defer e.Close()

	s, err := e.NewSession(merkle.EmptyState(), engine.SessionOptions{
		Metadata: map[string][]byte{"block_height": binary.LittleEndian.AppendUint64(nil, 100)},
	})
	if err != nil {
		panic(err)
	}
	defer s.Close() // drops whatever was not committed

	id, err := s.Deploy(context.Background(), code, engine.DeployOptions{Owner: []byte("alice")})
	if err != nil {
		panic(err)
	}
	r, err := s.Call(context.Background(), id, "add", binary.LittleEndian.AppendUint64(nil, 10), 1_000_000)
	if err != nil {
		panic(err)
	}
	fmt.Println("counter:", binary.LittleEndian.Uint64(r.Data))

	root, err := s.Commit(context.Background())
	if err != nil {
		panic(err)
	}
	proof, err := e.ProvePage(context.Background(), root, id, 0)
	if err != nil {
		panic(err)
	}
	page, err := merkle.VerifyPage(root, id, 0, proof)
	if err != nil {
		panic(err)
	}
	fmt.Println("proven counter:", binary.LittleEndian.Uint64(page[:8]))
	// Output:
	// counter: 262
	// proven counter: 262
}
