package instrument

// imm is the shape of an instruction's immediates. The zero value marks an
// opcode this package does not know, which fails the decode.
type imm uint8

const (
	immNone    imm = iota + 1
	immBlock       // block type (block, loop, if)
	immIdx         // one u32: a label, local, global, table, data or element index
	immIdx2        // two u32 (call_indirect, memory.init, table.copy...)
	immBrTable     // vec(label) label
	immSelect      // vec(valtype)
	immMemArg      // align (bit 6: a memory index follows), offset u64
	immMemLane     // memarg, then a lane byte
	immMem         // u32 memory index (memory.size)
	immGrow        // u32 memory index of memory.grow: where the hook goes
	immFunc        // u32 function index: shifted by the rewrite
	immI32         // s32
	immI64         // s64
	immF32         // 4 bytes
	immF64         // 8 bytes
	immHeap        // heap type, s33 (ref.null)
	immLane        // one lane byte
	immV128        // 16 bytes (v128.const, i8x16.shuffle)
)

// The opcodes of the features the engine's wasmtime configuration enables
// (engine.WasmtimeConfig): the core instructions with sign extension,
// non-trapping float-to-int, bulk memory, reference types, multi-value and
// memory64, and 128-bit SIMD without relaxed SIMD. Tail calls
// (return_call, return_call_indirect) are decoded too, although the
// engine disables them: a function index is a function index. Threads,
// exceptions, GC, function references, wide arithmetic and relaxed SIMD
// are not: a module using them fails to decode, as it fails to compile.
var (
	ops   [256]imm // one-byte opcodes
	fcOps [18]imm  // 0xFC prefix
	fdOps [256]imm // 0xFD prefix (SIMD)
)

const (
	opBlock  = 0x02
	opLoop   = 0x03
	opIf     = 0x04
	opEnd    = 0x0B
	opCall   = 0x10
	opGrow   = 0x40
	prefixFC = 0xFC
	prefixFD = 0xFD
)

func set(t []imm, lo, hi int, k imm) {
	for i := lo; i <= hi; i++ {
		t[i] = k
	}
}

func init() {
	set(ops[:], 0x00, 0x01, immNone) // unreachable, nop
	set(ops[:], 0x02, 0x04, immBlock)
	ops[0x05] = immNone             // else
	ops[0x0B] = immNone             // end
	set(ops[:], 0x0C, 0x0D, immIdx) // br, br_if
	ops[0x0E] = immBrTable
	ops[0x0F] = immNone              // return
	ops[0x10] = immFunc              // call
	ops[0x11] = immIdx2              // call_indirect type table
	ops[0x12] = immFunc              // return_call
	ops[0x13] = immIdx2              // return_call_indirect
	set(ops[:], 0x1A, 0x1B, immNone) // drop, select
	ops[0x1C] = immSelect
	set(ops[:], 0x20, 0x26, immIdx) // local.get/set/tee, global.get/set, table.get/set
	set(ops[:], 0x28, 0x3E, immMemArg)
	ops[0x3F] = immMem
	ops[0x40] = immGrow
	ops[0x41] = immI32
	ops[0x42] = immI64
	ops[0x43] = immF32
	ops[0x44] = immF64
	set(ops[:], 0x45, 0xC4, immNone) // numeric, sign extension
	ops[0xD0] = immHeap              // ref.null
	ops[0xD1] = immNone              // ref.is_null
	ops[0xD2] = immFunc              // ref.func

	set(fcOps[:], 0, 7, immNone)  // trunc_sat
	fcOps[8] = immIdx2            // memory.init data mem
	fcOps[9] = immIdx             // data.drop
	fcOps[10] = immIdx2           // memory.copy mem mem
	fcOps[11] = immIdx            // memory.fill mem
	fcOps[12] = immIdx2           // table.init elem table
	fcOps[13] = immIdx            // elem.drop
	fcOps[14] = immIdx2           // table.copy
	set(fcOps[:], 15, 17, immIdx) // table.grow, table.size, table.fill

	set(fdOps[:], 0x00, 0x0B, immMemArg) // loads, load-extend, load-splat, store
	set(fdOps[:], 0x0C, 0x0D, immV128)   // v128.const, i8x16.shuffle
	set(fdOps[:], 0x0E, 0x14, immNone)   // swizzle, splats
	set(fdOps[:], 0x15, 0x22, immLane)   // extract_lane, replace_lane
	set(fdOps[:], 0x23, 0x53, immNone)   // comparisons, bitwise
	set(fdOps[:], 0x54, 0x5B, immMemLane)
	set(fdOps[:], 0x5C, 0x5D, immMemArg) // load32_zero, load64_zero
	set(fdOps[:], 0x5E, 0xFF, immNone)
	// Unassigned SIMD opcodes.
	for _, op := range []int{0x9A, 0xA2, 0xA5, 0xA6, 0xAF, 0xB0, 0xB2, 0xB3, 0xB4, 0xBB,
		0xC2, 0xC5, 0xC6, 0xCF, 0xD0, 0xD2, 0xD3, 0xD4, 0xE2, 0xEE} {
		fdOps[op] = 0
	}
}
