package merkle

import (
	"encoding/hex"
	"testing"

	"github.com/zeebo/blake3"
)

// Official BLAKE3 test vectors: a few cases of test_vectors/test_vectors.json
// in github.com/BLAKE3-team/BLAKE3 (commit 77b257ee, CC0-1.0 or Apache-2.0),
// the first 32 bytes of each output. Input of length n: bytes i mod 251.
// keyed_hash uses the key "whats the Elvish word for friend"; derive_key
// the context "BLAKE3 2019-12-27 16:29:52 test vectors context" with the
// input as key material. wasmstate uses the keyed and derive-key modes
// (SPEC.md §3), so the package must match them exactly; 4096 is a page.
var blake3Official = []struct {
	n                      int
	hash, keyed, deriveKey string
}{
	{0, "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262", "92b2b75604ed3c761f9d6f62392c8a9227ad0ea3f09573e783f1498a4ed60d26", "2cc39783c223154fea8dfb7c1b1660f2ac2dcbd1c1de8277b0b0dd39b7e50d7d"},
	{1, "2d3adedff11b61f14c886e35afa036736dcd87a74d27b5c1510225d0f592e213", "6d7878dfff2f485635d39013278ae14f1454b8c0a3a2d34bc1ab38228a80c95b", "b3e2e340a117a499c6cf2398a19ee0d29cca2bb7404c73063382693bf66cb06c"},
	{1023, "10108970eeda3eb932baac1428c7a2163b0e924c9a9e25b35bba72b28f70bd11", "c951ecdf03288d0fcc96ee3413563d8a6d3589547f2c2fb36d9786470f1b9d6e", "74a16c1c3d44368a86e1ca6df64be6a2f64cce8f09220787450722d85725dea5"},
	{1024, "42214739f095a406f3fc83deb889744ac00df831c10daa55189b5d121c855af7", "75c46f6f3d9eb4f55ecaaee480db732e6c2105546f1e675003687c31719c7ba4", "7356cd7720d5b66b6d0697eb3177d9f8d73a4a5c5e968896eb6a689684302706"},
	{1025, "d00278ae47eb27b34faecf67b4fe263f82d5412916c1ffd97c8cb7fb814b8444", "357dc55de0c7e382c900fd6e320acc04146be01db6a8ce7210b7189bd664ea69", "effaa245f065fbf82ac186839a249707c3bddf6d3fdda22d1b95a3c970379bcb"},
	{2048, "e776b6028c7cd22a4d0ba182a8bf62205d2ef576467e838ed6f2529b85fba24a", "879cf1fa2ea0e79126cb1063617a05b6ad9d0b696d0d757cf053439f60a99dd1", "7b2945cb4fef70885cc5d78a87bf6f6207dd901ff239201351ffac04e1088a23"},
	{3072, "b98cb0ff3623be03326b373de6b9095218513e64f1ee2edd2525c7ad1e5cffd2", "044a0e7b172a312dc02a4c9a818c036ffa2776368d7f528268d2e6b5df191770", "050df97f8c2ead654d9bb3ab8c9178edcd902a32f8495949feadcc1e0480c46b"},
	{4096, "015094013f57a5277b59d8475c0501042c0b642e531b0a1c8f58d2163229e969", "befc660aea2f1718884cd8deb9902811d332f4fc4a38cf7c7300d597a081bfc0", "1e0d7f3db8c414c97c6307cbda6cd27ac3b030949da8e23be1a1a924ad2f25b9"},
	{8193, "bab6c09cb8ce8cf459261398d2e7aef35700bf488116ceb94a36d0f5f1b7bc3b", "954a2a75420c8d6547e3ba5b98d963e6fa6491addc8c023189cc519821b4a1f5", "af1e0346e389b17c23200270a64aa4e1ead98c61695d917de7d5b00491c9b0f1"},
	{102400, "bc3e3d41a1146b069abffad3c0d44860cf664390afce4d9661f7902e7943e085", "1c35d1a5811083fd7119f5d5d1ba027b4d01c0c6c49fb6ff2cf75393ea5db4a7", "4652cff7a3f385a6103b5c260fc1593e13c778dbe608efb092fe7ee69df6e9c6"},
}

// TestBLAKE3Official checks the BLAKE3 package wasmstate hashes with (and
// the reference implementation of the tests relies on) against the
// official test vectors, in all three modes.
func TestBLAKE3Official(t *testing.T) {
	key := []byte("whats the Elvish word for friend")
	const context = "BLAKE3 2019-12-27 16:29:52 test vectors context"
	for _, c := range blake3Official {
		in := make([]byte, c.n)
		for i := range in {
			in[i] = byte(i % 251)
		}
		sum := blake3.Sum256(in)
		if got := hex.EncodeToString(sum[:]); got != c.hash {
			t.Errorf("hash of %d bytes: %s, want %s", c.n, got, c.hash)
		}
		h, err := blake3.NewKeyed(key)
		if err != nil {
			t.Fatal(err)
		}
		h.Write(in)
		if got := hex.EncodeToString(h.Sum(nil)); got != c.keyed {
			t.Errorf("keyed_hash of %d bytes: %s, want %s", c.n, got, c.keyed)
		}
		var dk [32]byte
		blake3.DeriveKey(context, in, dk[:])
		if got := hex.EncodeToString(dk[:]); got != c.deriveKey {
			t.Errorf("derive_key of %d bytes: %s, want %s", c.n, got, c.deriveKey)
		}
	}
}

// TestDomainOutOfRange holds the documented behaviour of Domain values
// outside the eight domains: String says "unknown", Key, Sum and Sum2 panic.
func TestDomainOutOfRange(t *testing.T) {
	bad := numDomains
	if bad.String() != "unknown" {
		t.Fatalf("Domain(%d).String() = %q", bad, bad.String())
	}
	for name, f := range map[string]func(){
		"Key":  func() { bad.Key() },
		"Sum":  func() { bad.Sum(nil) },
		"Sum2": func() { bad.Sum2(Hash{}, Hash{}) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Domain(%d).%s did not panic", bad, name)
				}
			}()
			f()
		}()
	}
}
