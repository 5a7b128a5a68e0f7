package codec

import (
	"math"
	"reflect"
	"strconv"
)

type kind uint8

const (
	kindUint kind = iota
	kindInt
	kindBool
	kindArray
	kindStruct
)

// node is the archived layout of one Go type.
type node struct {
	kind  kind
	name  string // rkyv-style name: "u64", "bool", "[u8; 32]", or the Go type name
	size  int
	align int

	// kindArray
	elem *node
	n    int

	// kindStruct
	fields []fieldNode
	gaps   []span // padding inside this struct (not inside its fields)
}

type fieldNode struct {
	name  string
	index int // reflect field index
	off   int
	n     *node
}

type span struct{ start, end int }

// maxSize bounds archived sizes so that offsets never overflow.
const maxSize = math.MaxInt32

func alignUp(off, align int) int { return (off + align - 1) / align * align }

// layoutOf computes the archived layout of t. root is the name reported
// in errors; path is the field path so far.
func layoutOf(t reflect.Type, root, path string) (*node, error) {
	fail := func(reason string) (*node, error) {
		return nil, &TypeError{Type: root, Field: path, Reason: reason}
	}
	switch t.Kind() {
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		sz := int(t.Size())
		return &node{kind: kindUint, name: "u" + strconv.Itoa(8*sz), size: sz, align: sz}, nil
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		sz := int(t.Size())
		return &node{kind: kindInt, name: "i" + strconv.Itoa(8*sz), size: sz, align: sz}, nil
	case reflect.Bool:
		return &node{kind: kindBool, name: "bool", size: 1, align: 1}, nil
	case reflect.Array:
		elem, err := layoutOf(t.Elem(), root, path+"[]")
		if err != nil {
			return nil, err
		}
		n := t.Len()
		if elem.size > 0 && n > maxSize/elem.size {
			return fail("archived size too large")
		}
		return &node{
			kind: kindArray, name: "[" + elem.name + "; " + strconv.Itoa(n) + "]",
			size: n * elem.size, align: elem.align, elem: elem, n: n,
		}, nil
	case reflect.Struct:
		st := &node{kind: kindStruct, name: t.String(), align: 1}
		if st.name == "struct {}" {
			st.name = "()"
		}
		off := 0
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			fpath := f.Name
			if path != "" {
				fpath = path + "." + f.Name
			}
			if !f.IsExported() {
				return nil, &TypeError{Type: root, Field: fpath, Reason: "unexported field"}
			}
			fn, err := layoutOf(f.Type, root, fpath)
			if err != nil {
				return nil, err
			}
			start := alignUp(off, fn.align)
			if start > off {
				st.gaps = append(st.gaps, span{off, start})
			}
			if start > maxSize-fn.size {
				return nil, &TypeError{Type: root, Field: fpath, Reason: "archived size too large"}
			}
			st.fields = append(st.fields, fieldNode{name: f.Name, index: i, off: start, n: fn})
			off = start + fn.size
			st.align = max(st.align, fn.align)
		}
		st.size = alignUp(off, st.align)
		if st.size > off {
			st.gaps = append(st.gaps, span{off, st.size})
		}
		return st, nil
	}
	return fail("no fixed-size rkyv layout for Go kind " + t.Kind().String())
}

// put writes v (of n's type) into b[:n.size]; b must be zeroed.
func (n *node) put(b []byte, v reflect.Value) {
	switch n.kind {
	case kindUint:
		putLE(b[:n.size], v.Uint())
	case kindInt:
		putLE(b[:n.size], uint64(v.Int()))
	case kindBool:
		if v.Bool() {
			b[0] = 1
		}
	case kindArray:
		if n.elem.kind == kindUint && n.elem.size == 1 {
			// v is addressable: Encode works on a copy it owns.
			copy(b[:n.n], v.Bytes())
			return
		}
		for i := 0; i < n.n; i++ {
			n.elem.put(b[i*n.elem.size:], v.Index(i))
		}
	case kindStruct:
		for _, f := range n.fields {
			f.n.put(b[f.off:], v.Field(f.index))
		}
	}
}

// decodeCtx names the value being decoded in errors.
type decodeCtx struct {
	typ string
}

// get reads b[:n.size] (at offset base of the whole input) into the
// settable, addressable value v.
func (n *node) get(c *decodeCtx, b []byte, base int, v reflect.Value, path string) error {
	switch n.kind {
	case kindUint:
		v.SetUint(getLE(b[:n.size]))
	case kindInt:
		u := getLE(b[:n.size])
		shift := 64 - 8*n.size
		v.SetInt(int64(u<<shift) >> shift)
	case kindBool:
		switch b[0] {
		case 0:
			v.SetBool(false)
		case 1:
			v.SetBool(true)
		default:
			return &ValueError{Type: c.typ, Field: path, Offset: base, Byte: b[0], Reason: "invalid bool"}
		}
	case kindArray:
		if n.elem.kind == kindUint && n.elem.size == 1 {
			copy(v.Bytes(), b[:n.n])
			return nil
		}
		for i := 0; i < n.n; i++ {
			o := i * n.elem.size
			if err := n.elem.get(c, b[o:], base+o, v.Index(i), path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
	case kindStruct:
		for _, g := range n.gaps {
			for i := g.start; i < g.end; i++ {
				if b[i] != 0 {
					return &ValueError{Type: c.typ, Offset: base + i, Byte: b[i], Reason: "non-zero padding"}
				}
			}
		}
		for _, f := range n.fields {
			fpath := f.name
			if path != "" {
				fpath = path + "." + f.name
			}
			if err := f.n.get(c, b[f.off:], base+f.off, v.Field(f.index), fpath); err != nil {
				return err
			}
		}
	}
	return nil
}
