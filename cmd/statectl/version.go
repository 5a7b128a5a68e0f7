package main

import (
	"runtime"
	"runtime/debug"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/pagestore"
)

var versionCmd = &command{
	name:     "version",
	synopsis: "[--json]",
	summary:  "print versions: statectl, source revision, Go, wasmtime, formats",
	help: `Prints statectl's module version and the source revision it was built
from (with "modified" when the tree had local changes), the Go toolchain,
the wasmtime-go module compiled in, and the formats this build reads and
writes: the store format (SPEC.md §8) and the proof version (§7). statectl
--version prints the same.

Examples:
  statectl version
  statectl --version --json`,
	run: runVersion,
}

type versionJSON struct {
	Version       string `json:"version"`
	Revision      string `json:"revision"`
	RevisionTime  string `json:"revision_time,omitempty"`
	Modified      bool   `json:"modified"`
	Go            string `json:"go"`
	Wasmtime      string `json:"wasmtime"`
	StoreFormat   int    `json:"store_format"`
	ProofVersion  int    `json:"proof_version"`
	Platform      string `json:"platform"`
	WasmtimeCache string `json:"wasmtime_cache_key"`
}

// buildVersion reads what the Go toolchain recorded in the binary.
func buildVersion() versionJSON {
	v := versionJSON{Version: "(unknown)", Revision: "(unknown)", Go: runtime.Version(), Wasmtime: "(unknown)",
		StoreFormat: pagestore.FormatVersion, ProofVersion: merkle.ProofVersion,
		Platform: runtime.GOOS + "/" + runtime.GOARCH, WasmtimeCache: engine.WasmtimeVersion}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.RevisionTime = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	for _, d := range bi.Deps {
		if d.Path == "github.com/bytecodealliance/wasmtime-go/v39" {
			v.Wasmtime = d.Version
			if d.Replace != nil {
				v.Wasmtime = d.Replace.Version
			}
		}
	}
	return v
}

func runVersion(c *cli, args []string) error {
	pos, err := c.parse(c.flags(), args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return c.usagef("version takes no arguments")
	}
	v := buildVersion()
	if c.json {
		return c.writeJSON(v)
	}
	rev := v.Revision
	if v.Modified {
		rev += " (modified)"
	}
	if v.RevisionTime != "" {
		rev += " " + v.RevisionTime
	}
	c.printf("statectl       %s\n", v.Version)
	c.printf("revision       %s\n", rev)
	c.printf("go             %s %s\n", v.Go, v.Platform)
	c.printf("wasmtime-go    %s\n", v.Wasmtime)
	c.printf("store format   %d\n", v.StoreFormat)
	c.printf("proof version  %d\n", v.ProofVersion)
	return nil
}
