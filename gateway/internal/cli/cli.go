// Package cli implements the client commands of the buzhou binary: get, import,
// export, search, resolve, reindex, mcp (the MCP server on stdio) and keys
// (create, list, revoke). They talk to a running Buzhou server
// over its public REST API (the contract in API.md), so they work the same
// against a local `buzhou serve` and a remote deployment. The server command
// (serve) lives elsewhere.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Names of the environment variables the client commands read.
const (
	envServer = "BUZHOU_URL"
	envKey    = "BUZHOU_API_KEY"
)

// defaultServer matches the server's default BUZHOU_HTTP_ADDR, so a local
// `buzhou serve` works without any configuration.
const defaultServer = "http://127.0.0.1:8080"

// UsageError reports a command line that could not be understood. The usage
// text has already been written to stderr, so callers print only the message
// and, by convention, exit with status 2.
type UsageError struct {
	msg string
}

func (e *UsageError) Error() string { return e.msg }

// usagef builds a UsageError.
func usagef(format string, args ...any) error {
	return &UsageError{msg: fmt.Sprintf(format, args...)}
}

// app carries the process's outside world so that commands never touch
// os.Stdin, os.Getenv and friends directly; tests hand in their own.
type app struct {
	env    func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// command is one client command, or a group of subcommands (keys).
type command struct {
	name    string
	summary string
	// flags builds the command's flag set; usage prints it, run parses it.
	flags func(a *app) *flagSet
	run   func(ctx context.Context, a *app, fs *flagSet, args []string) error
	// subs makes the command a group: its first argument names one of them,
	// and flags and run are unused. description heads the group's usage.
	subs        []command
	description string
}

// commands lists the client commands in the order usage shows them. It is a
// function rather than a package variable so nothing global can be mutated.
func commands() []command {
	return []command{
		{name: "get", summary: "print one article as markdown or JSON", flags: getFlags, run: runGet},
		{name: "import", summary: "create articles from a JSONL file (one article per line)", flags: importFlags, run: runImport},
		{name: "export", summary: "write articles as JSONL that import can read back", flags: exportFlags, run: runExport},
		{name: "search", summary: "search articles (a table, or --json)", flags: searchFlags, run: runSearch},
		{name: "resolve", summary: "the one article that answers a question, with next steps", flags: resolveFlags, run: runResolve},
		{name: "mcp", summary: "serve the MCP tools over stdio for a local agent (Claude Code, Cursor, Codex)", flags: mcpFlags, run: runMCP},
		{name: "reindex", summary: "rebuild the search index, with progress (articles:write)", flags: reindexFlags, run: runReindex},
		keysCommand(),
	}
}

// findCommand looks name up among cmds.
func findCommand(cmds []command, name string) (command, bool) {
	for _, c := range cmds {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
}

// isHelp says whether word asks for help instead of naming a command.
func isHelp(word string) bool {
	switch word {
	case "help", "-h", "-help", "--help":
		return true
	}
	return false
}

// Run executes one client command. args are the words after the binary name,
// e.g. ["get", "my-slug", "--format", "json"]. env looks up environment
// variables (os.Getenv in production). The returned error is meant to be
// printed as is; a *UsageError means the command line was wrong.
func Run(ctx context.Context, args []string, env func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	// Nil streams and env mean "none", so embedding callers and tests need
	// not build empty ones.
	if env == nil {
		env = func(string) string { return "" }
	}
	if stdin == nil {
		stdin = strings.NewReader("")
	}
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	a := &app{env: env, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		writeUsage(stderr)
		return usagef("no command given")
	}
	name, rest := args[0], args[1:]
	if isHelp(name) {
		return runHelp(a, rest)
	}
	cmd, ok := findCommand(commands(), name)
	if !ok {
		writeUsage(stderr)
		return usagef("unknown command %q", name)
	}
	return runCommand(ctx, a, cmd.name, cmd, rest)
}

// runCommand parses args for cmd and runs it; for a group it picks the
// subcommand first. full is the command's name as typed, e.g. "keys create",
// for messages.
func runCommand(ctx context.Context, a *app, full string, cmd command, args []string) error {
	if cmd.subs != nil {
		if len(args) == 0 {
			writeGroupUsage(a.stderr, full, cmd)
			return usagef("%s: no subcommand given; want one of %s", full, subNames(cmd))
		}
		if isHelp(args[0]) {
			return runHelp(a, append([]string{full}, args[1:]...))
		}
		sub, ok := findCommand(cmd.subs, args[0])
		if !ok {
			writeGroupUsage(a.stderr, full, cmd)
			return usagef("%s: unknown subcommand %q; want one of %s", full, args[0], subNames(cmd))
		}
		return runCommand(ctx, a, full+" "+sub.name, sub, args[1:])
	}
	fs := cmd.flags(a)
	pos, err := fs.parse(args)
	if errors.Is(err, flag.ErrHelp) {
		// Asked-for help is the command's output, not an error.
		fs.writeUsage(a.stdout)
		return nil
	}
	if err != nil {
		fs.writeUsage(a.stderr)
		return usagef("%s: %v", full, err)
	}
	return cmd.run(ctx, a, fs, pos)
}

// runHelp prints the overview, or the usage of the command named by args:
// `help import`, `help keys`, `help keys create`.
func runHelp(a *app, args []string) error {
	if len(args) == 0 {
		writeUsage(a.stdout)
		return nil
	}
	cmds, full := commands(), ""
	for i, word := range args {
		cmd, ok := findCommand(cmds, word)
		if !ok {
			if i == 0 {
				writeUsage(a.stderr)
				return usagef("help: unknown command %q", word)
			}
			return usagef("help: %s has no subcommand %q; want one of %s", full, word, strings.Join(names(cmds), ", "))
		}
		full = strings.TrimSpace(full + " " + cmd.name)
		if cmd.subs == nil || i == len(args)-1 {
			if cmd.subs != nil {
				writeGroupUsage(a.stdout, full, cmd)
			} else {
				cmd.flags(a).writeUsage(a.stdout)
			}
			return nil
		}
		cmds = cmd.subs
	}
	return nil // not reached: the loop returns on its last word
}

// names lists the names of cmds.
func names(cmds []command) []string {
	out := make([]string, len(cmds))
	for i, c := range cmds {
		out[i] = c.name
	}
	return out
}

// subNames lists a group's subcommands for messages: "create, list, revoke".
func subNames(cmd command) string {
	return strings.Join(names(cmd.subs), ", ")
}

// writeGroupUsage prints the usage of a command group such as keys.
func writeGroupUsage(w io.Writer, full string, cmd command) {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage:\n  buzhou %s <subcommand> [arguments] [flags]\n\n%s\n\nSubcommands:\n", full, cmd.description)
	for _, s := range cmd.subs {
		fmt.Fprintf(&b, "  %-8s %s\n", s.name, s.summary)
	}
	fmt.Fprintf(&b, "\nRun `buzhou help %s <subcommand>` for its flags.\n", full)
	io.WriteString(w, b.String())
}

// writeUsage prints the command overview.
func writeUsage(w io.Writer) {
	var b strings.Builder
	b.WriteString(`buzhou is an executable knowledge hub for AI agents.

Usage:
  buzhou <command> [arguments] [flags]

Client commands (talk to a running server over REST):
`)
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(&b, "  %-8s %s\n", "help", "show this overview, or `buzhou help <command>` for one command")
	fmt.Fprintf(&b, `
Server command:
  serve    run the whole stack in one process (buzhou serve)

API keys (need a key with scope keys:admin, e.g. the server's BUZHOU_ADMIN_KEY):
  buzhou keys create --name NAME --scope SCOPE [--expires 30d] …
  buzhou keys list
  buzhou keys revoke ID

Every client command accepts:
  --server URL   server to talk to (env %s, default %s);
                 a bare host:port means http://host:port
  --key KEY      API key, sent as "Authorization: Bearer KEY" (env %s);
                 prefer the variable: flags show up in process lists
`, envServer, defaultServer, envKey)
	io.WriteString(w, b.String())
}
