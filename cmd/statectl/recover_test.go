package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wasmstate/wasmstate/merkle"
	"github.com/wasmstate/wasmstate/pagestore"
)

// TestRecover: a store that lost a commit is refused, naming the commit,
// until recover drops it and says so; then it opens cleanly.
func TestRecover(t *testing.T) {
	db := filepath.Join(t.TempDir(), "db")
	dep := ok(t, db, "deploy", counterWAT)
	if r := ok(t, db, "recover"); !strings.Contains(r.stdout, "nothing dropped") {
		t.Fatalf("recover on a sound store:\n%v", r)
	}
	id := strings.Fields(dep.stdout)[1] // "contract <id>"
	ok(t, db, "call", id, "increment", "--commit")
	head := strings.TrimSpace(ok(t, db, "root").stdout)
	root, err := merkle.ParseHash(head)
	if err != nil {
		t.Fatal(err)
	}
	// The journal loses the newest commit's record, as a damaged journal
	// would make goleveldb drop it.
	ldb, err := pagestore.OpenLevelDB(db, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ldb.DB().Delete(append([]byte{byte(pagestore.KindCommit)}, root[:]...), nil); err != nil {
		t.Fatal(err)
	}
	ldb.Close()
	wantError(t, sc(t, db, "root"), exitStore, head)
	var out struct {
		Damaged bool          `json:"damaged"`
		Dropped []droppedJSON `json:"dropped"`
	}
	okJSON(t, db, &out, "recover")
	if !out.Damaged || len(out.Dropped) != 1 || out.Dropped[0].Root != head {
		b, _ := json.Marshal(out)
		t.Fatalf("recover reported %s, want %s dropped", b, head)
	}
	ok(t, db, "fsck")
	if got := strings.TrimSpace(ok(t, db, "root").stdout); got == head {
		t.Fatalf("head still at the dropped commit %s", got)
	}
}
