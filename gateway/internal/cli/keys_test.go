package cli_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"buzhou.dev/gateway/internal/cli"
	"buzhou.dev/gateway/internal/stack/stacktest"
	identityv1 "buzhou.dev/proto/gen/buzhou/identity/v1"
)

// adminHint is what every refused key request must tell the user.
const adminHint = "this needs a key with scope keys:admin; set BUZHOU_API_KEY or --key (the server's BUZHOU_ADMIN_KEY works)"

// createdKey reads the key create request the client sent and the server's
// answer from the injector.
func createdKey(t *testing.T, f *faults) (*identityv1.CreateApiKeyRequest, string, *identityv1.CreateApiKeyResponse, []byte) {
	t.Helper()
	ex := f.last(t, routeCreateKey)
	var req identityv1.CreateApiKeyRequest
	if err := protojson.Unmarshal(ex.body, &req); err != nil {
		t.Fatalf("request body is not a CreateApiKeyRequest: %v\n%s", err, ex.body)
	}
	var resp identityv1.CreateApiKeyResponse
	if err := protojson.Unmarshal(ex.answer, &resp); err != nil {
		t.Fatalf("answer is not a CreateApiKeyResponse: %v\n%s", err, ex.answer)
	}
	return &req, string(ex.body), &resp, ex.answer
}

func TestKeysCreate(t *testing.T) {
	t.Parallel()
	server := startStack(t, stacktest.Options{})
	f := newFaults(t, server)
	owner := createKey(t, server, &identityv1.CreateApiKeyRequest{Name: "owner's first", Scopes: []string{"articles:write"}}).GetPrincipalId()
	before := time.Now()

	r := stacktest.RunCLI(envFor(f.URL, adminKey), "", "keys", "create", "--name", "ci bot",
		"--scope", "articles:write", "--scopes", "keys:admin, articles:write", "--scope=inspections:run",
		"--expires", "30d", "--rate-per-minute", "60", "--daily-quota", "1000", "--monthly-quota", "20000",
		"--principal", owner)

	if r.Err != nil {
		t.Fatalf("keys create: %v\nstderr: %s", r.Err, r.Stderr)
	}
	req, sent, resp, _ := createdKey(t, f)
	// The request follows the proto's JSON names, int64 as strings.
	wantContains(t, "request body", sent, `"name":`, `"scopes":`, `"expiresAt":`, `"principalId":`, `"rateLimitPerMinute":60`, `"dailyQuota":"1000"`, `"monthlyQuota":"20000"`)
	wantScopes := []string{"articles:write", "keys:admin", "inspections:run"}
	if !slices.Equal(req.GetScopes(), wantScopes) {
		t.Errorf("scopes sent = %v, want %v (in order, without repeats)", req.GetScopes(), wantScopes)
	}
	exp := req.GetExpiresAt().AsTime()
	if lo, hi := before.AddDate(0, 0, 30).Add(-time.Second), time.Now().AddDate(0, 0, 30); exp.Before(lo) || exp.After(hi) {
		t.Errorf("expiresAt = %s, want 30 days from now (%s to %s)", exp, lo, hi)
	}

	// The server holds the key as asked for.
	got := keyByID(t, storedKeys(t, server), resp.GetId())
	want := &identityv1.ApiKey{
		Id: resp.GetId(), Name: "ci bot", Prefix: resp.GetPrefix(), Scopes: wantScopes, PrincipalId: owner,
		ExpiresAt: timestamppb.New(exp), CreatedAt: got.GetCreatedAt(), RateLimitPerMinute: 60, DailyQuota: 1000, MonthlyQuota: 20000,
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("stored key (-want +got):\n%s", diff)
	}
	// The printed secret works.
	secret := resp.GetKey()
	if status, body := rest(t, http.MethodGet, server+"/api/v1/keys", secret, nil); status != http.StatusOK {
		t.Errorf("the new key cannot list keys: %d %s", status, body)
	}

	// The secret is shown exactly once, with the warning, and never on stderr.
	if n := strings.Count(r.Stdout+r.Stderr, secret); n != 1 {
		t.Errorf("the secret appears %d times in the output, want once:\n%s", n, r.Stdout)
	}
	wantContains(t, "stdout", r.Stdout,
		"Created API key "+resp.GetId()+".",
		"it cannot be shown again",
		"\n    "+secret+"\n",
		"id:         "+resp.GetId()+"\n",
		"name:       ci bot\n",
		"prefix:     "+resp.GetPrefix()+"\n",
		"scopes:     articles:write, keys:admin, inspections:run\n",
		"expires:    "+exp.UTC().Format(time.RFC3339)+"\n",
		"principal:  "+owner+"\n",
		"export BUZHOU_API_KEY=",
	)
	if r.Stderr != "" {
		t.Errorf("stderr = %q, want nothing", r.Stderr)
	}
}

