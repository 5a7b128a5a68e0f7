package main

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// inProcess runs statectl's run in this process with the given terminal
// flags, for what the binary cannot show (a terminal, a panic).
func inProcess(stdoutTTY, stderrTTY bool, stdout *bytes.Buffer, args ...string) (code int, stderr string) {
	var se bytes.Buffer
	c := &cli{stdin: strings.NewReader(""), stdout: stdout, stderr: &se, stdoutTTY: stdoutTTY, stderrTTY: stderrTTY,
		getenv: func(string) string { return "" }}
	code = run(args, c)
	return code, se.String()
}

func TestHelp(t *testing.T) {
	r := ok(t, "", "--help")
	for _, c := range commands() {
		if !strings.Contains(r.stdout, "  "+c.name+" ") {
			t.Errorf("--help does not list %s", c.name)
		}
	}
	for _, want := range []string{"Exit codes:", "WASMSTATE_DB", "Examples:"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
	for _, c := range commands() {
		for _, args := range [][]string{{c.name, "--help"}, {c.name, "-h"}, {"help", c.name}} {
			var out bytes.Buffer
			code, stderr := inProcess(false, false, &out, args...)
			h := out.String()
			if code != 0 || stderr != "" || !strings.HasPrefix(h, "usage: statectl "+c.name) ||
				!strings.Contains(h, "Examples:\n  ") || !strings.Contains(h, "Exit codes") || !strings.Contains(h, "--json") {
				t.Errorf("%v: exit %d, stderr %q:\n%s", args, code, stderr, h)
			}
			if c.store != strings.Contains(h, "--db DIR") || c.store != strings.Contains(h, "$WASMSTATE_DB") {
				t.Errorf("%v: --db in help does not match store=%v:\n%s", args, c.store, h)
			}
		}
	}
}

// A binary proof is not written to a terminal; the refusal comes before
// the store is opened.
func TestProveRefusesTerminal(t *testing.T) {
	id := strings.Repeat("01", 32)
	var out bytes.Buffer
	code, stderr := inProcess(true, false, &out, "prove", id, "--page", "0", "--db", filepath.Join(t.TempDir(), "none"))
	if code != exitUsage || !strings.Contains(stderr, "refusing to write a binary proof to a terminal") ||
		strings.Count(stderr, "\n") != 1 || out.Len() != 0 {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

type panicWriter struct{}

func (panicWriter) Write([]byte) (int, error) { panic("boom\nsecond line") }

// A panic anywhere below run is one line on stderr, exit 1.
func TestPanicIsOneLine(t *testing.T) {
	var se bytes.Buffer
	c := &cli{stdin: strings.NewReader(""), stdout: panicWriter{}, stderr: &se, getenv: func(string) string { return "" }}
	code := run([]string{"--help"}, c)
	if code != exitInternal || se.String() != "statectl: internal error (a bug in statectl, please report it): boom | second line\n" {
		t.Errorf("exit %d, stderr %q", code, se.String())
	}
	se.Reset()
	proof := filepath.Join(t.TempDir(), "p")
	os.WriteFile(proof, []byte{1, 2, 3}, 0o644)
	code = run([]string{"verify", "--root", strings.Repeat("00", 32), proof, "--json"}, c)
	if code != exitInternal || !strings.HasPrefix(se.String(), "statectl: verify: internal error (a bug in statectl, please report it): boom") || strings.Count(se.String(), "\n") != 1 {
		t.Errorf("exit %d, stderr %q", code, se.String())
	}
}

func TestParseArgs(t *testing.T) {
	c := &cli{cmd: callCmd, stdout: &bytes.Buffer{}, getenv: func(string) string { return "" }}
	fs := c.flags()
	arg := fs.String("arg", "", "")
	commit := fs.Bool("commit", false, "")
	var meta metaFlag
	fs.Var(&meta, "meta", "")
	pos, err := c.parse(fs, []string{"ID", "--arg", "u64:5", "fn", "--meta", "a=u8:1", "--commit", "--meta", "b=0x0203", "--", "--x"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(pos, " ") != "ID fn --x" || *arg != "u64:5" || !*commit || strings.Join(meta.keys, ",") != "a,b" ||
		!bytes.Equal(meta.vals["a"], []byte{1}) || !bytes.Equal(meta.vals["b"], []byte{2, 3}) {
		t.Errorf("pos %q arg %q commit %v meta %v", pos, *arg, *commit, meta)
	}
	if _, err := c.parse(c.flags(), []string{"--nope"}); exitCode(err) != exitUsage {
		t.Errorf("unknown flag: %v", err)
	}
}

func TestParseValue(t *testing.T) {
	file := filepath.Join(t.TempDir(), "v")
	os.WriteFile(file, []byte{9, 8, 7}, 0o644)
	for in, want := range map[string]string{
		"":                "",
		"0a0b":            "0a0b",
		"0x0a0b":          "0a0b",
		"u64:42":          "2a00000000000000",
		"u8:1":            "01",
		"bool:true":       "01",
		"(u8:1,u64:2)":    "01000000000000000200000000000000",
		"@" + file:        "090807",
		"hex:":            "",
		"id:" + hexID(7):  hexID(7),
		"(u32:1, u32:2,)": "0100000002000000",
	} {
		got, err := parseValue(in)
		if err != nil || hex.EncodeToString(got) != want {
			t.Errorf("parseValue(%q) = %x, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"0xabc", "zz", "u64:x", "@" + file + ".missing", "u8:256", "(u8:1"} {
		if _, err := parseValue(in); exitCode(err) != exitUsage {
			t.Errorf("parseValue(%q): %v", in, err)
		}
	}
}

func hexID(b byte) string { return strings.Repeat(hex.EncodeToString([]byte{b}), 32) }

func TestParseMisc(t *testing.T) {
	if h, err := parseHash32("root", "0x"+hexID(0xab)); err != nil || h[0] != 0xab {
		t.Errorf("0x root: %v", err)
	}
	for _, bad := range []string{"", "ab", hexID(1) + "00", strings.Repeat("g", 64)} {
		if _, err := parseHash32("root", bad); exitCode(err) != exitUsage {
			t.Errorf("parseHash32(%q): %v", bad, err)
		}
	}
	if o, l, err := parseRange("0x1000:16"); err != nil || o != 4096 || l != 16 {
		t.Errorf("range: %d %d %v", o, l, err)
	}
	for _, bad := range []string{"5", "1:0", "a:1", "1:", ":1"} {
		if _, _, err := parseRange(bad); exitCode(err) != exitUsage {
			t.Errorf("parseRange(%q): %v", bad, err)
		}
	}
	if got := pageRanges([]uint64{0, 1, 2, 5, 7, 8}); got != "0-2, 5, 7-8" {
		t.Errorf("pageRanges: %s", got)
	}
	if got := oneLine("a\n  b\n\nc\nStack backtrace:\n 0: x"); got != "a | b | c" {
		t.Errorf("oneLine: %q", got)
	}
}

func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code int
	}{
		{failf("x"), exitFail},
		{badInputf("x"), exitUsage},
		{withCode(exitStore, errors.New("x")), exitStore},
		{errors.New("anything else"), exitFail},
	} {
		if got := exitCode(tc.err); got != tc.code {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.code)
		}
	}
}

func TestProgressBar(t *testing.T) {
	// Piped: nothing at all.
	var buf bytes.Buffer
	p := &progressBar{w: &buf, on: false, label: "fsck", start: time.Now()}
	p.update(1, 2)
	p.spin()
	p.finish()
	if buf.Len() != 0 {
		t.Errorf("progress drawn on a pipe: %q", buf.String())
	}
	// Terminal: a bar redrawn in place, erased at the end.
	p = &progressBar{w: &buf, on: true, label: "fsck", start: time.Now()}
	p.update(5, 10)
	if !strings.Contains(buf.String(), "\rfsck [###############---------------]  50% 5/10") {
		t.Errorf("bar: %q", buf.String())
	}
	p.finish()
	if !strings.HasSuffix(buf.String(), "\r\x1b[K") {
		t.Errorf("bar not erased: %q", buf.String())
	}
	buf.Reset()
	p = &progressBar{w: &buf, on: true, label: "gc", start: time.Now()}
	p.spin()
	time.Sleep(50 * time.Millisecond)
	p.finish()
	if !strings.Contains(buf.String(), "gc [") || !strings.HasSuffix(buf.String(), "\r\x1b[K") {
		t.Errorf("spinner: %q", buf.String())
	}
	if got := renderBar("x", 0, 0, 0); !strings.Contains(got, "====") {
		t.Errorf("indeterminate bar: %q", got)
	}
}

// Bars show the rate and, once measurable, the time left; gc's bar is
// drawn from the share done; --quiet draws nothing.
func TestProgressRateAndETA(t *testing.T) {
	if got := rateETA(1000, 0.25, 2*time.Second); got != "2.0s 500/s ETA 6s" {
		t.Errorf("rateETA: %q", got)
	}
	if got := rateETA(10, 0.005, 2*time.Second); strings.Contains(got, "ETA") {
		t.Errorf("ETA from too little progress: %q", got)
	}
	if got := renderBar("fsck", 50, 200, 10*time.Second); !strings.Contains(got, " 25% 50/200 10.0s 5/s ETA 30s") {
		t.Errorf("fsck bar: %q", got)
	}
	var buf bytes.Buffer
	p := &progressBar{w: &buf, on: true, label: "gc", start: time.Now().Add(-4 * time.Second)}
	p.fraction("gc sweep", 4000, 0.5)
	if !strings.Contains(buf.String(), "gc sweep [###############---------------]  50% 4000 objects") || !strings.Contains(buf.String(), "ETA 4s") {
		t.Errorf("gc bar: %q", buf.String())
	}
	buf.Reset()
	c := &cli{stderr: &buf, stderrTTY: true, quiet: true}
	q := c.progress("gc")
	q.fraction("gc mark", 1, 0.5)
	q.update(1, 2)
	if buf.Len() != 0 {
		t.Errorf("--quiet drew %q", buf.String())
	}
}
