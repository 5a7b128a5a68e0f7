package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/demo from a fresh demo run")

// TestDemo runs the demo twice on one store: the first run deploys, the
// second reuses the contract, ticks it at the next height and follows its
// page from the first run's root.
func TestDemo(t *testing.T) {
	db := filepath.Join(t.TempDir(), "db")
	r := ok(t, db, "demo")
	for i := 1; i <= demoSteps; i++ {
		if !strings.Contains(r.stdout, "["+string(rune('0'+i))+"/8]") {
			t.Errorf("step %d missing:\n%s", i, r.stdout)
		}
	}
	for _, want := range []string{"Deploy the demo contract", "counter 0 -> 1, block_height 1", "rejected:", "skipped", "statectl verify --root"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("first run lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Count(r.stdout, "-> ") < demoSteps {
		t.Errorf("every step explains itself:\n%s", r.stdout)
	}
	first := strings.TrimSpace(ok(t, db, "root").stdout)

	var second demoJSON
	okJSON(t, db, &second, "demo")
	if !second.Reused || second.Counter != 2 || second.BlockHeight != 2 || second.Parent != first || len(second.Steps) != demoSteps {
		t.Fatalf("second run: %+v", second)
	}
	if last := second.Steps[demoSteps-1]; !strings.Contains(strings.Join(last.Details, "\n"), "changed true") {
		t.Errorf("chain step: %+v", last)
	}
	for _, s := range second.Steps {
		if s.Title == "" || s.Meaning == "" {
			t.Errorf("step without title or meaning: %+v", s)
		}
	}

	// --block-height must increase: the contract refuses to go back.
	wantError(t, sc(t, db, "demo", "--block-height", "1"), exitFail, "block_height must increase")
	var third demoJSON
	okJSON(t, db, &third, "demo", "--block-height", "1000")
	if third.Counter != 3 || third.BlockHeight != 1000 {
		t.Errorf("third run: %+v", third)
	}
	ok(t, db, "fsck")

	// What the demo committed can be proven and verified by the CLI too.
	proof := filepath.Join(t.TempDir(), "p")
	ok(t, db, "prove", "--root", third.Root, third.Contract, "--range", "0:16", "-o", proof)
	var v verifyOut
	okJSON(t, "", &v, "verify", "--root", third.Root, proof, "--contract", third.Contract, "--range", "0:16")
	if u64At(t, v.Data, 0) != 3 || u64At(t, v.Data, 8) != 1000 {
		t.Errorf("proven demo state: %s", v.Data)
	}
}

// TestDemoGolden checks a fresh demo run against testdata/demo: the root,
// the contract id and the proof of page 0, binary and JSON, are a pure
// function of the demo contract and the format (SPEC.md), so any change
// to them is a format change. The lightclient package verifies the same
// files. Regenerate with: go test ./cmd/statectl -run TestDemoGolden -update
func TestDemoGolden(t *testing.T) {
	dir := repoPath("testdata", "demo")
	db := filepath.Join(t.TempDir(), "db")
	var d demoJSON
	okJSON(t, db, &d, "demo")
	binProof := ok(t, db, "prove", "--root", d.Root, d.Contract, "--page", "0").stdout
	jsonProof := ok(t, db, "prove", "--root", d.Root, d.Contract, "--page", "0", "--json").stdout
	golden := map[string]any{"root": d.Root, "contract": d.Contract, "page": 0, "counter": d.Counter, "block_height": d.BlockHeight}
	gj, err := json.MarshalIndent(golden, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"golden.json": append(gj, '\n'), "page0.proof": []byte(binProof), "page0.proof.json": []byte(jsonProof)}
	if *update {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range files {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%v (regenerate with -update)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("testdata/demo/%s differs from a fresh demo run: the commitment format or the demo changed (regenerate with -update if intended)", name)
		}
	}
	// The golden proofs verify with the CLI as well.
	for _, name := range []string{"page0.proof", "page0.proof.json"} {
		ok(t, "", "verify", "--root", d.Root, filepath.Join(dir, name), "--contract", d.Contract, "--page", "0")
	}
}
