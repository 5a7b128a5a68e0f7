package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type verifyMultiOut struct {
	Verified     bool   `json:"verified"`
	Kind         string `json:"kind"`
	ClaimChecked bool   `json:"claim_checked"`
	Contracts    []struct {
		Contract string `json:"contract"`
		Present  bool   `json:"present"`
	} `json:"contracts"`
	Ranges []struct {
		Contract string `json:"contract"`
		Offset   uint64 `json:"offset"`
		Length   uint64 `json:"length"`
		Data     string `json:"data"`
	} `json:"ranges"`
}

// TestProveMulti proves several claims at once with statectl prove and
// checks them with statectl verify, which refuses any other claim; one
// claim still gives the single proof, byte for byte.
func TestProveMulti(t *testing.T) {
	db := filepath.Join(t.TempDir(), "db")
	tmp := t.TempDir()
	file := func(name string) string { return filepath.Join(tmp, name) }
	var a, b deployJSON
	okJSON(t, db, &a, "deploy", counterWAT)
	okJSON(t, db, &b, "deploy", contractWAT("grower"))
	root := b.Root
	absent := strings.Repeat("ab", 32)

	// Pages and ranges of one contract.
	ok(t, db, "prove", "--root", root, a.Contract, "--page", "0", "--page", "1", "--range", "4090:16", "-o", file("three.proof"))
	var v verifyMultiOut
	okJSON(t, "", &v, "verify", "--root", root, file("three.proof"), "--contract", a.Contract, "--page", "0", "--page", "1", "--range", "4090:16")
	if !v.Verified || !v.ClaimChecked || v.Kind != "multi" || len(v.Ranges) != 3 || len(v.Contracts) != 1 || !v.Contracts[0].Present {
		t.Fatalf("verify three: %+v", v)
	}
	// In proof order: by offset, then length.
	if u64At(t, v.Ranges[0].Data, 0) != 0xfc || v.Ranges[1].Offset != 4090 || v.Ranges[1].Length != 16 || v.Ranges[2].Offset != 4096 {
		t.Fatalf("verify three: ranges at %d+%d, %d+%d, %d+%d", v.Ranges[0].Offset, v.Ranges[0].Length,
			v.Ranges[1].Offset, v.Ranges[1].Length, v.Ranges[2].Offset, v.Ranges[2].Length)
	}
	// Several contracts: leaves, an absence, qualified ranges, JSON.
	ok(t, db, "prove", "--root", root, a.Contract, b.Contract, absent, "--lookup", "--range", b.Contract+":0:8", "--json", "-o", file("many.json"))
	okJSON(t, "", &v, "verify", "--root", root, file("many.json"), "--contract", a.Contract, "--contract", b.Contract,
		"--contract", absent, "--lookup", "--range", b.Contract+":0:8")
	if len(v.Contracts) != 3 || len(v.Ranges) != 1 || v.Ranges[0].Contract != b.Contract {
		t.Fatalf("verify many: %+v", v)
	}
	present := 0
	for _, c := range v.Contracts {
		if c.Present {
			present++
		}
	}
	if present != 2 {
		t.Fatalf("verify many: %d present, want 2", present)
	}
	// Without a claim verify shows everything; to stdout the proof is the
	// same as with -o.
	txt := ok(t, "", "verify", "--root", root, file("three.proof"))
	for _, want := range []string{"verified  multi proof (binary", "none given", "contract  " + a.Contract + " present", "bytes     4090..4106"} {
		if !strings.Contains(txt.stdout, want) {
			t.Errorf("verify output lacks %q:\n%s", want, txt.stdout)
		}
	}
	out := ok(t, db, "prove", "--root", root, a.Contract, "--page", "0", "--page", "1", "--range", "4090:16")
	three, _ := os.ReadFile(file("three.proof"))
	if !bytes.Equal([]byte(out.stdout), three) {
		t.Error("multiproof on stdout differs from -o")
	}
	// Any other claim is refused: one item more or fewer, another page,
	// the leaf asked of an absent contract.
	for _, args := range [][]string{
		{"--contract", a.Contract, "--page", "0", "--page", "1"},
		{"--contract", a.Contract, "--page", "0", "--page", "1", "--range", "4090:16", "--page", "2"},
		{"--contract", a.Contract, "--page", "0", "--page", "2", "--range", "4090:16"},
		{"--contract", a.Contract, "--page", "0"},
		{"--contract", a.Contract},
	} {
		wantError(t, sc(t, "", append([]string{"verify", "--root", root, file("three.proof")}, args...)...), exitFail, "NOT proven")
	}
	wantError(t, sc(t, "", "verify", "--root", root, file("many.json"), "--contract", a.Contract, "--contract", b.Contract,
		"--contract", absent, "--range", b.Contract+":0:8"), exitFail, "absent")
	// Tampering is caught.
	for i := 0; i < len(three); i += 97 {
		bad := bytes.Clone(three)
		bad[i] ^= 0x10
		if err := os.WriteFile(file("bad.proof"), bad, 0o644); err != nil {
			t.Fatal(err)
		}
		wantError(t, sc(t, "", "verify", "--root", root, file("bad.proof"), "--contract", a.Contract, "--page", "0", "--page", "1", "--range", "4090:16"), exitFail, "")
	}
	// A single claim checked against a multiproof of that one item.
	ok(t, db, "prove", "--root", root, "--page", a.Contract+":0", "-o", file("one.proof"))
	ok(t, "", "verify", "--root", root, file("one.proof"), "--contract", a.Contract, "--page", "0")
	// One claim: the single proof, as before.
	ok(t, db, "prove", "--root", root, a.Contract, "--page", "0", "-o", file("single.proof"))
	single, _ := os.ReadFile(file("single.proof"))
	if len(single) < 2 || single[1] != 1 {
		t.Fatalf("one claim did not give a range proof: kind %v", single[:2])
	}
	// Bad requests.
	for _, c := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"prove", a.Contract, b.Contract, "-o", file("x")}, exitUsage, "exactly one of"},
		{[]string{"prove", a.Contract, b.Contract, "--leaf", "--absent", "-o", file("x")}, exitUsage, "exactly one of"},
		{[]string{"prove", "--page", "0", "--page", "1", "-o", file("x")}, exitUsage, "need CONTRACT"},
		{[]string{"prove", a.Contract, b.Contract, "--page", "999", "-o", file("x")}, exitUsage, "out of range"},
		{[]string{"prove", a.Contract, absent, "--leaf", "-o", file("x")}, exitUsage, "no such contract"},
		{[]string{"prove", a.Contract, b.Contract, "--absent", "-o", file("x")}, exitFail, "exists"},
		{[]string{"prove", "--range", absent + ":0:8", "--page", a.Contract + ":0", "-o", file("x")}, exitUsage, "no such contract"},
		{[]string{"prove", "--page", "zz:1", "-o", file("x")}, exitUsage, ""},
	} {
		wantError(t, sc(t, db, c.args...), c.code, c.msg)
	}
}
