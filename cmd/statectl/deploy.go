package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/merkle"
)

var deployCmd = &command{
	name:     "deploy",
	synopsis: "FILE.wasm|FILE.wat [--id HEX] [--owner VALUE] [--init-arg VALUE] [--base ROOT] [--gas N] [--nonce N]",
	summary:  "deploy a contract and commit",
	store:    true,
	help: `Deploys the contract in FILE in a session based on --base (default: the
head), runs its init export, if it has one, with --init-arg, commits, and
prints the contract id and the new root, which becomes the head.

FILE is a wasm module, or WebAssembly text (any file that does not start
with the wasm magic bytes), compiled with wasmtime's Wat2Wasm; "-" reads
it from stdin.

The contract id is --id, or else BLAKE3(code hash || u64 nonce || owner):
deploying the same code with the same owner again needs another --nonce.

Examples:
  statectl deploy testdata/contracts/counter.wat
  statectl deploy testdata/c/token.wasm --owner 0x0a0b0c --nonce 1
  statectl deploy testdata/contracts/initializer.wat --init-arg u64:7 --json
  statectl deploy counter.wasm --id 0100000000000000000000000000000000000000000000000000000000000000`,
	run: runDeploy,
}

type deployJSON struct {
	Contract string `json:"contract"`
	Root     string `json:"root"`
	Base     string `json:"base"`
	CodeHash string `json:"code_hash"`
	CodeSize int    `json:"code_size"`
	Owner    string `json:"owner"`
}

func runDeploy(c *cli, args []string) error {
	fs := c.flags()
	idFlag := fs.String("id", "", "contract id, 64 hex digits (default: derived from code, owner and nonce)")
	ownerFlag := fs.String("owner", "", "owner bytes, a `VALUE` (hex, @FILE or literal)")
	initFlag := fs.String("init-arg", "", "argument of the init export, a `VALUE`")
	baseFlag := fs.String("base", "head", "`ROOT` to deploy on: 64 hex digits, head or empty")
	gas := fs.Uint64("gas", engine.DefaultDeployGas, "gas limit of init")
	nonce := fs.Uint64("nonce", 0, "nonce distinguishing deploys of the same code by the same owner")
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return c.usagef("want one FILE.wasm or FILE.wat argument, got %d", len(pos))
	}
	opts := engine.DeployOptions{GasLimit: *gas, Nonce: *nonce}
	if *idFlag != "" {
		id, err := parseContract(*idFlag)
		if err != nil {
			return err
		}
		opts.ID = &id
	}
	if opts.Owner, err = parseValue(*ownerFlag); err != nil {
		return err
	}
	if opts.InitArg, err = parseValue(*initFlag); err != nil {
		return err
	}
	if *gas == 0 {
		return c.usagef("--gas 0")
	}
	code, err := loadModule(c, pos[0])
	if err != nil {
		return err
	}

	e, err := c.open(createStore)
	if err != nil {
		return err
	}
	defer e.Close()
	base, err := resolveRoot(e, *baseFlag)
	if err != nil {
		return err
	}
	s, err := e.NewSession(base, engine.SessionOptions{})
	if err != nil {
		return err
	}
	defer s.Close()
	id, err := s.Deploy(context.Background(), code, opts)
	if err != nil {
		if errors.Is(err, engine.ErrContractExists) {
			return failf("%v (deploy with another --nonce or --id)", err)
		}
		return err
	}
	root, err := s.Commit(context.Background())
	if err != nil {
		return err
	}
	out := deployJSON{Contract: id.String(), Root: root.String(), Base: base.String(),
		CodeHash: merkle.HashCode(code).String(), CodeSize: len(code), Owner: hex.EncodeToString(opts.Owner)}
	if c.json {
		return c.writeJSON(out)
	}
	c.printf("contract  %s\n", out.Contract)
	c.printf("code      %s (%d bytes)\n", out.CodeHash, out.CodeSize)
	c.printf("owner     %s\n", hexOrEmpty(opts.Owner))
	c.printf("base      %s\n", rootLabel(base))
	c.printf("root      %s (new head)\n", out.Root)
	return nil
}

// loadModule reads a wasm module, compiling WebAssembly text.
func loadModule(c *cli, name string) ([]byte, error) {
	b, err := c.readInput(name)
	if err != nil {
		return nil, err
	}
	if bytes.HasPrefix(b, []byte("\x00asm")) {
		return b, nil
	}
	if filepath.Ext(name) == ".wasm" {
		return nil, badInputf("%s: not a wasm module (no \\0asm magic)", name)
	}
	code, err := wasmtime.Wat2Wasm(string(b))
	if err != nil {
		return nil, badInputf("%s: not a wasm module, and not valid WebAssembly text: %s", name, watError(err))
	}
	return code, nil
}

// watError turns wasmtime's multi-line WAT error into "reason at line L,
// column C".
func watError(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "Stack backtrace:"); i >= 0 {
		msg = msg[:i]
	}
	lines := strings.Split(msg, "\n")
	out := strings.TrimSpace(lines[0])
	for _, l := range lines[1:] {
		if loc, ok := strings.CutPrefix(strings.TrimSpace(l), "--> <anon>:"); ok {
			if line, col, ok := strings.Cut(loc, ":"); ok {
				out += fmt.Sprintf(" at line %s, column %s", line, col)
			}
		}
	}
	return out
}
