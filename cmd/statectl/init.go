package main

import "github.com/wasmstate/wasmstate/pagestore"

var initCmd = &command{
	name:     "init",
	synopsis: "[--db DIR] [--json]",
	summary:  "create an empty store",
	store:    true,
	help: `Creates an empty store in --db, which must be missing or an empty
directory, and prints its format version. Only init, deploy and demo create
a store; every other command refuses a directory that holds no store. A
directory that already holds a store is left as it is (exit 2); one that
holds other files is refused (exit 3).

Examples:
  statectl init --db ./chain-db
  statectl init --json`,
	run: runInit,
}

func runInit(c *cli, args []string) error {
	pos, err := c.parse(c.flags(), args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return c.usagef("init takes no arguments")
	}
	st, err := pagestore.ProbeDir(c.db)
	if err != nil {
		return storeOpenError(c.db, err)
	}
	if st == pagestore.DirDatabase {
		e, err := c.open(readStore)
		if err != nil {
			return err
		}
		e.Close()
		return badInputf("%s already holds a store (nothing changed)", c.db)
	}
	e, err := c.open(createStore)
	if err != nil {
		return err
	}
	if err := e.Close(); err != nil {
		return withCode(exitStore, err)
	}
	if c.json {
		return c.writeJSON(map[string]any{"db": c.db, "format_version": pagestore.FormatVersion})
	}
	c.printf("created  %s (store format %d, empty state)\n", c.db, pagestore.FormatVersion)
	return nil
}
