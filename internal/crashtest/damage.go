package crashtest

import (
	"math/rand/v2"
	"os"
	"testing"
)

// DamageFile damages the file at path as an unclean stop or a failing disk
// would, with one of the faults "flip1" and "flip8" (that many random bits
// flipped), "truncate" (cut at a random length), "zero4k" (up to 4 KiB
// zeroed at a random offset), "append" (100 random bytes added) and
// "delete". pagestore's journal trials and reliability's file corruption
// tests share it.
func DamageFile(t testing.TB, r *rand.Rand, path, fault string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	switch fault {
	case "flip1", "flip8":
		for k := 0; k < map[string]int{"flip1": 1, "flip8": 8}[fault] && len(b) > 0; k++ {
			b[r.IntN(len(b))] ^= 1 << r.IntN(8)
		}
	case "truncate":
		b = b[:r.IntN(len(b)+1)]
	case "zero4k":
		if len(b) > 0 {
			off := r.IntN(len(b))
			clear(b[off:min(len(b), off+4096)])
		}
	case "append":
		for k := 0; k < 100; k++ {
			b = append(b, byte(r.Uint32()))
		}
	case "delete":
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		return
	default:
		t.Fatalf("crashtest: unknown fault %q", fault)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
