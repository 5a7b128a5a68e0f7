package main

import "github.com/wasmstate/wasmstate/merkle"

var rootCmd = &command{
	name:     "root",
	synopsis: "[--db DIR] [--json]",
	summary:  "print the head root",
	store:    true,
	help: `Prints the head root: the root of the last commit (or of the commit the
head moved to after a delete). A store with no head prints the empty
state's root, 64 zeros. The text output is the bare hex, for scripts.

Examples:
  statectl root
  OLD=$(statectl root)
  statectl root --json`,
	run: runRoot,
}

func runRoot(c *cli, args []string) error {
	e, err := c.openNoArgs("root", args, readStore)
	if err != nil {
		return err
	}
	defer e.Close()
	head, err := e.Head()
	if err != nil {
		return err
	}
	if c.json {
		return c.writeJSON(map[string]any{"root": head.String(), "empty": head == merkle.EmptyState()})
	}
	c.printf("%s\n", head)
	return nil
}
