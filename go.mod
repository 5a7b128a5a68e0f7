module github.com/wasmstate/wasmstate

go 1.26

require (
	github.com/bytecodealliance/wasmtime-go/v39 v39.0.1 // indirect
	github.com/hashicorp/golang-lru/v2 v2.0.7 // indirect
	github.com/klauspost/cpuid/v2 v2.0.12 // indirect
	github.com/syndtr/goleveldb v1.0.0 // indirect
	github.com/zeebo/blake3 v0.2.4 // indirect
)
