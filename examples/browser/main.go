//go:build js && wasm

// Command browser is wasmstate's light client in a web page: compiled to
// WebAssembly (GOOS=js GOARCH=wasm), it reads the server, root, contract
// and byte range from the page's URL, fetches the proof from a wasmstate
// server (statectl serve) and shows the bytes only if the proof verifies
// against the root; otherwise it shows why it rejected the answer.
package main

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"syscall/js"
	"time"

	"github.com/wasmstate/wasmstate/lightclient"
	"github.com/wasmstate/wasmstate/merkle"
)

func main() {
	doc := js.Global().Get("document")
	set := func(id, text string) {
		if el := doc.Call("getElementById", id); !el.IsNull() {
			el.Set("textContent", text)
		}
	}
	state := func(s string) {
		doc.Call("getElementById", "status").Call("setAttribute", "data-state", s)
	}
	value, err := read()
	if err != nil {
		state("rejected")
		set("status", "rejected")
		set("detail", err.Error())
		return
	}
	state("verified")
	set("status", "verified")
	set("detail", value)
}

// read fetches and verifies the range the page's URL asks for.
func read() (string, error) {
	search := js.Global().Get("location").Get("search").String()
	q, err := url.ParseQuery(strings.TrimPrefix(search, "?"))
	if err != nil {
		return "", err
	}
	root, err := merkle.ParseHash(q.Get("root"))
	if err != nil {
		return "", fmt.Errorf("root: %v", err)
	}
	idHash, err := merkle.ParseHash(q.Get("contract"))
	if err != nil {
		return "", fmt.Errorf("contract: %v", err)
	}
	offset, err1 := strconv.ParseUint(q.Get("offset"), 10, 64)
	length, err2 := strconv.ParseUint(q.Get("length"), 10, 64)
	if err1 != nil || err2 != nil {
		return "", fmt.Errorf("offset and length: want decimal numbers")
	}
	c, err := lightclient.NewClient(q.Get("server"), &lightclient.ClientOptions{Timeout: 10 * time.Second})
	if err != nil {
		return "", err
	}
	data, err := c.Range(context.Background(), root, merkle.ContractID(idHash), offset, length)
	if err != nil {
		return "", err
	}
	out := "0x" + hex.EncodeToString(data)
	if len(data) == 8 {
		out = fmt.Sprintf("%d (%s)", binary.LittleEndian.Uint64(data), out)
	}
	return out, nil
}