func TestKeysCreateWithoutExpiry(t *testing.T) {
	t.Parallel()
	server := startStack(t, stacktest.Options{})
	f := newFaults(t, server)
	r := stacktest.RunCLI(envFor(f.URL, adminKey), "", "keys", "create", "--name=reader", "--scope", "verifications:write")
	if r.Err != nil {
		t.Fatalf("keys create: %v", r.Err)
	}
	req, sent, resp, _ := createdKey(t, f)
	if req.GetExpiresAt() != nil {
		t.Errorf("expiresAt = %v, want none", req.GetExpiresAt())
	}
	// Unset limits are left out, so the server applies its defaults.
	for _, field := range []string{"expiresAt", "rateLimitPerMinute", "dailyQuota", "monthlyQuota", "principalId"} {
		if strings.Contains(sent, field) {
			t.Errorf("request body %s sends %s", sent, field)
		}
	}
	// The server made a principal of its own for the key.
	if !strings.HasPrefix(resp.GetPrincipalId(), "prn_") {
		t.Errorf("principal = %q", resp.GetPrincipalId())
	}
	wantContains(t, "stdout", r.Stdout, "expires:    never\n", "principal:  "+resp.GetPrincipalId()+"\n")
	if k := keyByID(t, storedKeys(t, server), resp.GetId()); k.GetExpiresAt() != nil {
		t.Errorf("the stored key expires at %v, want never", k.GetExpiresAt())
	}
}

func TestKeysCreateJSON(t *testing.T) {
	t.Parallel()
	server := startStack(t, stacktest.Options{})
	f := newFaults(t, server)
	r := stacktest.RunCLI(envFor(f.URL, adminKey), "", "keys", "create", "--name", "bot", "--scopes", "articles:write", "--expires", "2099-01-01", "--json")
	if r.Err != nil {
		t.Fatalf("keys create --json: %v", r.Err)
	}
	_, _, resp, answer := createdKey(t, f)
	if r.Stdout != strings.TrimSuffix(string(answer), "\n")+"\n" {
		t.Errorf("stdout = %q, want the server's answer as is: %q", r.Stdout, answer)
	}
	if resp.GetKey() == "" || resp.GetExpiresAt().AsTime() != time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC) {
		t.Errorf("answer = %v", resp)
	}
}

