package engine

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/wasmstate/wasmstate/hostfns"
	"github.com/wasmstate/wasmstate/merkle"
)

// gasTranscript is testdata/gas/transcript.json: calls of gasmeter.wat with
// the operations each performs, counted by hand from the contract.
type gasTranscript struct {
	Prices   map[string]uint64 `json:"prices"`
	Queries  map[string]uint64 `json:"queries"`
	Owner    string            `json:"owner"`
	Metadata map[string]string `json:"metadata"`
	Calls    []gasCall         `json:"calls"`
}

type gasCall struct {
	Fn       string            `json:"fn"`
	Note     string            `json:"note"`
	Arg      string            `json:"arg"`
	Feed     bool              `json:"feed"`
	GasLimit uint64            `json:"gas_limit"`
	Error    string            `json:"error"`
	Ops      map[string]uint64 `json:"ops"`
	// BeforeCallee, when set, is what the call spends before its nested
	// call with gas 0 starts: the failed callee then costs
	// CalleeGasPercent of the rest.
	BeforeCallee map[string]uint64 `json:"before_callee"`
}

const transcriptGas = 1_000_000

// priceConstants are the Go constants the transcript's prices must equal.
var priceConstants = map[string]uint64{
	"fuel":             1,
	"GasHostCall":      hostfns.GasHostCall,
	"GasPerByte":       hostfns.GasPerByte,
	"GasCallBase":      hostfns.GasCallBase,
	"GasEventBase":     hostfns.GasEventBase,
	"GasEventByte":     hostfns.GasEventByte,
	"GasQueryByte":     hostfns.GasQueryByte,
	"GasEphemeralByte": hostfns.GasEphemeralByte,
	"GasPageWrite":     GasPageWrite,
	"GasMemoryGrow":    GasMemoryGrow,
	"GasGrowHook":      GasGrowHook,
	"GasFrameFailure":  GasFrameFailure,
	"GasStackOverflow": GasStackOverflow,
	"CalleeGasPercent": CalleeGasPercent,
}

func loadTranscript(t *testing.T) *gasTranscript {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "gas", "transcript.json"))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var tr struct {
		About string `json:"about"`
		gasTranscript
	}
	if err := dec.Decode(&tr); err != nil {
		t.Fatalf("transcript.json: %v", err)
	}
	if len(tr.Calls) == 0 {
		t.Fatal("transcript.json: no calls")
	}
	return &tr.gasTranscript
}

// price returns the price of one op of the transcript: a price of the
// table, a host query's price, or 1 for the gas units a failed callee's
// limit stands for.
func (tr *gasTranscript) price(t *testing.T, op string) uint64 {
	t.Helper()
	if p, ok := tr.Prices[op]; ok {
		return p
	}
	if q, ok := strings.CutPrefix(op, "query:"); ok {
		if p, ok := tr.Queries[q]; ok {
			return p
		}
	}
	if op == "failed_callee_limit" {
		return 1
	}
	t.Fatalf("transcript: unknown operation %q", op)
	return 0
}

// cost is the gas of ops at the transcript's prices.
func (tr *gasTranscript) cost(t *testing.T, ops map[string]uint64) uint64 {
	var sum uint64
	for op, n := range ops {
		sum += n * tr.price(t, op)
	}
	return sum
}

// expected is what call c must cost under gasLimit.
func (tr *gasTranscript) expected(t *testing.T, c gasCall, gasLimit uint64) uint64 {
	if c.Ops["limit"] > 0 {
		return gasLimit
	}
	sum := tr.cost(t, c.Ops)
	if c.BeforeCallee != nil {
		left := gasLimit - tr.cost(t, c.BeforeCallee)
		sum += left / 100 * tr.Prices["CalleeGasPercent"]
	}
	return sum
}

// explain names the operations whose price, times their count, is the
// difference between what a call cost and what the transcript expects.
func (tr *gasTranscript) explain(t *testing.T, c gasCall, got, want uint64) string {
	ops := slices.Sorted(func(yield func(string) bool) {
		for op := range c.Ops {
			if !yield(op) {
				return
			}
		}
	})
	var parts, suspects []string
	for _, op := range ops {
		n := c.Ops[op]
		parts = append(parts, fmt.Sprintf("%s×%d", op, n))
		p := tr.price(t, op)
		if n == 0 || p == 0 {
			continue
		}
		if d := int64(got) - int64(want); d%int64(n) == 0 && int64(p)+d/int64(n) >= 0 {
			suspects = append(suspects, fmt.Sprintf("%s (price %d, charged as %d per op)", op, p, int64(p)+d/int64(n)))
		}
	}
	s := fmt.Sprintf("expected %s = %d, engine charged %d (difference %+d)", strings.Join(parts, " + "), want, got, int64(got)-int64(want))
	if len(suspects) > 0 {
		s += "; consistent with a change of " + strings.Join(suspects, " or ")
	}
	return s
}

// TestGasPricesAgree checks the price table three ways: the Go constants,
// the transcript and SPEC.md §11 must say the same.
func TestGasPricesAgree(t *testing.T) {
	tr := loadTranscript(t)
	spec := specPrices(t)
	for name, v := range priceConstants {
		if got, ok := tr.Prices[name]; !ok || got != v {
			t.Errorf("price %s: Go constant %d, transcript.json %d (present %v)", name, v, got, ok)
		}
		if name == "fuel" || name == "CalleeGasPercent" {
			continue
		}
		if got, ok := spec[name]; !ok || got != v {
			t.Errorf("price %s: Go constant %d, SPEC.md §11 %d (present %v)", name, v, got, ok)
		}
	}
	for name := range tr.Prices {
		if _, ok := priceConstants[name]; !ok {
			t.Errorf("transcript.json prices %s, which is no Go constant", name)
		}
	}
	for name := range spec {
		if _, ok := priceConstants[name]; !ok {
			t.Errorf("SPEC.md §11 prices %s, which is no Go constant", name)
		}
	}
}

