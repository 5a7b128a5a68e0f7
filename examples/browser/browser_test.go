package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/wasmstate/wasmstate/internal/servetest"
	"github.com/wasmstate/wasmstate/serve"
)

// chromium finds Debian's headless-capable browser; CI must have it
// (scripts/setup.sh installs it), elsewhere the test is skipped without it.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no chromium on PATH (scripts/setup.sh installs it)")
	}
	t.Skip("no chromium on PATH; ./scripts/setup.sh installs it")
	return ""
}

// buildPage builds the page's directory: index.html, the light client
// compiled to WebAssembly, and the Go distribution's wasm_exec.js.
func buildPage(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "main.wasm"), ".")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build wasm: %v\n%s", err, out)
	}
	var shim []byte
	for _, p := range []string{filepath.Join(runtime.GOROOT(), "lib", "wasm", "wasm_exec.js"), filepath.Join(runtime.GOROOT(), "misc", "wasm", "wasm_exec.js")} {
		if b, err := os.ReadFile(p); err == nil {
			shim = b
			break
		}
	}
	if shim == nil {
		t.Fatal("no wasm_exec.js in GOROOT")
	}
	html, err := os.ReadFile("index.html")
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"wasm_exec.js": shim, "index.html": html} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// pageResult loads url in headless chromium and returns the page's proof
// state and value once its WebAssembly has run. It drives the browser over
// the DevTools protocol on a pipe (--remote-debugging-pipe: JSON messages
// ending in NUL on file descriptors 3 and 4), polling the DOM for at most a
// minute; --dump-dom alone would not wait for the wasm module.
func pageResult(t *testing.T, browser, url string) (state, detail string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	toChrome, ourEnd, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	fromChrome, chromeEnd, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
		"--disable-dev-shm-usage", "--user-data-dir="+t.TempDir(), "--remote-debugging-pipe", "about:blank")
	cmd.ExtraFiles = []*os.File{toChrome, chromeEnd} // fds 3 (chrome reads) and 4 (chrome writes)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	toChrome.Close()
	chromeEnd.Close()
	defer func() {
		ourEnd.Close()
		cmd.Process.Kill()
		cmd.Wait()
	}()
	rd := bufio.NewReader(fromChrome)
	nextID := 0
	call := func(session, method string, params any) map[string]any {
		t.Helper()
		nextID++
		msg := map[string]any{"id": nextID, "method": method, "params": params}
		if session != "" {
			msg["sessionId"] = session
		}
		b, _ := json.Marshal(msg)
		if _, err := ourEnd.Write(append(b, 0)); err != nil {
			t.Fatalf("devtools write: %v\n%s", err, stderr.String())
		}
		for {
			line, err := rd.ReadBytes(0)
			if err != nil {
				t.Fatalf("devtools read: %v\n%s", err, stderr.String())
			}
			var resp struct {
				ID     int
				Result map[string]any
				Error  map[string]any
			}
			if json.Unmarshal(line[:len(line)-1], &resp) != nil || resp.ID != nextID {
				continue // an event
			}
			if resp.Error != nil {
				t.Fatalf("devtools %s: %v", method, resp.Error)
			}
			return resp.Result
		}
	}
	target := call("", "Target.createTarget", map[string]any{"url": url})["targetId"]
	session, _ := call("", "Target.attachToTarget", map[string]any{"targetId": target, "flatten": true})["sessionId"].(string)
	expr := `(() => { const s = document.getElementById("status"); const d = document.getElementById("detail");
		return s && d ? s.getAttribute("data-state") + "\n" + d.textContent : "pending\n"; })()`
	for ctx.Err() == nil {
		res := call(session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true})
		v, _ := res["result"].(map[string]any)["value"].(string)
		state, detail, _ = strings.Cut(v, "\n")
		if state != "pending" && state != "" {
			return state, detail
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("the page did not finish within the time limit\n%s", stderr.String())
	return
}

// TestBrowserLightClient runs the light client compiled to WebAssembly in
// real headless Chromium: the page, served from one origin, fetches a
// range proof from a wasmstate server on another (CORS), shows the value
// only after verifying it, and shows a rejection when the server tampers.
func TestBrowserLightClient(t *testing.T) {
	browser := chromium(t)
	page := httptest.NewServer(http.FileServer(http.Dir(buildPage(t))))
	defer page.Close()

	f := servetest.New(t, "", 1, 1)
	api := func(tamper bool) *httptest.Server {
		h := serve.New(f.E, serve.Config{CORSOrigins: []string{page.URL}, TamperForTesting: tamper, Logger: servetest.Quiet})
		s := httptest.NewServer(h)
		t.Cleanup(func() { h.Close(); s.Close() })
		return s
	}
	honest, liar := api(false), api(true)
	counter := f.Counters[0] // its value, 252, is the u64 at offset 0
	open := func(server string) (string, string) {
		q := url.Values{"server": {server}, "root": {f.Head().String()}, "contract": {counter.String()},
			"offset": {"0"}, "length": {"8"}}
		return pageResult(t, browser, page.URL+"/index.html?"+q.Encode())
	}
	state, detail := open(honest.URL)
	if state != "verified" || detail != "252 (0xfc00000000000000)" {
		t.Fatalf("honest server: the page shows %s: %s", state, detail)
	}
	state, detail = open(liar.URL)
	if state != "rejected" || !strings.Contains(detail, "proof does not verify") || strings.Contains(detail, "252") {
		t.Fatalf("tampering server: the page shows %s: %s", state, detail)
	}
	fmt.Println("browser: verified value shown, tampered proof rejected")
}