func TestKeysCreateUsageErrors(t *testing.T) {
	t.Parallel()
	server := startStack(t, stacktest.Options{})
	valid := "valid scopes: articles:write, articles:propose, verifications:write, inspections:run, keys:admin"
	tests := []struct {
		name    string
		args    []string
		wantErr []string
	}{
		{name: "no name", args: []string{"--scope", "keys:admin"}, wantErr: []string{"--name is required"}},
		{name: "blank name", args: []string{"--name", "  ", "--scope", "keys:admin"}, wantErr: []string{"--name is required"}},
		{name: "no scope", args: []string{"--name", "x"}, wantErr: []string{"give at least one --scope", valid}},
		{name: "empty scopes list", args: []string{"--name", "x", "--scopes", " , "}, wantErr: []string{"give at least one --scope"}},
		{name: "unknown scope", args: []string{"--name", "x", "--scope", "articles:read"}, wantErr: []string{`unknown scope "articles:read"`, valid}},
		{name: "unknown scope in a list", args: []string{"--name", "x", "--scopes", "keys:admin,Keys:Admin"}, wantErr: []string{`unknown scope "Keys:Admin"`, valid}},
		{name: "internal scope", args: []string{"--name", "x", "--scope", "internal:feed"}, wantErr: []string{`scope "internal:feed" is internal to Buzhou's own services`, valid}},
		{name: "bad expiry", args: []string{"--name", "x", "--scope", "keys:admin", "--expires", "next week"}, wantErr: []string{`--expires: "next week" is not a duration (30d, 12h, 1h30m), a date (2026-12-31) or an RFC 3339 time`}},
		{name: "past expiry", args: []string{"--name", "x", "--scope", "keys:admin", "--expires", "2020-01-01"}, wantErr: []string{`--expires: "2020-01-01" is not in the future (it means 2020-01-01T00:00:00Z)`}},
		{name: "negative rate", args: []string{"--name", "x", "--scope", "keys:admin", "--rate-per-minute", "-1"}, wantErr: []string{"--rate-per-minute must be between 0 and 2147483647, not -1"}},
		{name: "rate too large", args: []string{"--name", "x", "--scope", "keys:admin", "--rate-per-minute", "3000000000"}, wantErr: []string{"--rate-per-minute must be between 0 and 2147483647"}},
		{name: "negative daily quota", args: []string{"--name", "x", "--scope", "keys:admin", "--daily-quota", "-5"}, wantErr: []string{"--daily-quota must not be negative"}},
		{name: "negative monthly quota", args: []string{"--name", "x", "--scope", "keys:admin", "--monthly-quota=-5"}, wantErr: []string{"--monthly-quota must not be negative"}},
		{name: "quota not a number", args: []string{"--name", "x", "--scope", "keys:admin", "--daily-quota", "lots"}, wantErr: []string{`invalid value "lots" for flag -daily-quota`}},
		{name: "positional argument", args: []string{"mykey", "--scope", "keys:admin"}, wantErr: []string{`takes no arguments, got ["mykey"]; name the key with --name`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFaults(t, server)
			r := stacktest.RunCLI(envFor(f.URL, adminKey), "", append([]string{"keys", "create"}, tt.args...)...)
			var ue *cli.UsageError
			if !errors.As(r.Err, &ue) {
				t.Fatalf("err = %v (%T), want a *UsageError", r.Err, r.Err)
			}
			wantContains(t, "error", r.Err.Error(), append([]string{"keys create: "}, tt.wantErr...)...)
			wantContains(t, "stderr", r.Stderr, "Usage:", "buzhou keys create")
			if r.Stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.Stdout)
			}
			if n := len(f.requests("")); n != 0 {
				t.Errorf("the server got %d requests, want none for a bad command line", n)
			}
		})
	}
}

// columns splits a row of the key table; cells are at least two spaces apart
// and hold no runs of spaces themselves.
var columns = regexp.MustCompile(`\s{2,}`)

