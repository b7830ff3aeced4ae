package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"buzhou.dev/gateway/internal/mcpserver"
)

func mcpFlags(*app) *flagSet {
	fs := newFlagSet("mcp", "buzhou mcp [--server URL] [--key KEY]",
		`Serves Buzhou's MCP tools (search, resolve, get_article, related,
list_verifications, submit_verification, report_problem, propose_article), its
articles as resources and the troubleshoot prompt over stdio, for a local MCP
client (Claude Code, Cursor, Codex) to start as a subprocess. The tools call the
server's REST API with the key, so it is what limits and scopes them. Nothing but
the protocol is written to stdout. --url is the same as --server.`)
	fs.StringVar(fs.server, "url", "", "same as --server")
	return fs
}

func runMCP(ctx context.Context, a *app, fs *flagSet, args []string) error {
	if len(args) > 0 {
		fs.writeUsage(a.stderr)
		return usagef("mcp: takes no arguments, got %q", args[0])
	}
	c, err := fs.client(a)
	if err != nil {
		return fmt.Errorf("mcp: %w", err)
	}
	srv := mcpserver.New(mcpserver.Config{
		API:      &mcpserver.API{Base: c.base, Client: &http.Client{Timeout: requestTimeout}, Key: c.key, UserAgent: userAgent + "-mcp"},
		Version:  "1",
		KeyHowTo: mcpserver.KeyHowToStdio,
	})
	fmt.Fprintf(a.stderr, "buzhou mcp: serving MCP on stdio for %s\n", c.base)
	err = srv.Run(ctx, &mcp.IOTransport{Reader: io.NopCloser(a.stdin), Writer: nopWriteCloser{a.stdout}})
	// The client hanging up (stdin closed) or a signal is the normal end.
	if err == nil || errors.Is(err, io.EOF) || errors.Is(err, mcp.ErrConnectionClosed) || ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("mcp: %w", err)
}

// nopWriteCloser leaves stdout open when the session ends: it is the
// process's, not the session's.
type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
