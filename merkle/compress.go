package merkle

import (
	"encoding/binary"
	"math/bits"
)

// Tree nodes hash exactly 64 bytes: one BLAKE3 block, so one call of the
// compression function. Doing that call directly, instead of through a
// general hasher, saves about a third of the cost of a node,
// and nodes are most of the hashing an update does. The result is plain
// BLAKE3 keyed_hash; TestSum2MatchesBLAKE3 checks it against the library.

var blake3IV = [8]uint32{0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A, 0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19}

// blake3 flags of a one-block keyed hash: CHUNK_START | CHUNK_END | ROOT | KEYED_HASH.
const oneBlockKeyedFlags = 1 | 2 | 8 | 16

var domainKeyWords [numDomains][8]uint32

func initKeyWords() {
	for d := range domainKeyWords {
		for i := 0; i < 8; i++ {
			domainKeyWords[d][i] = binary.LittleEndian.Uint32(domainKeys[d][4*i:])
		}
	}
}

func g(a, b, c, d, mx, my uint32) (uint32, uint32, uint32, uint32) {
	a += b + mx
	d = bits.RotateLeft32(d^a, -16)
	c += d
	b = bits.RotateLeft32(b^c, -12)
	a += b + my
	d = bits.RotateLeft32(d^a, -8)
	c += d
	b = bits.RotateLeft32(b^c, -7)
	return a, b, c, d
}

// sum2 returns BLAKE3-keyed_hash(key of d, left || right).
func sum2(d Domain, left, right *Hash) (out Hash) {
	m0, m1, m2, m3 := le32(left, 0), le32(left, 1), le32(left, 2), le32(left, 3)
	m4, m5, m6, m7 := le32(left, 4), le32(left, 5), le32(left, 6), le32(left, 7)
	m8, m9, m10, m11 := le32(right, 0), le32(right, 1), le32(right, 2), le32(right, 3)
	m12, m13, m14, m15 := le32(right, 4), le32(right, 5), le32(right, 6), le32(right, 7)
	k := &domainKeyWords[d]
	v0, v1, v2, v3, v4, v5, v6, v7 := k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7]
	v8, v9, v10, v11 := blake3IV[0], blake3IV[1], blake3IV[2], blake3IV[3]
	v12, v13, v14, v15 := uint32(0), uint32(0), uint32(64), uint32(oneBlockKeyedFlags)
	for r := 0; r < 7; r++ {
		v0, v4, v8, v12 = g(v0, v4, v8, v12, m0, m1)
		v1, v5, v9, v13 = g(v1, v5, v9, v13, m2, m3)
		v2, v6, v10, v14 = g(v2, v6, v10, v14, m4, m5)
		v3, v7, v11, v15 = g(v3, v7, v11, v15, m6, m7)
		v0, v5, v10, v15 = g(v0, v5, v10, v15, m8, m9)
		v1, v6, v11, v12 = g(v1, v6, v11, v12, m10, m11)
		v2, v7, v8, v13 = g(v2, v7, v8, v13, m12, m13)
		v3, v4, v9, v14 = g(v3, v4, v9, v14, m14, m15)
		// BLAKE3's message permutation.
		m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11, m12, m13, m14, m15 =
			m2, m6, m3, m10, m7, m0, m4, m13, m1, m11, m12, m5, m9, m14, m15, m8
	}
	binary.LittleEndian.PutUint32(out[0:], v0^v8)
	binary.LittleEndian.PutUint32(out[4:], v1^v9)
	binary.LittleEndian.PutUint32(out[8:], v2^v10)
	binary.LittleEndian.PutUint32(out[12:], v3^v11)
	binary.LittleEndian.PutUint32(out[16:], v4^v12)
	binary.LittleEndian.PutUint32(out[20:], v5^v13)
	binary.LittleEndian.PutUint32(out[24:], v6^v14)
	binary.LittleEndian.PutUint32(out[28:], v7^v15)
	return out
}

func le32(h *Hash, i int) uint32 { return binary.LittleEndian.Uint32(h[4*i : 4*i+4]) }
