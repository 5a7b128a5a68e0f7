package instrument_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/bytecodealliance/wasmtime-go/v39"

	"github.com/wasmstate/wasmstate/engine"
	"github.com/wasmstate/wasmstate/engine/internal/instrument"
)

// textOf gives each opcode the decoder knows its text format, with
// immediates: wasmtime's own assembler encodes it, so the test checks the
// decoder's immediates against an independent encoder.
var textOf = map[uint32]string{
	0x00: "unreachable", 0x01: "nop", 0x02: "block end", 0x03: "loop end", 0x04: "if end",
	0x05: "if else end", 0x0B: "block end", 0x0C: "br 0", 0x0D: "br_if 0", 0x0E: "br_table 0 0 0",
	0x0F: "return", 0x10: "call 0", 0x11: "call_indirect (type 0)", 0x12: "return_call 0",
	0x13: "return_call_indirect (type 0)", 0x1A: "drop", 0x1B: "select", 0x1C: "select (result i32)",
	0x20: "local.get 1", 0x21: "local.set 1", 0x22: "local.tee 1", 0x23: "global.get 0",
	0x24: "global.set 0", 0x25: "table.get 0", 0x26: "table.set 0",
	0x3F: "memory.size", 0x40: "memory.grow", 0x41: "i32.const -123456", 0x42: "i64.const -1234567890123",
	0x43: "f32.const 1.5", 0x44: "f64.const 2.5",
	0xD0: "ref.null func", 0xD1: "ref.is_null", 0xD2: "ref.func 0",
	0xFC0008: "memory.init 0", 0xFC0009: "data.drop 0", 0xFC000A: "memory.copy", 0xFC000B: "memory.fill",
	0xFC000C: "table.init 0", 0xFC000D: "elem.drop 0", 0xFC000E: "table.copy", 0xFC000F: "table.grow 0",
	0xFC0010: "table.size 0", 0xFC0011: "table.fill 0",
	0xFD000C: "v128.const i32x4 1 -2 300000 4",
	0xFD000D: "i8x16.shuffle 31 0 1 2 3 4 5 6 7 8 9 10 11 12 13 30",
}

