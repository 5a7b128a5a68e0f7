package serve_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/lightclient"
	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/serve"
)

// A node mounts the API in its own server; a light client that trusts the
// root reads a contract's bytes through it, verified.
func Example() {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	e, err := engine.OpenInMemory(engine.Options{Logger: quiet})
	if err != nil {
		panic(err)
	}
	defer e.Close()
	src, _ := os.ReadFile("../testdata/contracts/counter.wat")
	code, _ := wasmtime.Wat2Wasm(string(src))
	s, _ := e.NewSession(merkle.EmptyState(), engine.SessionOptions{})
	id, err := s.Deploy(context.Background(), code, engine.DeployOptions{})
	if err != nil {
		panic(err)
	}
	root, _ := s.Commit(context.Background())
	s.Close()

	api := serve.New(e, serve.Config{Logger: quiet})
	defer api.Close()
	mux := http.NewServeMux()
	mux.Handle("/v1/", api) // beside the node's other routes
	srv := httptest.NewServer(mux)
	defer srv.Close()

	c, _ := lightclient.NewClient(srv.URL, nil)
	counter, err := c.Range(context.Background(), root, id, 0, 8)
	if err != nil {
		panic(err)
	}
	fmt.Println("counter:", binary.LittleEndian.Uint64(counter))
	// Output: counter: 252
}
