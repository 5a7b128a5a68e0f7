// Package codec encodes and decodes the fixed-size subset of rkyv 0.7
// archives that Dusk contracts (piecrust-uplink) use for call arguments
// and results.
//
// # Layout rules
//
// An archive of a fixed-size value is the archived value itself, with
// nothing before or after it (rkyv puts the root object at the end of
// the buffer; for a value without out-of-line data the buffer is exactly
// the root). This package implements:
//
//   - u8, u16, u32, u64, i8, i16, i32, i64: little-endian two's complement,
//     size = alignment = 1, 2, 4, 8 bytes.
//   - bool: one byte, 0 (false) or 1 (true); any other byte is rejected on
//     decode, as bytecheck does.
//   - () (unit): zero bytes, alignment 1.
//   - [T; N] (Go [N]T): N elements back to back, alignment of T. Byte
//     arrays and contract ids ([32]byte) have alignment 1.
//   - structs and tuples: fields in declaration order, each at the next
//     offset that is a multiple of its alignment (C layout, #[repr(C)]);
//     the struct's alignment is the largest field alignment (1 when it
//     has no fields) and its size is rounded up to a multiple of it.
//     Padding bytes are written as zeros and must be zero on decode.
//
// Decoding is strict: the input must have exactly the archived size, every
// bool must be 0 or 1 and every padding byte 0. As a consequence a
// successful Decode followed by Encode gives back the input bytes.
//
// # Caveat: field order of Rust tuples and derived structs
//
// The rules above are the #[repr(C)] rules, which rkyv 0.7 guarantees only
// with its "strict" feature (rkyv 0.8 always uses them). piecrust-uplink
// builds rkyv 0.7 without "strict": there an archived tuple is a plain
// Rust tuple of archived fields and a derived archived struct has Rust's
// default representation, so rustc may reorder the fields, putting the
// most aligned first. Current rustc keeps (ContractId, u64) in declaration
// order (it ranks a [u8; 32] with 32-aligned fields), which is why such
// arguments are 32 + 8 = 40 bytes in order; but a Rust (u8, u64) is
// archived with the u64 first, at offset 0, and the u8 at offset 8. To
// match such a contract, declare the Go struct's fields in the order rustc
// lays them out; the size is the same either way.
//
// # Concurrency
//
// Codecs hold no mutable state; one codec may be used from many goroutines.
package codec
