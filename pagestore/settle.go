package pagestore

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/syndtr/goleveldb/leveldb/opt"
)

// Settling the journal. goleveldb keeps the batches written since its
// last memtable flush only in its journal, and replays them at the next
// open: up to a write buffer (32 MiB) of commits, which made the first
// open after a busy process 80-90 ms (bench: StoreOpen). goleveldb offers
// no plain "flush the memtable" call; CompactRange flushes it but also
// compacts tables, and on a damaged store that runs into a race inside
// goleveldb (a compaction acknowledging a request whose waiter has gone).
// So a clean Close that leaves a large journal settles it: it opens the
// database again, strictly, which replays the journal into a level-0 table
// and starts an empty journal (goleveldb's own recovery, synchronous, no
// compaction involved), and closes it. The next open then replays nothing.
//
// Settling changes nothing a later open would not: the strict open refuses
// a damaged journal (the next Open then reports it, as it would have), and
// any failure (the directory locked by another process meanwhile, an I/O
// error) just leaves the journal for the next open. A crash before or
// during Close leaves the journal too, as it always did.

// settleMinJournal is the journal size from which Close settles it: below
// it, replaying costs the next open a few milliseconds at most.
const settleMinJournal = 1 << 20

// settleJournal replays the journal of the closed database in dir into a
// table if it holds settleMinJournal bytes or more. It reports whether it
// did.
func settleJournal(dir string) bool {
	if journalBytes(dir) < settleMinJournal {
		return false
	}
	o := LevelDBOptions()
	o.Strict = opt.DefaultStrict | opt.StrictJournal
	// Only the replay is wanted: no table compaction may start before the
	// close right after.
	o.CompactionL0Trigger = 1 << 30
	o.CompactionTotalSize = 1 << 40 // × 10 per level: no level is ever full
	db, stor, err := openDB(dir, o)
	if err != nil {
		return false
	}
	return closeDB(db, stor) == nil
}

// journalBytes is the size of goleveldb's journal files in dir.
func journalBytes(dir string) int64 {
	names, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var n int64
	for _, e := range names {
		if !strings.HasSuffix(e.Name(), ".log") {
			continue
		}
		if st, err := os.Stat(filepath.Join(dir, e.Name())); err == nil {
			n += st.Size()
		}
	}
	return n
}
