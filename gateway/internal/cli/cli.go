// Package cli implements the client commands of the buzhou binary: get, import
// and export. They talk to a running Buzhou server over its public REST API (the
// contract in API.md), so they work the same against a local `buzhou serve` and
// a remote deployment. The server commands (serve, keys) live elsewhere.
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

// command is one client command.
type command struct {
	name    string
	summary string
	// flags builds the command's flag set; usage prints it, run parses it.
	flags func(a *app) *flagSet
	run   func(ctx context.Context, a *app, fs *flagSet, args []string) error
}

// commands lists the client commands in the order usage shows them. It is a
// function rather than a package variable so nothing global can be mutated.
func commands() []command {
	return []command{
		{name: "get", summary: "print one article as markdown or JSON", flags: getFlags, run: runGet},
		{name: "import", summary: "create articles from a JSONL file (one article per line)", flags: importFlags, run: runImport},
		{name: "export", summary: "write articles as JSONL that import can read back", flags: exportFlags, run: runExport},
	}
}

func findCommand(name string) (command, bool) {
	for _, c := range commands() {
		if c.name == name {
			return c, true
		}
	}
	return command{}, false
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
	switch name {
	case "help", "-h", "-help", "--help":
		return runHelp(a, rest)
	}
	cmd, ok := findCommand(name)
	if !ok {
		writeUsage(stderr)
		return usagef("unknown command %q", name)
	}
	fs := cmd.flags(a)
	pos, err := fs.parse(rest)
	if errors.Is(err, flag.ErrHelp) {
		// Asked-for help is the command's output, not an error.
		fs.writeUsage(stdout)
		return nil
	}
	if err != nil {
		fs.writeUsage(stderr)
		return usagef("%s: %v", cmd.name, err)
	}
	return cmd.run(ctx, a, fs, pos)
}

// runHelp prints the overview, or one command's usage for `help <command>`.
func runHelp(a *app, args []string) error {
	if len(args) == 0 {
		writeUsage(a.stdout)
		return nil
	}
	cmd, ok := findCommand(args[0])
	if !ok {
		writeUsage(a.stderr)
		return usagef("help: unknown command %q", args[0])
	}
	cmd.flags(a).writeUsage(a.stdout)
	return nil
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
Server commands:
  serve    run the whole stack in one process (buzhou serve)
  keys     manage API keys (buzhou keys …, coming later)

Every client command accepts:
  --server URL   server to talk to (env %s, default %s);
                 a bare host:port means http://host:port
  --key KEY      API key, sent as "Authorization: Bearer KEY" (env %s);
                 prefer the variable: flags show up in process lists
`, envServer, defaultServer, envKey)
	io.WriteString(w, b.String())
}