func TestKeysList(t *testing.T) {
	t.Parallel()
	server := startStack(t, stacktest.Options{})
	secrets := []string{adminKey}
	for _, req := range []*identityv1.CreateApiKeyRequest{
		{Name: "admin", Scopes: []string{"keys:admin"}},
		{Name: "old ci", Scopes: []string{"articles:write", "inspections:run"}, ExpiresAt: timestamppb.New(time.Date(2099, 12, 31, 0, 0, 0, 0, time.UTC))},
		{Name: "bot name", Scopes: []string{"articles:write"}, DailyQuota: 5000},
	} {
		secrets = append(secrets, createKey(t, server, req).GetKey())
	}
	leaked := createKey(t, server, &identityv1.CreateApiKeyRequest{Name: "leaked", Scopes: []string{"verifications:write"}})
	secrets = append(secrets, leaked.GetKey())
	if status, body := rest(t, http.MethodDelete, server+"/api/v1/keys/"+leaked.GetId(), adminKey, nil); status != http.StatusOK {
		t.Fatalf("revoke: %d %s", status, body)
	}

	r := stacktest.RunCLI(envFor(server, adminKey), "", "keys", "list")

	if r.Err != nil {
		t.Fatalf("keys list: %v", r.Err)
	}
	lines := strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n")
	if got := strings.Fields(lines[0]); !slices.Equal(got, []string{"ID", "NAME", "PREFIX", "SCOPES", "EXPIRES", "STATUS", "CREATED"}) {
		t.Errorf("header = %q", lines[0])
	}
	// One row per key, in the server's order, with what the server holds.
	var want [][]string
	for _, k := range storedKeys(t, server) {
		expires, status := "never", "active"
		if k.GetExpiresAt() != nil {
			expires = k.GetExpiresAt().AsTime().Format(time.RFC3339)
		}
		if k.GetRevokedAt() != nil {
			status = "revoked"
		}
		want = append(want, []string{k.GetId(), k.GetName(), k.GetPrefix(),
			strings.Join(k.GetScopes(), ","), expires, status, k.GetCreatedAt().AsTime().Format(time.RFC3339)})
	}
	var got [][]string
	for _, line := range lines[1:] {
		got = append(got, columns.Split(line, -1))
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("table rows (-server +printed):\n%s\n%s", diff, r.Stdout)
	}
	for _, s := range secrets {
		if strings.Contains(r.Stdout, s) {
			t.Errorf("the table shows the secret of a key")
		}
	}
}

