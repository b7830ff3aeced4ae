package cli

import (
	"flag"
	"fmt"
	"io"
)

// flagSet is a command's flag.FlagSet plus the words of its usage text and the
// connection flags every client command shares.
type flagSet struct {
	*flag.FlagSet
	synopsis    string // e.g. "buzhou get <id-or-slug> [flags]"
	description string
	server      *string
	key         *string
}

// newFlagSet makes a flag set that never prints on its own: Run decides
// whether usage goes to stdout (asked for) or stderr (a mistake), and the
// error message is printed once, by the caller of Run.
func newFlagSet(name, synopsis, description string) *flagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flagSet{
		FlagSet:     fs,
		synopsis:    synopsis,
		description: description,
		server:      fs.String("server", "", fmt.Sprintf("server `URL` or host:port (env %s, default %s)", envServer, defaultServer)),
		key:         fs.String("key", "", fmt.Sprintf("API `key` sent as a bearer token (env %s)", envKey)),
	}
}

// parse parses flags wherever they appear, so `get my-slug --format json`
// works as well as `get --format json my-slug`; the standard flag package
// alone stops at the first positional word. A "--" ends flag parsing.
func (fs *flagSet) parse(args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		consumed := len(args) - len(rest)
		if consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), nil
		}
		if len(rest) == 0 {
			return positional, nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// value returns the parsed value of a flag the command defined; a typo in
// name is a programming error and panics in the first test that runs it.
func (fs *flagSet) value(name string) any {
	return fs.Lookup(name).Value.(flag.Getter).Get()
}

// writeUsage prints the command's synopsis, description and flags to w.
func (fs *flagSet) writeUsage(w io.Writer) {
	fmt.Fprintf(w, "Usage:\n  %s\n\n%s\n\nFlags:\n", fs.synopsis, fs.description)
	// PrintDefaults writes to the flag set's output, which is normally
	// discarded; point it at w for just this call.
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

// client resolves the server URL and API key (flag, then environment, then
// default) and returns a client for them.
func (fs *flagSet) client(a *app) (*client, error) {
	raw := *fs.server
	if raw == "" {
		raw = a.env(envServer)
	}
	if raw == "" {
		raw = defaultServer
	}
	base, err := parseServerURL(raw)
	if err != nil {
		return nil, err
	}
	key := *fs.key
	if key == "" {
		key = a.env(envKey)
	}
	return newClient(base, key, a.stderr), nil
}
