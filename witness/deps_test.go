package witness_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies: the witness format needs only the standard library,
// merkle and BLAKE3, so that a verifier of witnesses (checking their
// proofs, sizes and digests) links no wasmtime, database or cgo. Replay
// itself runs contracts, so it lives in engine.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}} {{len .CgoFiles}}",
		"github.com/wasmstate/wasmstate/witness").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	allowed := []string{"github.com/wasmstate/wasmstate/witness", "github.com/wasmstate/wasmstate/merkle",
		"github.com/zeebo/blake3", "github.com/klauspost/cpuid/v2", "golang.org/x/sys/cpu"}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			t.Fatalf("go list line %q", line)
		}
		if f[2] != "0" && f[1] != "true" {
			t.Errorf("%s uses cgo", f[0])
		}
		if f[1] == "true" {
			continue
		}
		ok := false
		for _, a := range allowed {
			if f[0] == a || strings.HasPrefix(f[0], a+"/") {
				ok = true
			}
		}
		if !ok {
			t.Errorf("witness depends on %s", f[0])
		}
	}
}
