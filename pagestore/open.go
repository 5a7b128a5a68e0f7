package pagestore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/syndtr/goleveldb/leveldb/opt"
)

// DirState says what a directory holds, as far as Open is concerned.
type DirState int

// What ProbeDir finds.
const (
	// DirMissing: nothing exists at the path.
	DirMissing DirState = iota
	// DirEmpty: an empty directory.
	DirEmpty
	// DirDatabase: a directory holding a goleveldb database (a CURRENT
	// file). Whether it is a wasmstate store is known only once opened:
	// the format record (key 'V') says so.
	DirDatabase
	// DirOther: a directory holding files but no database.
	DirOther
)

// String names the state.
func (d DirState) String() string {
	switch d {
	case DirMissing:
		return "missing"
	case DirEmpty:
		return "empty"
	case DirDatabase:
		return "database"
	case DirOther:
		return "other"
	}
	return fmt.Sprintf("DirState(%d)", int(d))
}

// ProbeDir reports what dir holds without changing anything. A path that
// exists but is not a directory is an error matching ErrNotStore.
func ProbeDir(dir string) (DirState, error) {
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return DirMissing, nil
	}
	if err != nil {
		return 0, fmt.Errorf("pagestore: probe %s: %w", dir, err)
	}
	if !st.IsDir() {
		return 0, fmt.Errorf("pagestore: probe %s: %w: not a directory", dir, ErrNotStore)
	}
	if _, err := os.Stat(filepath.Join(dir, "CURRENT")); err == nil {
		return DirDatabase, nil
	}
	names, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("pagestore: probe %s: %w", dir, err)
	}
	if len(names) == 0 {
		return DirEmpty, nil
	}
	for _, n := range names {
		if isDatabaseFile(n.Name()) {
			// A database that lost its CURRENT file: damage, not someone
			// else's directory (Open reports it as corrupt).
			return DirDatabase, nil
		}
	}
	return DirOther, nil
}

// isDatabaseFile reports whether name is one of goleveldb's files.
func isDatabaseFile(name string) bool {
	switch {
	case name == "CURRENT", name == "LOCK", name == "LOG", name == "LOG.old",
		strings.HasPrefix(name, "MANIFEST-"), strings.HasPrefix(name, "CURRENT."),
		strings.HasSuffix(name, ".ldb"), strings.HasSuffix(name, ".log"), strings.HasSuffix(name, ".sst"):
		return true
	}
	return false
}

// checkCurrent refuses a database directory whose CURRENT file is gone:
// goleveldb would otherwise start an empty database beside the orphaned
// tables, and the store would open empty, every commit silently lost.
func checkCurrent(dir string) error {
	if _, err := os.Stat(filepath.Join(dir, "CURRENT")); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("pagestore: open %s: %w: database files but no CURRENT file (the database's manifest pointer is lost)", dir, ErrCorrupt)
	}
	return nil
}

// lockRetry is the pause between attempts to take a held lock.
const lockRetry = 50 * time.Millisecond

// openLevelDBWait opens the database, retrying for up to wait while
// another process holds its lock.
func openLevelDBWait(dir string, o *opt.Options, wait time.Duration) (*LevelDB, error) {
	deadline := time.Now().Add(wait)
	for {
		db, err := OpenLevelDB(dir, o)
		if err == nil || !errors.Is(err, ErrLocked) {
			return db, err
		}
		if !time.Now().Before(deadline) {
			if wait > 0 {
				return nil, fmt.Errorf("%w (waited %v)", err, wait)
			}
			return nil, err
		}
		time.Sleep(min(lockRetry, time.Until(deadline)))
	}
}

// isLockHeld reports whether err is flock's "held by another process".
func isLockHeld(err error) bool {
	return errors.Is(err, syscall.EWOULDBLOCK) || errors.Is(err, syscall.EAGAIN)
}
