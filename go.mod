module github.com/wasmstate/wasmstate

go 1.26

require (
	github.com/bytecodealliance/wasmtime-go/v39 v39.0.1
	github.com/hashicorp/golang-lru/v2 v2.0.7
	github.com/syndtr/goleveldb v1.0.0
	github.com/zeebo/blake3 v0.2.4
)

require (
	github.com/golang/snappy v0.0.0-20180518054509-2e65f85255db // indirect
	github.com/klauspost/cpuid/v2 v2.0.12 // indirect
)
