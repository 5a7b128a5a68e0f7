package main

var headCmd = &command{
	name:     "head",
	synopsis: "set ROOT [--db DIR] [--json]",
	summary:  "move the head to a retained commit",
	store:    true,
	help: `head set ROOT moves the head (the root that call, deploy and --base head
start from) to ROOT: any commit the store retains (see statectl commits), or
empty for the empty state. Nothing else changes: no commit is created or
deleted. Use it to go back to an earlier state, or to choose the head after
deleting commits.

Examples:
  statectl head set $OLD
  statectl head set 0a1b2c3d
  statectl head set empty --json`,
	run: runHead,
}

func runHead(c *cli, args []string) error {
	pos, err := c.parse(c.flags(), args)
	if err != nil {
		return err
	}
	if len(pos) != 2 || pos[0] != "set" {
		return c.usagef("want: head set ROOT")
	}
	if err := checkRootSyntax(pos[1]); err != nil {
		return err
	}
	e, err := c.open(writeStore)
	if err != nil {
		return err
	}
	defer e.Close()
	old, err := e.Head()
	if err != nil {
		return err
	}
	root, err := resolveRoot(e, pos[1])
	if err != nil {
		return err
	}
	if err := e.SetHead(root); err != nil {
		return err
	}
	if c.json {
		return c.writeJSON(map[string]any{"head": root.String(), "previous": old.String()})
	}
	c.printf("head      %s\n", rootLabel(root))
	c.printf("previous  %s\n", rootLabel(old))
	return nil
}
