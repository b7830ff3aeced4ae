package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"buzhou.dev/platform/auth"
	"buzhou.dev/platform/errs"
	identityv1 "buzhou.dev/proto/gen/buzhou/identity/v1"
)

// keysPageSize is the server's maximum page of keys: fewest round trips.
const keysPageSize = 200

// keysCommand is the `buzhou keys` group.
func keysCommand() command {
	return command{
		name:    "keys",
		summary: "create, list and revoke API keys (needs scope keys:admin)",
		description: fmt.Sprintf(`Manages the server's API keys. Every subcommand needs a key with scope
keys:admin in --key or %s; the server's BUZHOU_ADMIN_KEY has it.
Scopes: %s.`, envKey, strings.Join(auth.KeyScopes(), ", ")),
		subs: []command{
			{name: "create", summary: "issue a key and print its secret (shown only this once)", flags: keysCreateFlags, run: runKeysCreate},
			{name: "list", summary: "list every key without secrets: id, name, scopes, expiry, status", flags: keysListFlags, run: runKeysList},
			{name: "revoke", summary: "revoke a key by id; the server refuses it from then on", flags: keysRevokeFlags, run: runKeysRevoke},
		},
	}
}

// keysHint explains failed key requests; notFound is the remedy for a 404
// that came from the API itself ("" for none).
func keysHint(notFound string) func(int, string) string {
	return func(status int, code string) string {
		switch {
		case status == http.StatusUnauthorized || status == http.StatusForbidden:
			return fmt.Sprintf("this needs a key with scope keys:admin; set %s or --key (the server's BUZHOU_ADMIN_KEY works)", envKey)
		case status == http.StatusNotFound && code != "":
			return notFound
		}
		return ""
	}
}

// listValue is a repeatable flag whose words may also be comma-separated:
// `--scope a --scope b` and `--scopes a,b` both give [a b]. Several flags
// may share one listValue.
type listValue struct {
	items *[]string
}

func (v listValue) String() string {
	if v.items == nil {
		return ""
	}
	return strings.Join(*v.items, ",")
}

func (v listValue) Set(s string) error {
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			*v.items = append(*v.items, part)
		}
	}
	return nil
}

func (v listValue) Get() any {
	return slices.Clone(*v.items)
}

func keysCreateFlags(*app) *flagSet {
	fs := newFlagSet("keys create", "buzhou keys create --name NAME --scope SCOPE [--scope SCOPE …] [--expires 30d] [flags]",
		fmt.Sprintf(`Issues an API key and prints its secret. The secret is shown only this once;
the server cannot show it again, so store it right away.
Scopes: %s.
--expires takes a duration from now (30d, 12h, 90m, 1h30m), a date
(2026-12-31 means 00:00 UTC at the start of that day, when the key stops
working) or an RFC 3339 time (2026-12-31T23:59:59Z); without it the key
never expires. Needs a key with scope keys:admin.`, strings.Join(auth.KeyScopes(), ", ")))
	fs.String("name", "", "human-readable `name` of the key (required)")
	var scopes []string
	fs.Var(listValue{&scopes}, "scope", "`scope` to grant; repeat it, or separate scopes with commas (at least one)")
	fs.Var(listValue{&scopes}, "scopes", "comma-separated `scopes` to grant, like --scope")
	fs.String("expires", "", "`when` the key stops working: 30d, 12h, 2026-12-31 or an RFC 3339 time (default never)")
	fs.Int("rate-per-minute", 0, "requests per minute `N` the key may make (default: the server's limit)")
	fs.Int64("daily-quota", 0, "requests per day `N` (default: no daily quota)")
	fs.Int64("monthly-quota", 0, "requests per month `N` (default: no monthly quota)")
	fs.String("principal", "", "owner principal `id`; by default the server creates one named after the key")
	fs.Bool("json", false, "print the server's JSON answer as is (it holds the secret)")
	return fs
}

