package main

import "github.com/wasmstate/wasmstate/merkle"

var deleteCmd = &command{
	name:     "delete",
	synopsis: "ROOT [--db DIR] [--json]",
	summary:  "delete a commit record (gc reclaims its objects)",
	store:    true,
	help: `Deletes the commit record of ROOT: a committed root (64 hex digits, a
unique prefix of 8 or more, or head). The empty state has no record and
cannot be deleted. If ROOT is the head, the head moves to ROOT's parent when
that commit still exists, else to the newest remaining commit, else to the
empty state; statectl head set ROOT moves it anywhere else. Pages and nodes
are not touched: run statectl gc to reclaim what no remaining commit
reaches. Other commits keep everything they share with ROOT.

Examples:
  statectl delete $OLD
  statectl delete $OLD --json && statectl gc`,
	run: runDelete,
}

func runDelete(c *cli, args []string) error {
	pos, err := c.parse(c.flags(), args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return c.usagef("want one ROOT argument, got %d", len(pos))
	}
	if pos[0] == "empty" {
		return badInputf("the empty state has no commit record to delete (ROOT must be a commit: see statectl commits)")
	}
	if err := checkRootSyntax(pos[0]); err != nil {
		return err
	}
	e, err := c.open(writeStore)
	if err != nil {
		return err
	}
	defer e.Close()
	root, err := resolveRoot(e, pos[0])
	if err != nil {
		return err
	}
	if root == merkle.EmptyState() {
		return badInputf("the head is the empty state, which has no commit record to delete")
	}
	deferred, err := e.DeleteCommit(root)
	if err != nil {
		return err
	}
	head, err := e.Head()
	if err != nil {
		return err
	}
	if c.json {
		return c.writeJSON(map[string]any{"deleted": root.String(), "deferred": deferred, "head": head.String()})
	}
	c.printf("deleted  %s\n", root)
	c.printf("head     %s\n", rootLabel(head))
	if !c.quiet {
		c.printf("run statectl gc to reclaim the objects only this commit reached\n")
	}
	return nil
}
