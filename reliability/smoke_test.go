package reliability

import (
	"testing"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/merkle"
)

func TestContractsCompile(t *testing.T) {
	e := memEngine(t, engine.Options{})
	s := session(t, e, merkle.EmptyState())
	deployFixed(t, s)
	deploy(t, s, "floats", engine.DeployOptions{})
	for _, id := range []merkle.ContractID{fuzz32ID, fuzz64ID} {
		d := call(t, s, id, "go", goArg(selSize, 0, [5]uint64{}, nil))
		if _, r := goResult(t, d, 0); r != 2 {
			t.Fatalf("size %d", r)
		}
		d = call(t, s, id, "go", goArg(selLoad, 32, [5]uint64{addrCounter, 32}, nil))
		if a, _ := goResult(t, d, 32); a[0] != 0xC0 {
			t.Fatalf("load %x", a)
		}
	}
}