// createKeys makes n keys with scope articles:write on the server at base,
// a few at a time.
func createKeys(t *testing.T, base string, n int) {
	t.Helper()
	body := []byte(`{"name":"k","scopes":["articles:write"]}`)
	errc := make(chan error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			req, err := http.NewRequest(http.MethodPost, base+"/api/v1/keys", bytes.NewReader(body))
			if err != nil {
				errc <- err
				return
			}
			req.Header.Set("Authorization", "Bearer "+adminKey)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errc <- err
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				errc <- fmt.Errorf("create key: %s", resp.Status)
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
}

func TestKeysListPages(t *testing.T) {
	t.Parallel()
	server := startStack(t, stacktest.Options{})
	// Three pages of 200, the last one of a single key; the stack holds
	// keys of its own (bootstrap and services).
	createKeys(t, server, 401-len(storedKeys(t, server)))
	keys := storedKeys(t, server)

	t.Run("table", func(t *testing.T) {
		t.Parallel()
		f := newFaults(t, server)
		r := stacktest.RunCLI(envFor(f.URL, adminKey), "", "keys", "list")
		if r.Err != nil {
			t.Fatalf("keys list: %v", r.Err)
		}
		lines := strings.Split(strings.TrimSuffix(r.Stdout, "\n"), "\n")
		if len(lines) != 1+len(keys) {
			t.Fatalf("got %d lines, want a header and %d keys", len(lines), len(keys))
		}
		for i, k := range keys {
			if !strings.HasPrefix(lines[1+i], k.GetId()+" ") {
				t.Fatalf("line %d = %q, want key %s (the server's order)", i+2, lines[1+i], k.GetId())
			}
		}
		f.wantPages(t, routeKeys, 3, "200")
	})

	t.Run("json joins the pages", func(t *testing.T) {
		t.Parallel()
		r := stacktest.RunCLI(envFor(server, adminKey), "", "keys", "list", "--json")
		if r.Err != nil {
			t.Fatalf("keys list --json: %v", r.Err)
		}
		var got identityv1.ListApiKeysResponse
		if err := protojson.Unmarshal([]byte(r.Stdout), &got); err != nil {
			t.Fatalf("stdout is not a list of keys: %v\n%s", err, r.Stdout)
		}
		if got.GetNextPageToken() != "" {
			t.Errorf("token %q, want none", got.GetNextPageToken())
		}
		if diff := cmp.Diff(keys, got.GetKeys(), protocmp.Transform()); diff != "" {
			t.Errorf("keys differ (-server +printed):\n%s", diff)
		}
	})
}

func TestKeysListJSONKeepsServerFields(t *testing.T) {
	t.Parallel()
	server := startStack(t, stacktest.Options{})
	k := createKey(t, server, &identityv1.CreateApiKeyRequest{Name: "a", Scopes: []string{"articles:write"}, DailyQuota: 7})
	r := stacktest.RunCLI(envFor(server, adminKey), "", "keys", "list", "--json")
	if r.Err != nil {
		t.Fatalf("keys list --json: %v", r.Err)
	}
	// int64 stays a JSON string, as the server sent it.
	wantContains(t, "stdout", r.Stdout, `"dailyQuota": "7"`, `"id": "`+k.GetId()+`"`)
	if !strings.HasPrefix(r.Stdout, "{\n  \"keys\": [") {
		t.Errorf("stdout = %q, want an indented {\"keys\": [...]}", r.Stdout)
	}
	// Every object is the server's own, byte for byte but for the indent.
	type page struct {
		Keys []json.RawMessage `json:"keys"`
	}
	var printed, sent page
	_, raw := rest(t, http.MethodGet, server+"/api/v1/keys?pageSize=200", adminKey, nil)
	for _, in := range []struct {
		data []byte
		into *page
	}{{[]byte(r.Stdout), &printed}, {raw, &sent}} {
		if err := json.Unmarshal(in.data, in.into); err != nil {
			t.Fatal(err)
		}
		for i, obj := range in.into.Keys {
			var b bytes.Buffer
			if err := json.Compact(&b, obj); err != nil {
				t.Fatal(err)
			}
			in.into.Keys[i] = b.Bytes()
		}
	}
	if diff := cmp.Diff(sent, printed); diff != "" {
		t.Errorf("printed keys differ from the server's (-server +printed):\n%s", diff)
	}
}

func TestKeysListEmpty(t *testing.T) {
	t.Parallel()
	server := startStack(t, stacktest.Options{})
	f := newFaults(t, server)
	// A list the real server cannot give (it always holds the caller's own
	// key), for the client's message about it.
	f.answer(routeKeys, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"keys":[],"nextPageToken":""}`)
	}, 1, 2)

	r := stacktest.RunCLI(envFor(f.URL, adminKey), "", "keys", "list")
	if r.Err != nil {
		t.Fatalf("keys list: %v", r.Err)
	}
	if r.Stdout != "" {
		t.Errorf("stdout = %q, want nothing", r.Stdout)
	}
	wantContains(t, "stderr", r.Stderr, "no API keys; create one with `buzhou keys create`")

	r = stacktest.RunCLI(envFor(f.URL, adminKey), "", "keys", "list", "--json")
	if r.Err != nil {
		t.Fatalf("keys list --json: %v", r.Err)
	}
	if r.Stdout != "{\n  \"keys\": []\n}\n" {
		t.Errorf("stdout = %q, want an empty list", r.Stdout)
	}
}

// revoked counts the revoked keys on the server at base.
func revoked(t *testing.T, base string) int {
	t.Helper()
	n := 0
	for _, k := range storedKeys(t, base) {
		if k.GetRevokedAt() != nil {
			n++
		}
	}
	return n
}

func TestKeysRevoke(t *testing.T) {
	t.Parallel()
	server := startStack(t, stacktest.Options{})
	ci := createKey(t, server, &identityv1.CreateApiKeyRequest{Name: "ci", Scopes: []string{"articles:write"}})
	other := createKey(t, server, &identityv1.CreateApiKeyRequest{Name: "other", Scopes: []string{"articles:write"}})

	r := stacktest.RunCLI(envFor(server, adminKey), "", "keys", "revoke", ci.GetId())

	if r.Err != nil {
		t.Fatalf("keys revoke: %v", r.Err)
	}
	keys := storedKeys(t, server)
	gone, kept := keyByID(t, keys, ci.GetId()), keyByID(t, keys, other.GetId())
	if gone.GetRevokedAt() == nil || kept.GetRevokedAt() != nil {
		t.Fatalf("revokedAt = %v, %v; want ci revoked and other not", gone.GetRevokedAt(), kept.GetRevokedAt())
	}
	want := fmt.Sprintf("Revoked API key %s (\"ci\", prefix %s) at %s; the server refuses it from now on.\n",
		ci.GetId(), ci.GetPrefix(), gone.GetRevokedAt().AsTime().Format(time.RFC3339))
	if r.Stdout != want {
		t.Errorf("stdout = %q, want %q", r.Stdout, want)
	}
	eventually(t, "the server to refuse the revoked key", func() bool {
		status, _ := rest(t, http.MethodGet, server+"/api/v1/articles?status=draft", ci.GetKey(), nil)
		return status == http.StatusUnauthorized
	})

	// The subtests run in order, each on what the one before left.
	t.Run("json", func(t *testing.T) {
		r := stacktest.RunCLI(envFor(server, adminKey), "", "keys", "revoke", "--json", other.GetId())
		if r.Err != nil {
			t.Fatalf("keys revoke --json: %v", r.Err)
		}
		var got identityv1.ApiKey
		if err := protojson.Unmarshal([]byte(r.Stdout), &got); err != nil {
			t.Fatalf("stdout is not a key: %v\n%s", err, r.Stdout)
		}
		if got.GetId() != other.GetId() || got.GetRevokedAt() == nil {
			t.Errorf("answer = %v, want %s with revokedAt", &got, other.GetId())
		}
	})

	t.Run("then list shows it revoked", func(t *testing.T) {
		r := stacktest.RunCLI(envFor(server, adminKey), "", "keys", "list")
		if r.Err != nil {
			t.Fatalf("keys list: %v", r.Err)
		}
		if n := strings.Count(r.Stdout, " revoked "); n != 2 {
			t.Errorf("table shows %d revoked keys, want 2:\n%s", n, r.Stdout)
		}
	})

	t.Run("unknown id", func(t *testing.T) {
		r := stacktest.RunCLI(envFor(server, adminKey), "", "keys", "revoke", "key_zzz")
		if r.Err == nil {
			t.Fatal("want an error")
		}
		wantContains(t, "error", r.Err.Error(), "keys revoke key_zzz: server answered 404 NOT_FOUND", `API key "key_zzz" not found`,
			"(request id req_", "`buzhou keys list` shows every key's id")
		if r.Stdout != "" {
			t.Errorf("stdout = %q, want nothing", r.Stdout)
		}
	})

	t.Run("ids are escaped in the path", func(t *testing.T) {
		f := newFaults(t, server)
		r := stacktest.RunCLI(envFor(f.URL, adminKey), "", "keys", "revoke", "key/../a")
		wantContains(t, "error", errText(r.Err), "keys revoke key/../a: server answered 404")
		if got := f.last(t, "").rawPath; got != "/api/v1/keys/key%2F..%2Fa" {
			t.Errorf("path sent = %q, want the id as one escaped segment", got)
		}
		if n := revoked(t, server); n != 2 {
			t.Errorf("%d keys revoked, want still 2", n)
		}
	})

	for _, args := range [][]string{{}, {"key_a", "key_b"}, {""}} {
		r := stacktest.RunCLI(envFor(server, adminKey), "", append([]string{"keys", "revoke"}, args...)...)
		var ue *cli.UsageError
		if !errors.As(r.Err, &ue) || !strings.Contains(r.Err.Error(), "keys revoke: want exactly one key id") {
			t.Errorf("keys revoke %q: err = %v, want a usage error", args, r.Err)
		}
	}
}

func TestKeysAuthHints(t *testing.T) {
	t.Parallel()
	server := startStack(t, stacktest.Options{})
	writer := createKey(t, server, &identityv1.CreateApiKeyRequest{Name: "a", Scopes: []string{"articles:write"}})
	before := storedKeys(t, server)
	commands := map[string][]string{
		"create": {"keys", "create", "--name", "x", "--scope", "articles:write"},
		"list":   {"keys", "list"},
		"revoke": {"keys", "revoke", writer.GetId()},
	}
	keys := []struct {
		name    string
		key     string
		wantErr string
	}{
		{name: "no key", key: "", wantErr: `server answered 401 UNAUTHENTICATED: this call needs an API key with scope "keys:admin"`},
		{name: "unknown key", key: "bz_nope", wantErr: "server answered 401 UNAUTHENTICATED: unknown API key"},
		{name: "key without keys:admin", key: writer.GetKey(), wantErr: `server answered 403 PERMISSION_DENIED: the key lacks scope "keys:admin" (it has: articles:write)`},
	}
	// The group returns once its parallel subtests are done.
	t.Run("group", func(t *testing.T) {
		for cmdName, args := range commands {
			for _, k := range keys {
				t.Run(cmdName+"/"+k.name, func(t *testing.T) {
					t.Parallel()
					r := stacktest.RunCLI(envFor(server, k.key), "", args...)

					if r.Err == nil {
						t.Fatalf("want an error; stdout %q", r.Stdout)
					}
					var ue *cli.UsageError
					if errors.As(r.Err, &ue) {
						t.Errorf("err is a usage error: %v", r.Err)
					}
					wantContains(t, "error", r.Err.Error(), "keys "+cmdName, k.wantErr, "(request id req_", "); "+adminHint)
					if r.Stdout != "" {
						t.Errorf("stdout = %q, want nothing", r.Stdout)
					}
				})
			}
		}
	})
	if diff := cmp.Diff(before, storedKeys(t, server), protocmp.Transform()); diff != "" {
		t.Errorf("keys changed (-before +after):\n%s", diff)
	}
}

func TestKeysLifecycle(t *testing.T) {
	t.Parallel()
	server := startStack(t, stacktest.Options{})

	// The bootstrap key makes a new admin key ...
	r := stacktest.RunCLI(envFor(server, adminKey), "", "keys", "create", "--name", "second admin", "--scope", "keys:admin", "--expires", "1h")
	if r.Err != nil {
		t.Fatalf("keys create: %v", r.Err)
	}
	m := regexp.MustCompile(`Created API key (\S+)\.(?s:.*)\n    (\S+)\n`).FindStringSubmatch(r.Stdout)
	if m == nil {
		t.Fatalf("no id and secret in:\n%s", r.Stdout)
	}
	id, mine := m[1], envFor(server, m[2])

	// ... which works at once ...
	r = stacktest.RunCLI(mine, "", "keys", "list")
	if r.Err != nil {
		t.Fatalf("keys list with the new key: %v", r.Err)
	}
	wantContains(t, "stdout", r.Stdout, id, "second admin", "keys:admin", " active ")

	// ... until it is revoked.
	if r := stacktest.RunCLI(envFor(server, adminKey), "", "keys", "revoke", id); r.Err != nil {
		t.Fatalf("keys revoke: %v", r.Err)
	}
	eventually(t, "the revoked key to be refused", func() bool {
		r = stacktest.RunCLI(mine, "", "keys", "list")
		return r.Err != nil
	})
	wantContains(t, "error", r.Err.Error(), "401 UNAUTHENTICATED", "revoked", adminHint)
}

func TestKeysFlagsAfterTheID(t *testing.T) {
	t.Parallel()
	server := startStack(t, stacktest.Options{})
	writer := createKey(t, server, &identityv1.CreateApiKeyRequest{Name: "a", Scopes: []string{"articles:write"}})
	// --key given on the command line beats the environment.
	r := stacktest.RunCLI(envFor(server, writer.GetKey()), "", "keys", "revoke", writer.GetId(), "--key", adminKey)
	if r.Err != nil {
		t.Fatalf("keys revoke: %v", r.Err)
	}
	if keyByID(t, storedKeys(t, server), writer.GetId()).GetRevokedAt() == nil {
		t.Errorf("%s is not revoked", writer.GetId())
	}
}