func runKeysCreate(ctx context.Context, a *app, fs *flagSet, args []string) error {
	name := strings.TrimSpace(fs.value("name").(string))
	scopes := fs.value("scope").([]string)
	expires := strings.TrimSpace(fs.value("expires").(string))
	rate := fs.value("rate-per-minute").(int)
	daily := fs.value("daily-quota").(int64)
	monthly := fs.value("monthly-quota").(int64)
	principal := strings.TrimSpace(fs.value("principal").(string))
	asJSON := fs.value("json").(bool)

	bad := func(format string, args ...any) error {
		fs.writeUsage(a.stderr)
		return usagef("keys create: "+format, args...)
	}
	if len(args) != 0 {
		return bad("takes no arguments, got %q; name the key with --name", args)
	}
	if name == "" {
		return bad("--name is required")
	}
	scopes, err := checkScopes(scopes)
	if err != nil {
		return bad("%v", err)
	}
	req := &identityv1.CreateApiKeyRequest{Name: name, Scopes: scopes, PrincipalId: principal}
	if expires != "" {
		at, err := parseExpiry(expires, time.Now())
		if err != nil {
			return bad("--expires: %v", err)
		}
		req.ExpiresAt = timestamppb.New(at)
	}
	if rate < 0 || rate > math.MaxInt32 {
		return bad("--rate-per-minute must be between 0 and %d, not %d", math.MaxInt32, rate)
	}
	req.RateLimitPerMinute = int32(rate)
	if daily < 0 {
		return bad("--daily-quota must not be negative, not %d", daily)
	}
	req.DailyQuota = daily
	if monthly < 0 {
		return bad("--monthly-quota must not be negative, not %d", monthly)
	}
	req.MonthlyQuota = monthly

	c, err := fs.client(a)
	if err != nil {
		return fmt.Errorf("keys create: %w", err)
	}
	body, err := protojson.Marshal(req)
	if err != nil {
		return fmt.Errorf("keys create: encoding the request: %w", err)
	}
	r, err := c.do(ctx, call{
		method: http.MethodPost,
		path:   "/api/v1/keys",
		body:   body,
		accept: "application/json",
		hint:   keysHint(fmt.Sprintf("check --principal %q; the owner must exist", principal)),
	})
	if err != nil {
		return fmt.Errorf("keys create: %w", err)
	}
	if asJSON {
		return writeRaw(a.stdout, "keys create", r.body)
	}
	var resp identityv1.CreateApiKeyResponse
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(r.body, &resp); err != nil {
		return fmt.Errorf("keys create: the server's answer is not a new key (%s); the key may have been created, check `buzhou keys list`", protoErrText(err))
	}
	if resp.GetKey() == "" {
		return fmt.Errorf("keys create: the server created key %s but sent no secret; revoke it with `buzhou keys revoke %s` and try again", resp.GetId(), resp.GetId())
	}
	return writeCreated(a.stdout, &resp)
}

// checkScopes drops repeats, keeping the order given, and rejects unknown
// and internal scopes with a message that lists the valid ones.
func checkScopes(in []string) ([]string, error) {
	if len(in) == 0 {
		return nil, fmt.Errorf("give at least one --scope; valid scopes: %s", strings.Join(auth.KeyScopes(), ", "))
	}
	out, err := auth.CheckScopes(in)
	if err != nil {
		return nil, errors.New(errs.Message(err))
	}
	return out, nil
}

// daysRE matches a whole number of days, "30d".
var daysRE = regexp.MustCompile(`^(\d+)d$`)

// parseExpiry reads --expires: a duration from now ("30d", "12h", or any Go
// duration), a date YYYY-MM-DD (00:00 UTC at the start of that day) or an
// RFC 3339 time. The result must lie after now.
func parseExpiry(s string, now time.Time) (time.Time, error) {
	var at time.Time
	if m := daysRE.FindStringSubmatch(s); m != nil {
		days, err := strconv.Atoi(m[1])
		if err != nil || days > 100*366 {
			return time.Time{}, fmt.Errorf("%q is too many days", s)
		}
		at = now.AddDate(0, 0, days)
	} else if d, err := time.ParseDuration(s); err == nil {
		at = now.Add(d)
	} else if t, err := time.Parse(time.DateOnly, s); err == nil {
		at = t // time.Parse without a zone gives UTC
	} else if t, err := time.Parse(time.RFC3339, s); err == nil {
		at = t
	} else {
		return time.Time{}, fmt.Errorf("%q is not a duration (30d, 12h, 1h30m), a date (2026-12-31) or an RFC 3339 time (2026-12-31T23:59:59Z)", s)
	}
	at = at.UTC().Truncate(time.Second)
	if !at.After(now) {
		return time.Time{}, fmt.Errorf("%q is not in the future (it means %s)", s, at.Format(time.RFC3339))
	}
	return at, nil
}

