package instrument

// Test access to the decoder.

// Opcodes lists every opcode the decoder knows, as instr returns them.
func Opcodes() []uint32 {
	var out []uint32
	for op, k := range ops {
		if k != 0 && op != prefixFC && op != prefixFD {
			out = append(out, uint32(op))
		}
	}
	for sub, k := range fcOps {
		if k != 0 {
			out = append(out, prefixFC<<16|uint32(sub))
		}
	}
	for sub, k := range fdOps {
		if k != 0 {
			out = append(out, prefixFD<<16|uint32(sub))
		}
	}
	return out
}

// Bodies returns the function bodies of a module (locals and code).
func Bodies(wasm []byte) ([][]byte, error) {
	m := &module{src: wasm}
	if err := m.scan(); err != nil {
		return nil, err
	}
	var out [][]byte
	for _, s := range m.sections {
		for _, b := range s.codeBodies {
			out = append(out, wasm[b[0]:b[1]])
		}
	}
	return out, nil
}

// DecodeBody decodes a function body's locals, then its instructions to
// the end of body, and returns their opcodes in order.
func DecodeBody(body []byte) ([]uint32, error) {
	r := &reader{b: body, end: len(body)}
	decls, err := r.u32()
	if err != nil {
		return nil, err
	}
	for range decls {
		if _, err := r.u32(); err != nil {
			return nil, err
		}
		if err := valType(r); err != nil {
			return nil, err
		}
	}
	w := walker{nTypes: 1 << 20} // a body alone: its type indices are not checked
	var out []uint32
	for r.pos < r.end {
		op, err := w.instr(r, true)
		if err != nil {
			return out, err
		}
		out = append(out, op)
	}
	return out, nil
}
