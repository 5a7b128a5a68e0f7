package lightclient

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
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
	cmd := exec.Command(goTool(t), append([]string{"list"}, args...)...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1") // the rule must hold even when cgo is available
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
// neither wasmtime, nor the database, nor cgo.
func TestDependencies(t *testing.T) {
	deps := goList(t, "-deps", pkgPath)
	if len(deps) == 0 {
		t.Fatal("go list -deps printed nothing")
	}
	for _, d := range deps {
		for _, banned := range []string{"wasmtime", "goleveldb", "runtime/cgo", "/engine", "/pagestore", "/hostfns"} {
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

	// No cgo files in the package or in any of its dependencies.
	cgo := goList(t, "-deps", "-f", `{{if .CgoFiles}}{{.ImportPath}}{{end}}`, pkgPath)
	if len(cgo) > 0 {
		t.Errorf("packages with cgo files: %v", cgo)
	}
}
