package lightclient

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

const pkgPath = "github.com/wasmstate/wasmstate/lightclient"

func goTool(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("no go command on PATH or in GOROOT: %v", err)
	}
	return p
}

func goList(t *testing.T, args ...string) []string {
	t.Helper()
	return goListEnv(t, []string{"CGO_ENABLED=1"}, args...) // the rule must hold even when cgo is available
}

func goListEnv(t *testing.T, env []string, args ...string) []string {
	t.Helper()
	cmd := exec.Command(goTool(t), append([]string{"list"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("go list %v: %v\n%s", args, err, msg)
	}
	return strings.Fields(string(out))
}

// TestDependencies enforces the package's promise: a light client links
// neither wasmtime, nor the database, nor cgo. The network client (client.go)
// uses net/http, whose package net has an optional cgo DNS resolver when cgo
// is enabled: that standard-library cgo is the only one allowed, and it goes
// away with the netgo tag or CGO_ENABLED=0 (and on js/wasm and wasip1).
func TestDependencies(t *testing.T) {
	deps := goList(t, "-deps", pkgPath)
	if len(deps) == 0 {
		t.Fatal("go list -deps printed nothing")
	}
	if !slices.Contains(goList(t, "-f", `{{join .Imports "\n"}}`, pkgPath), "net/http") {
		t.Error("the network client (net/http) is not in the package: this test no longer covers it")
	}
	for _, d := range deps {
		for _, banned := range []string{"wasmtime", "goleveldb", "/engine", "/pagestore", "/hostfns", "/serve", "/statesync"} {
			if strings.Contains(d, banned) {
				t.Errorf("lightclient depends on %s (matches %q)", d, banned)
			}
		}
	}

	// Direct imports: the standard library, merkle and blake3 only.
	imports := goList(t, "-f", `{{join .Imports "\n"}}`, pkgPath)
	for _, imp := range imports {
		std := !strings.Contains(strings.SplitN(imp, "/", 2)[0], ".")
		if !std && imp != "github.com/wasmstate/wasmstate/merkle" && !strings.HasPrefix(imp, "github.com/zeebo/blake3") {
			t.Errorf("lightclient imports %s", imp)
		}
	}

	// Every non-standard dependency is merkle's, blake3's or blake3's CPU
	// feature detection.
	nonStd := goList(t, "-deps", "-f", `{{if not .Standard}}{{.ImportPath}}{{end}}`, pkgPath)
	for _, d := range nonStd {
		switch {
		case d == pkgPath, d == "github.com/wasmstate/wasmstate/merkle",
			strings.HasPrefix(d, "github.com/zeebo/blake3"), strings.HasPrefix(d, "github.com/klauspost/cpuid/"):
		default:
			t.Errorf("unexpected dependency %s", d)
		}
	}

	// No cgo files in the package or in any of its dependencies but the
	// standard library's optional resolver...
	cgo := goList(t, "-deps", "-f", `{{if .CgoFiles}}{{.ImportPath}}{{end}}`, pkgPath)
	for _, p := range cgo {
		if p != "net" && p != "runtime/cgo" {
			t.Errorf("package with cgo files: %s", p)
		}
	}
	// ... and none at all with the netgo tag or without cgo.
	for _, env := range [][]string{{"CGO_ENABLED=1"}, {"CGO_ENABLED=0"}} {
		args := []string{"-deps", "-f", `{{if .CgoFiles}}{{.ImportPath}}{{end}}{{if eq .ImportPath "runtime/cgo"}}runtime/cgo{{end}}`}
		if env[0] == "CGO_ENABLED=1" {
			args = append(args, "-tags", "netgo")
		}
		if got := goListEnv(t, env, append(args, pkgPath)...); len(got) > 0 {
			t.Errorf("%v: cgo in %v", env, got)
		}
	}
	// It builds for the browser (js/wasm) and WASI.
	for _, target := range [][]string{{"GOOS=js", "GOARCH=wasm"}, {"GOOS=wasip1", "GOARCH=wasm"}} {
		cmd := exec.Command(goTool(t), "build", "-o", os.DevNull, pkgPath)
		cmd.Env = append(os.Environ(), append(target, "CGO_ENABLED=0")...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("build for %v: %v\n%s", target, err, out)
		}
		deps := goListEnv(t, target, "-deps", pkgPath)
		if slices.Contains(deps, "runtime/cgo") {
			t.Errorf("%v: links runtime/cgo", target)
		}
	}
}