// Opcodes named without immediates, in opcode order from base.
func init() {
	plain := func(base uint32, names string) {
		for i, n := range strings.Fields(names) {
			if n != "-" {
				textOf[base+uint32(i)] = n
			}
		}
	}
	mem := func(base uint32, suffix, names string) {
		for i, n := range strings.Fields(names) {
			textOf[base+uint32(i)] = n + " offset=70000 align=1" + suffix
		}
	}
	mem(0x28, "", `i32.load i64.load f32.load f64.load i32.load8_s i32.load8_u i32.load16_s i32.load16_u
		i64.load8_s i64.load8_u i64.load16_s i64.load16_u i64.load32_s i64.load32_u i32.store i64.store
		f32.store f64.store i32.store8 i32.store16 i64.store8 i64.store16 i64.store32`)
	plain(0x45, `i32.eqz i32.eq i32.ne i32.lt_s i32.lt_u i32.gt_s i32.gt_u i32.le_s i32.le_u i32.ge_s i32.ge_u
		i64.eqz i64.eq i64.ne i64.lt_s i64.lt_u i64.gt_s i64.gt_u i64.le_s i64.le_u i64.ge_s i64.ge_u
		f32.eq f32.ne f32.lt f32.gt f32.le f32.ge f64.eq f64.ne f64.lt f64.gt f64.le f64.ge
		i32.clz i32.ctz i32.popcnt i32.add i32.sub i32.mul i32.div_s i32.div_u i32.rem_s i32.rem_u
		i32.and i32.or i32.xor i32.shl i32.shr_s i32.shr_u i32.rotl i32.rotr
		i64.clz i64.ctz i64.popcnt i64.add i64.sub i64.mul i64.div_s i64.div_u i64.rem_s i64.rem_u
		i64.and i64.or i64.xor i64.shl i64.shr_s i64.shr_u i64.rotl i64.rotr
		f32.abs f32.neg f32.ceil f32.floor f32.trunc f32.nearest f32.sqrt f32.add f32.sub f32.mul
		f32.div f32.min f32.max f32.copysign
		f64.abs f64.neg f64.ceil f64.floor f64.trunc f64.nearest f64.sqrt f64.add f64.sub f64.mul
		f64.div f64.min f64.max f64.copysign
		i32.wrap_i64 i32.trunc_f32_s i32.trunc_f32_u i32.trunc_f64_s i32.trunc_f64_u
		i64.extend_i32_s i64.extend_i32_u i64.trunc_f32_s i64.trunc_f32_u i64.trunc_f64_s i64.trunc_f64_u
		f32.convert_i32_s f32.convert_i32_u f32.convert_i64_s f32.convert_i64_u f32.demote_f64
		f64.convert_i32_s f64.convert_i32_u f64.convert_i64_s f64.convert_i64_u f64.promote_f32
		i32.reinterpret_f32 i64.reinterpret_f64 f32.reinterpret_i32 f64.reinterpret_i64
		i32.extend8_s i32.extend16_s i64.extend8_s i64.extend16_s i64.extend32_s`)
	plain(0xFC0000, `i32.trunc_sat_f32_s i32.trunc_sat_f32_u i32.trunc_sat_f64_s i32.trunc_sat_f64_u
		i64.trunc_sat_f32_s i64.trunc_sat_f32_u i64.trunc_sat_f64_s i64.trunc_sat_f64_u`)
	mem(0xFD0000, "", `v128.load v128.load8x8_s v128.load8x8_u v128.load16x4_s v128.load16x4_u
		v128.load32x2_s v128.load32x2_u v128.load8_splat v128.load16_splat v128.load32_splat
		v128.load64_splat v128.store`)
	plain(0xFD000E, `i8x16.swizzle i8x16.splat i16x8.splat i32x4.splat i64x2.splat f32x4.splat f64x2.splat`)
	for i, n := range strings.Fields(`i8x16.extract_lane_s i8x16.extract_lane_u i8x16.replace_lane
		i16x8.extract_lane_s i16x8.extract_lane_u i16x8.replace_lane i32x4.extract_lane i32x4.replace_lane
		i64x2.extract_lane i64x2.replace_lane f32x4.extract_lane f32x4.replace_lane
		f64x2.extract_lane f64x2.replace_lane`) {
		textOf[0xFD0015+uint32(i)] = n + " 1"
	}
	plain(0xFD0023, `i8x16.eq i8x16.ne i8x16.lt_s i8x16.lt_u i8x16.gt_s i8x16.gt_u i8x16.le_s i8x16.le_u
		i8x16.ge_s i8x16.ge_u i16x8.eq i16x8.ne i16x8.lt_s i16x8.lt_u i16x8.gt_s i16x8.gt_u i16x8.le_s
		i16x8.le_u i16x8.ge_s i16x8.ge_u i32x4.eq i32x4.ne i32x4.lt_s i32x4.lt_u i32x4.gt_s i32x4.gt_u
		i32x4.le_s i32x4.le_u i32x4.ge_s i32x4.ge_u f32x4.eq f32x4.ne f32x4.lt f32x4.gt f32x4.le f32x4.ge
		f64x2.eq f64x2.ne f64x2.lt f64x2.gt f64x2.le f64x2.ge
		v128.not v128.and v128.andnot v128.or v128.xor v128.bitselect v128.any_true`)
	mem(0xFD0054, " 1", `v128.load8_lane v128.load16_lane v128.load32_lane v128.load64_lane
		v128.store8_lane v128.store16_lane v128.store32_lane v128.store64_lane`)
	mem(0xFD005C, "", `v128.load32_zero v128.load64_zero`)
	plain(0xFD005E, `f32x4.demote_f64x2_zero f64x2.promote_low_f32x4
		i8x16.abs i8x16.neg i8x16.popcnt i8x16.all_true i8x16.bitmask i8x16.narrow_i16x8_s
		i8x16.narrow_i16x8_u f32x4.ceil f32x4.floor f32x4.trunc f32x4.nearest i8x16.shl i8x16.shr_s
		i8x16.shr_u i8x16.add i8x16.add_sat_s i8x16.add_sat_u i8x16.sub i8x16.sub_sat_s i8x16.sub_sat_u
		f64x2.ceil f64x2.floor i8x16.min_s i8x16.min_u i8x16.max_s i8x16.max_u f64x2.trunc i8x16.avgr_u
		i16x8.extadd_pairwise_i8x16_s i16x8.extadd_pairwise_i8x16_u
		i32x4.extadd_pairwise_i16x8_s i32x4.extadd_pairwise_i16x8_u
		i16x8.abs i16x8.neg i16x8.q15mulr_sat_s i16x8.all_true i16x8.bitmask i16x8.narrow_i32x4_s
		i16x8.narrow_i32x4_u i16x8.extend_low_i8x16_s i16x8.extend_high_i8x16_s
		i16x8.extend_low_i8x16_u i16x8.extend_high_i8x16_u i16x8.shl i16x8.shr_s i16x8.shr_u i16x8.add
		i16x8.add_sat_s i16x8.add_sat_u i16x8.sub i16x8.sub_sat_s i16x8.sub_sat_u f64x2.nearest
		i16x8.mul i16x8.min_s i16x8.min_u i16x8.max_s i16x8.max_u - i16x8.avgr_u
		i16x8.extmul_low_i8x16_s i16x8.extmul_high_i8x16_s i16x8.extmul_low_i8x16_u
		i16x8.extmul_high_i8x16_u
		i32x4.abs i32x4.neg - i32x4.all_true i32x4.bitmask - - i32x4.extend_low_i16x8_s
		i32x4.extend_high_i16x8_s i32x4.extend_low_i16x8_u i32x4.extend_high_i16x8_u i32x4.shl
		i32x4.shr_s i32x4.shr_u i32x4.add - - i32x4.sub - - - i32x4.mul i32x4.min_s i32x4.min_u
		i32x4.max_s i32x4.max_u i32x4.dot_i16x8_s - i32x4.extmul_low_i16x8_s i32x4.extmul_high_i16x8_s
		i32x4.extmul_low_i16x8_u i32x4.extmul_high_i16x8_u
		i64x2.abs i64x2.neg - i64x2.all_true i64x2.bitmask - - i64x2.extend_low_i32x4_s
		i64x2.extend_high_i32x4_s i64x2.extend_low_i32x4_u i64x2.extend_high_i32x4_u i64x2.shl
		i64x2.shr_s i64x2.shr_u i64x2.add - - i64x2.sub - - - i64x2.mul i64x2.eq i64x2.ne i64x2.lt_s
		i64x2.gt_s i64x2.le_s i64x2.ge_s i64x2.extmul_low_i32x4_s i64x2.extmul_high_i32x4_s
		i64x2.extmul_low_i32x4_u i64x2.extmul_high_i32x4_u
		f32x4.abs f32x4.neg - f32x4.sqrt f32x4.add f32x4.sub f32x4.mul f32x4.div f32x4.min f32x4.max
		f32x4.pmin f32x4.pmax f64x2.abs f64x2.neg - f64x2.sqrt f64x2.add f64x2.sub f64x2.mul f64x2.div
		f64x2.min f64x2.max f64x2.pmin f64x2.pmax
		i32x4.trunc_sat_f32x4_s i32x4.trunc_sat_f32x4_u f32x4.convert_i32x4_s f32x4.convert_i32x4_u
		i32x4.trunc_sat_f64x2_s_zero i32x4.trunc_sat_f64x2_u_zero f64x2.convert_low_i32x4_s
		f64x2.convert_low_i32x4_u`)
}

