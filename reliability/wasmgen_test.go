package reliability

import "bytes"

// A minimal wasm binary writer for modules too big to write as WAT.

func uleb(b []byte, v uint64) []byte {
	for {
		c := byte(v & 0x7F)
		v >>= 7
		if v != 0 {
			c |= 0x80
		}
		b = append(b, c)
		if v == 0 {
			return b
		}
	}
}

func section(id byte, body []byte) []byte {
	return append(uleb([]byte{id}, uint64(len(body))), body...)
}

func vec(n int, items func(b []byte, i int) []byte) []byte {
	b := uleb(nil, uint64(n))
	for i := 0; i < n; i++ {
		b = items(b, i)
	}
	return b
}

func wname(b []byte, s string) []byte { return append(uleb(b, uint64(len(s))), s...) }

// genModule is a valid contract shape (memory of 2 pages exported, A =
// 65536, exports of type (i32) -> i32) with nfuncs functions whose bodies
// body(i) returns (locals declarations and code, without the size prefix;
// nil: no locals, return the argument). The first function is exported as
// "f".
func genModule(nfuncs int, body func(i int) []byte) []byte {
	var m bytes.Buffer
	m.WriteString("\x00asm\x01\x00\x00\x00")
	m.Write(section(1, vec(1, func(b []byte, _ int) []byte { return append(b, 0x60, 1, 0x7F, 1, 0x7F) })))
	m.Write(section(3, vec(nfuncs, func(b []byte, _ int) []byte { return append(b, 0) })))
	m.Write(section(5, vec(1, func(b []byte, _ int) []byte { return append(b, 0, 2) })))
	m.Write(section(6, vec(1, func(b []byte, _ int) []byte {
		return append(uleb(append(b, 0x7F, 0, 0x41), 65536), 0x0B) // immutable i32 = i32.const 65536
	})))
	m.Write(section(7, vec(3, func(b []byte, i int) []byte {
		switch i {
		case 0:
			return append(wname(b, "memory"), 2, 0)
		case 1:
			return append(wname(b, "A"), 3, 0)
		}
		return append(wname(b, "f"), 0, 0)
	})))
	if body == nil {
		body = func(int) []byte { return []byte{0, 0x20, 0, 0x0B} } // no locals; local.get 0; end
	}
	var code bytes.Buffer
	code.Write(uleb(nil, uint64(nfuncs)))
	for i := 0; i < nfuncs; i++ {
		bb := body(i)
		code.Write(uleb(nil, uint64(len(bb))))
		code.Write(bb)
	}
	m.Write(section(10, code.Bytes()))
	return m.Bytes()
}

// localsBody declares decls groups of per locals of type t, then returns
// the argument.
func localsBody(decls int, per uint64) []byte {
	b := uleb(nil, uint64(decls))
	for i := 0; i < decls; i++ {
		b = append(uleb(b, per), 0x7F)
	}
	return append(b, 0x20, 0, 0x0B)
}

// nestedBody nests depth blocks, then returns the argument.
func nestedBody(depth int) []byte {
	b := []byte{0}
	for i := 0; i < depth; i++ {
		b = append(b, 0x02, 0x40) // block (empty type)
	}
	for i := 0; i < depth; i++ {
		b = append(b, 0x0B)
	}
	return append(b, 0x20, 0, 0x0B)
}

// brTableBody is one br_table with n targets inside a block.
func brTableBody(n int) []byte {
	b := []byte{0, 0x02, 0x40, 0x20, 0, 0x0E}
	b = uleb(b, uint64(n))
	for i := 0; i < n; i++ {
		b = append(b, 0)
	}
	b = append(b, 0, 0x0B) // default target, end block
	return append(b, 0x20, 0, 0x0B)
}
