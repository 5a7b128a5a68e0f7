package bench

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	wasmvm "github.com/CosmWasm/wasmvm/v3"
	"github.com/CosmWasm/wasmvm/v3/types"
)

// BenchmarkCosmWasmQuery is a call-latency peer: CosmWasm's wasmvm (v3,
// libwasmvm shipped inside the Go module, wasmer underneath) running the
// "verifier" query of its hackatom test contract (a real Rust contract from
// the module's testdata): JSON env, one storage read through a Go
// callback, a JSON result. It is more work per call than counter's
// read_value (JSON in and out, a storage callback), so it bounds what a
// production contract VM pays per call rather than matching it op for op.
// The contract is instantiated once, outside the timing, with its
// in-memory cache warm.
func BenchmarkCosmWasmQuery(b *testing.B) {
	code, err := hackatomWasm()
	if err != nil {
		b.Skipf("hackatom.wasm from the wasmvm module: %v", err)
	}
	vm, err := wasmvm.NewVMWithConfig(types.VMConfig{Cache: types.CacheOptions{
		BaseDir:                  b.TempDir(),
		AvailableCapabilities:    []string{"iterator", "staking", "stargate"},
		MemoryCacheSizeBytes:     types.NewSizeMebi(100),
		InstanceMemoryLimitBytes: types.NewSizeMebi(32),
	}}, false)
	if err != nil {
		b.Fatal(err)
	}
	defer vm.Cleanup()
	const gasLimit = 500_000_000_000
	checksum, _, err := vm.StoreCode(code, gasLimit)
	if err != nil {
		b.Fatal(err)
	}
	if err := vm.Pin(checksum); err != nil {
		b.Fatal(err)
	}
	store := mapKV{}
	api := types.GoAPI{HumanizeAddress: cwHumanize, CanonicalizeAddress: cwCanonicalize, ValidateAddress: cwValidate}
	var q cwQuerier
	env := types.Env{Block: types.BlockInfo{Height: 123, Time: 1578939743_987654321, ChainID: "bench"},
		Contract: types.ContractInfo{Address: "contract"}}
	deser := types.UFraction{Numerator: 1, Denominator: 1}
	res, _, err := vm.Instantiate(checksum, env, types.MessageInfo{Sender: "creator"},
		[]byte(`{"verifier": "fred", "beneficiary": "bob"}`), store, api, &q, &cwGas{}, gasLimit, deser)
	if err != nil || res.Err != "" {
		b.Fatalf("instantiate: %v %v", err, res)
	}
	query := func() {
		r, _, err := vm.Query(checksum, env, []byte(`{"verifier":{}}`), store, api, &q, &cwGas{}, gasLimit, deser)
		if err != nil || r.Err != "" {
			b.Fatalf("query: %v %v", err, r)
		}
	}
	query()
	cgo0 := runtime.NumCgoCall()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU()
	for range b.N {
		query()
	}
	b.StopTimer()
	cpu.report(b)
	b.ReportMetric(float64(runtime.NumCgoCall()-cgo0)/float64(b.N), "cgo-calls/op")
}

// hackatomWasm reads testdata/hackatom.wasm of the wasmvm module from the
// module cache.
func hackatomWasm() ([]byte, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/CosmWasm/wasmvm/v3").Output()
	if err != nil {
		return nil, err
	}
	return os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "testdata", "hackatom.wasm"))
}

// mapKV is a types.KVStore without iteration (hackatom's instantiate and
// verifier query do not iterate).
type mapKV map[string][]byte

func (m mapKV) Get(k []byte) []byte { return m[string(k)] }
func (m mapKV) Set(k, v []byte)     { m[string(k)] = append([]byte(nil), v...) }
func (m mapKV) Delete(k []byte)     { delete(m, string(k)) }
func (m mapKV) Iterator(_, _ []byte) types.Iterator {
	panic("bench: iteration not supported")
}
func (m mapKV) ReverseIterator(_, _ []byte) types.Iterator {
	panic("bench: iteration not supported")
}

type cwGas struct{ used uint64 }

func (g *cwGas) GasConsumed() types.Gas { return g.used }

type cwQuerier struct{}

func (cwQuerier) Query(types.QueryRequest, uint64) ([]byte, error) { return nil, nil }
func (cwQuerier) GasConsumed() uint64                              { return 0 }

// The address functions of wasmvm's own mocks: a human address is its
// bytes, zero-padded to 32.
func cwCanonicalize(human string) ([]byte, uint64, error) {
	res := make([]byte, 32)
	copy(res, human)
	return res, 440, nil
}

func cwHumanize(canon []byte) (string, uint64, error) {
	cut := len(canon)
	for i, v := range canon {
		if v == 0 {
			cut = i
			break
		}
	}
	return string(canon[:cut]), 550, nil
}

func cwValidate(string) (uint64, error) { return 990, nil }
