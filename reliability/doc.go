// Package reliability holds wasmstate's reliability and security tests:
// crash safety under SIGKILL, detection of on-disk corruption, fuzzing of
// module deploys, host functions and session metadata with hostile input,
// resource abuse, isolation between contracts and sessions, determinism,
// concurrency and malformed input through the public API.
//
// The package has no non-test code. RELIABILITY.md at the repository root
// says what each test checks, how to run the long modes, and the figures of
// the last long runs. The contracts it uses are in testdata/ (fuzzer.wat,
// fuzzer64.wat, floats.wat) and ../testdata/contracts/.
package reliability