// writeCreated prints a new key with its secret, once, and the warning.
func writeCreated(w io.Writer, k *identityv1.CreateApiKeyResponse) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Created API key %s.\n\n", k.GetId())
	fmt.Fprintf(&b, "Secret (shown only now; it cannot be shown again, so store it safely):\n\n    %s\n\n", k.GetKey())
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "id:\t%s\n", k.GetId())
	fmt.Fprintf(tw, "name:\t%s\n", orDash(k.GetName()))
	fmt.Fprintf(tw, "prefix:\t%s\n", orDash(k.GetPrefix()))
	fmt.Fprintf(tw, "scopes:\t%s\n", orDash(strings.Join(k.GetScopes(), ", ")))
	fmt.Fprintf(tw, "expires:\t%s\n", formatTime(k.GetExpiresAt(), "never"))
	if k.GetPrincipalId() != "" {
		fmt.Fprintf(tw, "principal:\t%s\n", k.GetPrincipalId())
	}
	tw.Flush()
	fmt.Fprintf(&b, "\nUse it with: export %s=<the secret>\n", envKey)
	if _, err := io.WriteString(w, b.String()); err != nil {
		// The key exists now; the user must know the secret was not seen.
		return fmt.Errorf("keys create: writing output: %w; key %s was created but its secret is lost, revoke it with `buzhou keys revoke %s`", err, k.GetId(), k.GetId())
	}
	return nil
}

func keysListFlags(*app) *flagSet {
	fs := newFlagSet("keys list", "buzhou keys list [--json]",
		`Lists every API key, without secrets, as a table: id, name, prefix, scopes,
expiry, status (active, expired or revoked) and creation time, all in UTC.
--json prints {"keys": [...]} with every page of the server's answers joined.
Needs a key with scope keys:admin.`)
	fs.Bool("json", false, `print the keys as JSON, {"keys": [...]}`)
	return fs
}

func runKeysList(ctx context.Context, a *app, fs *flagSet, args []string) error {
	asJSON := fs.value("json").(bool)
	if len(args) != 0 {
		fs.writeUsage(a.stderr)
		return usagef("keys list: takes no arguments, got %q", args)
	}
	c, err := fs.client(a)
	if err != nil {
		return fmt.Errorf("keys list: %w", err)
	}

	var keys []*identityv1.ApiKey
	raw := []json.RawMessage{} // the server's own objects, for --json
	q := url.Values{"pageSize": {strconv.Itoa(keysPageSize)}}
	// A server that hands back a token it already gave would make this loop
	// forever; remember them all.
	seen := map[string]bool{}
	for {
		r, err := c.do(ctx, call{
			method: http.MethodGet,
			path:   "/api/v1/keys",
			query:  q,
			accept: "application/json",
			hint:   keysHint(""),
		})
		if err != nil {
			return fmt.Errorf("keys list: %w", err)
		}
		var page identityv1.ListApiKeysResponse
		if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(r.body, &page); err != nil {
			return fmt.Errorf("keys list: the server's answer is not a page of keys: %s", protoErrText(err))
		}
		keys = append(keys, page.GetKeys()...)
		if asJSON {
			var rawPage struct {
				Keys []json.RawMessage `json:"keys"`
			}
			if err := json.Unmarshal(r.body, &rawPage); err != nil {
				return fmt.Errorf("keys list: the server's answer is not a page of keys: %w", err)
			}
			raw = append(raw, rawPage.Keys...)
		}
		next := page.GetNextPageToken()
		if next == "" {
			break
		}
		if seen[next] {
			return fmt.Errorf("keys list: the server repeated page token %q; stopping instead of looping", next)
		}
		seen[next] = true
		q.Set("pageToken", next)
	}

	if asJSON {
		// The server's objects are passed through, so fields of a newer
		// server are kept; only the page tokens are gone.
		out, err := json.MarshalIndent(struct {
			Keys []json.RawMessage `json:"keys"`
		}{raw}, "", "  ")
		if err != nil {
			return fmt.Errorf("keys list: encoding JSON: %w", err)
		}
		return writeRaw(a.stdout, "keys list", out)
	}
	if len(keys) == 0 {
		fmt.Fprintln(a.stderr, "no API keys; create one with `buzhou keys create`")
		return nil
	}
	if err := writeKeyTable(a.stdout, keys, time.Now()); err != nil {
		return fmt.Errorf("keys list: writing output: %w", err)
	}
	return nil
}

