package main

var deleteCmd = &command{
	name:     "delete",
	synopsis: "ROOT [--db DIR] [--json]",
	summary:  "delete a commit record (gc reclaims its objects)",
	store:    true,
	help: `Deletes the commit record of ROOT. If ROOT is the head, the head moves to
ROOT's parent when that commit still exists, and is cleared otherwise. Pages
and nodes are not touched: run statectl gc to reclaim what no remaining
commit reaches. Other commits keep everything they share with ROOT.

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
	root, err := parseHash32("root", pos[0])
	if err != nil {
		return err
	}
	e, err := c.open(false)
	if err != nil {
		return err
	}
	defer e.Close()
	if _, err := e.DeleteCommit(root); err != nil {
		return err
	}
	head, err := e.Head()
	if err != nil {
		return err
	}
	if c.json {
		return c.writeJSON(map[string]any{"deleted": root.String(), "head": head.String()})
	}
	c.printf("deleted  %s\n", root)
	c.printf("head     %s\n", rootLabel(head))
	c.printf("run statectl gc to reclaim the objects only this commit reached\n")
	return nil
}
