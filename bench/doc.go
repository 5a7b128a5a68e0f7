// Package bench holds wasmstate's performance benchmarks. Every performance
// claim in the project is a benchmark here; run them with ./run.sh, which
// reports medians with benchstat. See README.md in this directory.
package bench
