package codec

import (
	"errors"
	"fmt"
)

// Sentinel errors; every error this package returns matches one of them
// with errors.Is.
var (
	// ErrDecode is returned for bytes that are not a valid archive of the requested type
	// (wrong length, a bool other than 0 or 1, non-zero padding).
	ErrDecode = errors.New("codec: invalid archive")
	// ErrEncode is returned for a value that cannot be archived as requested (a byte
	// slice of the wrong length for Bytes(n)).
	ErrEncode = errors.New("codec: cannot encode value")
	// ErrUnsupported is returned for a Go type that has no fixed-size rkyv layout in this
	// package (strings, slices, maps, pointers, floats, int/uint, unexported
	// struct fields...).
	ErrUnsupported = errors.New("codec: unsupported type")
	// ErrParse is returned for a typed literal that ParseValue cannot read.
	ErrParse = errors.New("codec: invalid value literal")
)

// DecodeError reports input of the wrong length for the type being
// decoded. It matches ErrDecode.
type DecodeError struct {
	Type string // the archived type, e.g. "u64" or "codec.Transfer"
	Want int    // the archived size in bytes
	Got  int    // the length of the input
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("codec: decoding %s: want %d bytes, got %d", e.Type, e.Want, e.Got)
}

// Is makes DecodeError match ErrDecode.
func (e *DecodeError) Is(target error) bool { return target == ErrDecode }

// ValueError reports a byte of correctly sized input that no value of the
// type can have: a bool byte other than 0 or 1, or a non-zero padding
// byte. It matches ErrDecode.
type ValueError struct {
	Type   string // the type being decoded
	Field  string // path to the offending field, e.g. "Inner.Flag"; "" for the value itself or padding
	Offset int    // byte offset of the offending byte within the input
	Byte   byte   // its value
	Reason string // "invalid bool" or "non-zero padding"
}

func (e *ValueError) Error() string {
	where := ""
	if e.Field != "" {
		where = " (" + e.Field + ")"
	}
	return fmt.Sprintf("codec: decoding %s: %s byte 0x%02x at offset %d%s", e.Type, e.Reason, e.Byte, e.Offset, where)
}

// Is makes ValueError match ErrDecode.
func (e *ValueError) Is(target error) bool { return target == ErrDecode }

// EncodeError reports a value that cannot be encoded, e.g. a byte slice
// of the wrong length for Bytes(n). It matches ErrEncode.
type EncodeError struct {
	Type string
	Want int // required length in bytes
	Got  int // length given
}

func (e *EncodeError) Error() string {
	return fmt.Sprintf("codec: encoding %s: want %d bytes, got %d", e.Type, e.Want, e.Got)
}

// Is makes EncodeError match ErrEncode.
func (e *EncodeError) Is(target error) bool { return target == ErrEncode }

// TypeError reports a Go type that Struct or a tuple helper cannot lay
// out. It matches ErrUnsupported.
type TypeError struct {
	Type   string // the Go type given to Struct
	Field  string // path of the offending field, "" for the type itself
	Reason string
}

func (e *TypeError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("codec: type %s: field %s: %s", e.Type, e.Field, e.Reason)
	}
	return fmt.Sprintf("codec: type %s: %s", e.Type, e.Reason)
}

// Is makes TypeError match ErrUnsupported.
func (e *TypeError) Is(target error) bool { return target == ErrUnsupported }

// ParseError reports a literal ParseValue cannot read. It matches ErrParse
// and unwraps to the underlying strconv or hex error, if any.
type ParseError struct {
	Input  string // the whole input
	Pos    int    // byte offset in Input where the fault starts
	Reason string
	Err    error // underlying error, may be nil
}

func (e *ParseError) Error() string {
	msg := fmt.Sprintf("codec: invalid value at offset %d: %s", e.Pos, e.Reason)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is makes ParseError match ErrParse.
func (e *ParseError) Is(target error) bool { return target == ErrParse }

// Unwrap returns the underlying error.
func (e *ParseError) Unwrap() error { return e.Err }