// disabled are opcodes the decoder knows that the engine's configuration
// rejects (tail calls); they are checked under a configuration with the
// feature on.
var disabled = map[uint32]func(*wasmtime.Config){
	0x12: func(c *wasmtime.Config) { c.SetWasmTailCall(true) },
	0x13: func(c *wasmtime.Config) { c.SetWasmTailCall(true) },
}

// sequences are the instructions the text of a structured instruction
// stands for.
var sequences = map[uint32][]uint32{
	0x02: {0x02, 0x0B}, 0x03: {0x03, 0x0B}, 0x04: {0x04, 0x0B}, 0x05: {0x04, 0x05, 0x0B}, 0x0B: {0x02, 0x0B},
}

func opString(op uint32) string {
	if op > 0xFF {
		return fmt.Sprintf("0x%02X %d", op>>16, op&0xFFFF)
	}
	return fmt.Sprintf("0x%02X", op)
}

// contextWat is a module in which every instruction's immediates name
// something that exists: locals, a global, a table, a passive data and
// element segment, a type.
func contextWat(memType, instr string) string {
	return fmt.Sprintf(`(module
  (type $t (func (param i32) (result i32)))
  (memory %s 1)
  (table 2 funcref)
  (global (mut i32) (i32.const 0))
  (data "x")
  (elem func $f)
  (func $f (type $t) (local i64 f32 f64 v128)
    unreachable %s unreachable))`, memType, instr)
}