// writeKeyTable prints keys as an aligned table.
func writeKeyTable(w io.Writer, keys []*identityv1.ApiKey, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tPREFIX\tSCOPES\tEXPIRES\tSTATUS\tCREATED")
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			cell(k.GetId()), cell(k.GetName()), cell(k.GetPrefix()),
			cell(strings.Join(k.GetScopes(), ",")),
			formatTime(k.GetExpiresAt(), "never"), keyStatus(k, now),
			formatTime(k.GetCreatedAt(), "-"))
	}
	return tw.Flush()
}

// keyStatus is revoked, expired or active, in that order of precedence.
func keyStatus(k *identityv1.ApiKey, now time.Time) string {
	switch {
	case k.GetRevokedAt() != nil:
		return "revoked"
	case k.GetExpiresAt() != nil && !k.GetExpiresAt().AsTime().After(now):
		return "expired"
	}
	return "active"
}

func keysRevokeFlags(*app) *flagSet {
	fs := newFlagSet("keys revoke", "buzhou keys revoke <id> [--json]",
		"Revokes an API key by its id (see `buzhou keys list`); the server refuses the\nkey from then on. Needs a key with scope keys:admin.")
	fs.Bool("json", false, "print the server's JSON answer (the revoked key) as is")
	return fs
}

func runKeysRevoke(ctx context.Context, a *app, fs *flagSet, args []string) error {
	asJSON := fs.value("json").(bool)
	if len(args) != 1 || strings.TrimSpace(args[0]) == "" {
		fs.writeUsage(a.stderr)
		return usagef("keys revoke: want exactly one key id, got %d arguments", len(args))
	}
	id := args[0]
	c, err := fs.client(a)
	if err != nil {
		return fmt.Errorf("keys revoke: %w", err)
	}
	r, err := c.do(ctx, call{
		method: http.MethodDelete,
		path:   "/api/v1/keys/" + url.PathEscape(id),
		accept: "application/json",
		hint:   keysHint(fmt.Sprintf("check the id %q; `buzhou keys list` shows every key's id", id)),
	})
	if err != nil {
		return fmt.Errorf("keys revoke %s: %w", id, err)
	}
	if asJSON {
		return writeRaw(a.stdout, "keys revoke", r.body)
	}
	var k identityv1.ApiKey
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(r.body, &k); err != nil {
		// The server said 2xx: the key is revoked even if the answer is odd.
		fmt.Fprintf(a.stdout, "Revoked API key %s.\n", id)
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Revoked API key %s", cmp.Or(k.GetId(), id))
	if k.GetName() != "" {
		fmt.Fprintf(&b, " (%q", k.GetName())
		if k.GetPrefix() != "" {
			fmt.Fprintf(&b, ", prefix %s", k.GetPrefix())
		}
		b.WriteString(")")
	}
	if k.GetRevokedAt() != nil {
		fmt.Fprintf(&b, " at %s", formatTime(k.GetRevokedAt(), ""))
	}
	b.WriteString("; the server refuses it from now on.\n")
	if _, err := io.WriteString(a.stdout, b.String()); err != nil {
		return fmt.Errorf("keys revoke %s: writing output: %w", id, err)
	}
	return nil
}

// writeRaw writes the server's bytes with a final newline.
func writeRaw(w io.Writer, what string, body []byte) error {
	out := body
	if len(out) == 0 || out[len(out)-1] != '\n' {
		out = append(slices.Clip(out), '\n')
	}
	if _, err := w.Write(out); err != nil {
		return fmt.Errorf("%s: writing output: %w", what, err)
	}
	return nil
}

// formatTime shows a timestamp as RFC 3339 UTC, or none when it is unset.
func formatTime(ts *timestamppb.Timestamp, none string) string {
	if ts == nil {
		return none
	}
	return ts.AsTime().UTC().Format(time.RFC3339)
}

// cell keeps a table cell on one line and never empty, so columns line up.
func cell(s string) string {
	return orDash(strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s))
}

func orDash(s string) string {
	return cmp.Or(s, "-")
}

// listValue must be a flag.Getter for flagSet.value.
var _ flag.Getter = listValue{}
