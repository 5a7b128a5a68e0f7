package main

import (
	"encoding/hex"
	"errors"

	"github.com/wasmstate/wasmstate/codec"
	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/merkle"
)

var readCmd = &command{
	name:     "read",
	synopsis: "CONTRACT OFFSET:LENGTH [--root ROOT] [--as TYPE] [--json]",
	summary:  "read bytes of a contract's committed memory",
	store:    true,
	help: `Prints LENGTH bytes at OFFSET of CONTRACT's linear memory as committed
under --root (default: the head), in hex. The bytes are read through the
memory tree and rehashed by the store, but no proof is built: use prove for
bytes someone else must be able to check.

--as TYPE decodes the bytes as a typed value and prints it as the literal
call --arg takes: u8..u64, i8..i64, bool, id, hex, or a tuple such as
(u64,id). The type's size must be LENGTH.

Examples:
  statectl read CONTRACT 0:8
  statectl read CONTRACT 0:8 --as u64
  statectl read CONTRACT 4096:40 --as "(id,u64)" --root $OLD --json`,
	run: runRead,
}

type readJSON struct {
	Root     string `json:"root"`
	Contract string `json:"contract"`
	Offset   uint64 `json:"offset"`
	Length   uint64 `json:"length"`
	Data     string `json:"data"`
	Type     string `json:"type,omitempty"`
	Value    string `json:"value,omitempty"`
}

func runRead(c *cli, args []string) error {
	fs := c.flags()
	rootFlag := fs.String("root", "head", "`ROOT`: 64 hex digits (or a unique prefix of 8 or more), head or empty")
	as := fs.String("as", "", "decode as `TYPE` (u64, i32, bool, id, hex, (u64,id), ...)")
	pos, err := c.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return c.usagef("want CONTRACT OFFSET:LENGTH, got %d arguments", len(pos))
	}
	offset, length, err := parseRange(pos[1])
	if err != nil {
		return err
	}
	e, id, root, err := c.openContractAt(pos[0], *rootFlag)
	if err != nil {
		return err
	}
	defer e.Close()
	out, err := readMemory(e, root, id, offset, length, *as)
	if err != nil {
		return err
	}
	if c.json {
		return c.writeJSON(out)
	}
	if out.Value != "" {
		c.printf("%s\n", out.Value)
		return nil
	}
	c.printf("%s\n", out.Data)
	return nil
}

// readMemory reads and optionally decodes committed memory.
func readMemory(e *engine.Engine, root merkle.Hash, id merkle.ContractID, offset, length uint64, typ string) (*readJSON, error) {
	b, err := e.ReadMemory(root, id, offset, length)
	if errors.Is(err, merkle.ErrOutOfRange) {
		return nil, withCode(exitUsage, err)
	}
	if err != nil {
		return nil, err
	}
	out := &readJSON{Root: root.String(), Contract: id.String(), Offset: offset, Length: length, Data: hex.EncodeToString(b), Type: typ}
	if typ != "" {
		if out.Value, err = codec.FormatValue(typ, b); err != nil {
			return nil, badInputf("--as %s: %v", typ, err)
		}
	}
	return out, nil
}