// specPrices reads the price table of SPEC.md §11.
func specPrices(t *testing.T) map[string]uint64 {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "SPEC.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "\n## 11. Gas\n")
	if !ok {
		t.Fatal("SPEC.md: no section 11. Gas")
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	row := regexp.MustCompile("(?m)^\\| `(Gas\\w+)` \\| ([0-9,]+) \\|")
	out := map[string]uint64{}
	for _, m := range row.FindAllStringSubmatch(sec, -1) {
		v, err := strconv.ParseUint(strings.ReplaceAll(m[2], ",", ""), 10, 64)
		if err != nil {
			t.Fatalf("SPEC.md §11 %s: %v", m[1], err)
		}
		out[m[1]] = v
	}
	if len(out) == 0 {
		t.Fatal("SPEC.md §11: no price rows")
	}
	return out
}

// TestGasTranscript runs every priced operation of SPEC.md §11 (each host
// function, page writes, growth, events, queries, ephemeral data, feed,
// nested calls succeeding, failing, out of gas and missing, failures at
// top level) and requires each call's gas to be the transcript's operation
// counts at the transcript's prices.
func TestGasTranscript(t *testing.T) {
	tr := loadTranscript(t)
	forEachTracker(t, func(t *testing.T, kind mode) {
		queries := map[string]HostQuery{}
		for name, price := range tr.Queries {
			if name != "double" {
				t.Fatalf("transcript: query %q has no implementation here", name)
			}
			queries[name] = HostQuery{Gas: price, Fn: func(a []byte) ([]byte, error) { return slices.Concat(a, a), nil }}
		}
		o := kind.options()
		o.Queries = queries
		e, err := OpenInMemory(o)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		meta := map[string][]byte{}
		for k, v := range tr.Metadata {
			if meta[k], err = hex.DecodeString(v); err != nil {
				t.Fatalf("transcript metadata %s: %v", k, err)
			}
		}
		s, err := e.NewSession(merkle.EmptyState(), SessionOptions{Metadata: meta, Debug: true})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		code := wasm(t, "gasmeter")
		meter, err := s.Deploy(context.Background(), code, DeployOptions{Owner: []byte(tr.Owner)})
		if err != nil {
			t.Fatal(err)
		}
		callee, err := s.Deploy(context.Background(), code, DeployOptions{Owner: []byte(tr.Owner), Nonce: 1})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for i, c := range tr.Calls {
			arg := []byte(c.Arg)
			if c.Arg == "id:callee" {
				arg = callee[:]
			}
			limit := c.GasLimit
			if limit == 0 {
				limit = transcriptGas
			}
			var fed [][]byte
			var feed func([]byte) error
			if c.Feed {
				feed = func(b []byte) error { fed = append(fed, b); return nil }
			}
			before := root(t, s)
			r, err := s.CallFeed(context.Background(), meter, c.Fn, arg, limit, feed)
			var got uint64
			switch {
			case c.Error == "" && err != nil:
				t.Fatalf("call %d %s: %v", i, c.Fn, err)
			case c.Error != "":
				var ce *CallError
				if !errors.As(err, &ce) {
					t.Fatalf("call %d %s: want a %s failure, got %v", i, c.Fn, c.Error, err)
				}
				want := map[string]error{"panic": ErrPanic, "out_of_gas": ErrOutOfGas, "trap": ErrTrap}[c.Error]
				if want == nil || !errors.Is(err, want) {
					t.Fatalf("call %d %s: want %s, got %v", i, c.Fn, c.Error, err)
				}
				if after := root(t, s); after != before {
					t.Fatalf("call %d %s: the failed call changed the root", i, c.Fn)
				}
				got = ce.GasSpent
			default:
				got = r.GasSpent
			}
			if want := tr.expected(t, c, limit); got != want {
				t.Errorf("call %d %s: %s", i, c.Fn, tr.explain(t, c, got, want))
			}
			if c.Feed && (len(fed) != 1 || string(fed[0]) != c.Arg) {
				t.Errorf("call %d %s: fed %q", i, c.Fn, fed)
			}
			for op, n := range c.Ops {
				if n > 0 {
					seen[op] = true
				}
			}
			for op := range c.BeforeCallee {
				seen[op] = true
			}
		}
		// Every price of the table is exercised, and every host function.
		for name := range tr.Prices {
			if !seen[name] && name != "CalleeGasPercent" {
				t.Errorf("no call of the transcript exercises %s", name)
			}
		}
		if !slices.ContainsFunc(tr.Calls, func(c gasCall) bool { return c.BeforeCallee != nil }) {
			t.Error("no call of the transcript exercises CalleeGasPercent")
		}
		src, err := os.ReadFile(filepath.Join("..", "testdata", "contracts", "gasmeter.wat"))
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range hostfns.Imports {
			if !strings.Contains(string(src), fmt.Sprintf("(import \"env\" %q", imp.Name)) {
				t.Errorf("gasmeter.wat does not import %s", imp.Name)
			}
		}
	})
}
