package main

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"
)

var completionCmd = &command{
	name:     "completion",
	synopsis: "bash|zsh|fish",
	summary:  "print a shell completion script",
	help: `Prints a script that completes statectl's commands and each command's
flags in bash, zsh or fish. Load it in the current shell, or install it
where the shell looks for completions.

Examples:
  source <(statectl completion bash)
  statectl completion zsh > "${fpath[1]}/_statectl"
  statectl completion fish > ~/.config/fish/completions/statectl.fish`,
}

// The script lists every command, so run is set here to break the
// initialisation cycle through commands().
func init() { completionCmd.run = runCompletion }

func runCompletion(c *cli, args []string) error {
	pos, err := c.parse(c.flags(), args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return c.usagef("want one shell: bash, zsh or fish")
	}
	switch pos[0] {
	case "bash":
		writeBashCompletion(c, c.stdout)
	case "zsh":
		writeZshCompletion(c, c.stdout)
	case "fish":
		writeFishCompletion(c, c.stdout)
	default:
		return c.usagef("unknown shell %q: want bash, zsh or fish", pos[0])
	}
	return nil
}

// commandFlags lists a command's flags with their usage, sorted. Commands
// define their own flags when they run, so they are read from the
// command's --help, which lists every one.
func commandFlags(c *cli, cmd *command) [][2]string {
	if cmd == completionCmd {
		return nil
	}
	var help bytes.Buffer
	run([]string{cmd.name, "--help"}, &cli{stdin: strings.NewReader(""), stdout: &help, stderr: io.Discard, getenv: c.getenv})
	_, list, _ := strings.Cut(help.String(), "\nFlags:\n")
	list, _, _ = strings.Cut(list, "\n\n")
	var out [][2]string
	for _, l := range strings.Split(list, "\n") {
		t := strings.TrimSpace(l)
		if !strings.HasPrefix(t, "-") {
			if len(out) > 0 && t != "" { // a usage on the next line
				out[len(out)-1][1] = strings.TrimSpace(out[len(out)-1][1] + " " + t)
			}
			continue
		}
		name, rest, _ := strings.Cut(strings.TrimLeft(t, "-"), " ")
		rest = strings.TrimSpace(rest)
		if f := strings.Fields(rest); len(f) > 0 && strings.ToUpper(f[0]) == f[0] && strings.Trim(f[0], "ABCDEFGHIJKLMNOPQRSTUVWXYZ_=") == "" {
			rest = strings.TrimSpace(strings.TrimPrefix(rest, f[0])) // the argument placeholder
		}
		out = append(out, [2]string{name, rest})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

func commandNames() []string {
	var names []string
	for _, cmd := range commands() {
		names = append(names, cmd.name)
	}
	return names
}

func writeBashCompletion(c *cli, w io.Writer) {
	fmt.Fprintf(w, `# bash completion for statectl (statectl completion bash)
_statectl() {
    local cur=${COMP_WORDS[COMP_CWORD]}
    if [ "$COMP_CWORD" -eq 1 ]; then
        COMPREPLY=($(compgen -W "%s --help --version" -- "$cur"))
        return
    fi
    local flags=""
    case "${COMP_WORDS[1]}" in
`, strings.Join(commandNames(), " "))
	for _, cmd := range commands() {
		var fl []string
		for _, f := range commandFlags(c, cmd) {
			fl = append(fl, "--"+f[0])
		}
		fmt.Fprintf(w, "        %s) flags=\"%s --help\" ;;\n", cmd.name, strings.Join(fl, " "))
	}
	fmt.Fprint(w, `    esac
    if [[ "$cur" == -* ]]; then
        COMPREPLY=($(compgen -W "$flags" -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}
complete -o filenames -F _statectl statectl
`)
}

// zshQuote escapes a description for zsh's _describe and _arguments.
func zshQuote(s string) string {
	return strings.NewReplacer("'", "'\\''", ":", "\\:", "[", "\\[", "]", "\\]").Replace(s)
}

func writeZshCompletion(c *cli, w io.Writer) {
	fmt.Fprint(w, "#compdef statectl\n# zsh completion for statectl (statectl completion zsh)\n_statectl() {\n    local -a commands\n    commands=(\n")
	for _, cmd := range commands() {
		fmt.Fprintf(w, "        '%s:%s'\n", cmd.name, zshQuote(cmd.summary))
	}
	fmt.Fprint(w, "    )\n    if (( CURRENT == 2 )); then\n        _describe 'command' commands\n        return\n    fi\n    case $words[2] in\n")
	for _, cmd := range commands() {
		fmt.Fprintf(w, "        %s)\n            _arguments", cmd.name)
		for _, f := range commandFlags(c, cmd) {
			fmt.Fprintf(w, " \\\n                '--%s[%s]'", f[0], zshQuote(f[1]))
		}
		fmt.Fprint(w, " \\\n                '*:file:_files' ;;\n")
	}
	fmt.Fprint(w, "    esac\n}\ncompdef _statectl statectl\n")
}

func writeFishCompletion(c *cli, w io.Writer) {
	fmt.Fprint(w, "# fish completion for statectl (statectl completion fish)\n")
	fmt.Fprintf(w, "complete -c statectl -n __fish_use_subcommand -f -a '%s'\n", strings.Join(commandNames(), " "))
	q := func(s string) string { return "'" + strings.ReplaceAll(s, "'", `\'`) + "'" }
	for _, cmd := range commands() {
		fmt.Fprintf(w, "complete -c statectl -n __fish_use_subcommand -f -a %s -d %s\n", cmd.name, q(cmd.summary))
		for _, f := range commandFlags(c, cmd) {
			fmt.Fprintf(w, "complete -c statectl -n '__fish_seen_subcommand_from %s' -l %s -d %s\n", cmd.name, f[0], q(f[1]))
		}
	}
}