// TestOpcodesAgainstWasmtime: each opcode the decoder knows, written in
// the text format and assembled by wasmtime, validates under the engine's
// configuration and decodes to exactly that instruction between two
// unreachables (a wrong immediate length would shift what follows).
func TestOpcodesAgainstWasmtime(t *testing.T) {
	ops := instrument.Opcodes()
	if len(ops) < 430 {
		t.Fatalf("the decoder knows %d opcodes", len(ops))
	}
	engines := map[uint32]*wasmtime.Engine{}
	eng := wasmtime.NewEngineWithConfig(engine.WasmtimeConfig())
	for op, enable := range disabled {
		c := engine.WasmtimeConfig()
		enable(c)
		engines[op] = wasmtime.NewEngineWithConfig(c)
	}
	for _, op := range ops {
		text, ok := textOf[op]
		if !ok {
			t.Errorf("opcode %s has no text in this test", opString(op))
			continue
		}
		for _, memType := range []string{"i32", "i64"} {
			bin, err := wasmtime.Wat2Wasm(contextWat(memType, text))
			if err != nil {
				t.Errorf("%s (%s): %v", opString(op), text, err)
				continue
			}
			e := eng
			if x, ok := engines[op]; ok {
				e = x
			}
			if err := wasmtime.ModuleValidate(e, bin); err != nil {
				t.Errorf("%s (%s, %s memory) does not validate: %v", opString(op), text, memType, err)
			}
			bodies, err := instrument.Bodies(bin)
			if err != nil || len(bodies) != 1 {
				t.Fatalf("%s (%s): bodies %d, %v", opString(op), text, len(bodies), err)
			}
			got, err := instrument.DecodeBody(bodies[0])
			if err != nil {
				t.Errorf("%s (%s): %v", opString(op), text, err)
				continue
			}
			want := []uint32{op}
			if seq, ok := sequences[op]; ok {
				want = seq
			}
			want = slices.Concat([]uint32{0x00}, want, []uint32{0x00, 0x0B})
			if !slices.Equal(got, want) {
				t.Errorf("%s (%s): decoded as %x, want %x", opString(op), text, got, want)
			}
		}
	}
}

// rawModule builds the same context as contextWat in binary, around the
// instruction bytes instr.
func rawModule(instr []byte) []byte {
	sec := func(id byte, content ...byte) []byte {
		return append([]byte{id, byte(len(content))}, content...)
	}
	body := append([]byte{4, 1, 0x7E, 1, 0x7D, 1, 0x7C, 1, 0x7B, 0x00}, instr...)
	body = append(body, 0x00, 0x0B)
	code := append([]byte{1, byte(len(body))}, body...)
	m := []byte("\x00asm\x01\x00\x00\x00")
	m = append(m, sec(1, 1, 0x60, 1, 0x7F, 1, 0x7F)...)
	m = append(m, sec(3, 1, 0)...)
	m = append(m, sec(4, 1, 0x70, 0x00, 2)...)
	m = append(m, sec(5, 1, 0x00, 1)...)
	m = append(m, sec(6, 1, 0x7F, 1, 0x41, 0, 0x0B)...)
	m = append(m, sec(9, 1, 1, 0x00, 1, 0)...)
	m = append(m, sec(12, 1)...)
	m = append(m, sec(10, code...)...)
	m = append(m, sec(11, 1, 1, 1, 'x')...)
	return m
}

// TestUnknownOpcodesRejected: every opcode the decoder does not know —
// one-byte, 0xFC and 0xFD sub-opcodes up to 511 — is rejected by wasmtime
// under the engine's configuration, whatever immediates follow (none, or
// up to 17 zero bytes): the decoder misses nothing the engine runs.
func TestUnknownOpcodesRejected(t *testing.T) {
	eng := wasmtime.NewEngineWithConfig(engine.WasmtimeConfig())
	known := map[uint32]bool{}
	for _, op := range instrument.Opcodes() {
		known[op] = true
	}
	if err := wasmtime.ModuleValidate(eng, rawModule([]byte{0x01})); err != nil {
		t.Fatalf("the context module does not validate: %v", err)
	}
	var candidates [][]byte
	var names []uint32
	for b := range 256 {
		if b != 0xFC && b != 0xFD && !known[uint32(b)] {
			candidates, names = append(candidates, []byte{byte(b)}), append(names, uint32(b))
		}
	}
	for _, prefix := range []uint32{0xFC, 0xFD} {
		for sub := range uint32(512) {
			if op := prefix<<16 | sub; !known[op] {
				enc := []byte{byte(prefix)}
				for v := sub; ; v >>= 7 {
					if v < 0x80 {
						enc = append(enc, byte(v))
						break
					}
					enc = append(enc, byte(v)|0x80)
				}
				candidates, names = append(candidates, enc), append(names, op)
			}
		}
	}
	for i, enc := range candidates {
		for _, n := range []int{0, 1, 2, 3, 5, 9, 16, 17} {
			instr := append(slices.Clone(enc), make([]byte, n)...)
			if err := wasmtime.ModuleValidate(eng, rawModule(instr)); err == nil {
				t.Errorf("opcode %s with %d zero bytes validates, and the decoder does not know it", opString(names[i]), n)
			}
			if _, _, err := instrument.MemoryGrow(rawModule(instr)); err == nil {
				t.Errorf("opcode %s with %d zero bytes: instrumented without error", opString(names[i]), n)
			}
		}
	}
}
