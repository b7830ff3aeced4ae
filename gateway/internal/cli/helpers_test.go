package cli_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"buzhou.dev/gateway/internal/stack"
	"buzhou.dev/gateway/internal/stack/stacktest"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	identityv1 "buzhou.dev/proto/gen/buzhou/identity/v1"
)

// Routes as the fault injector names them.
const (
	routeBatchCreate = "POST /api/v1/articles:batchCreate"
	routeList        = "GET /api/v1/articles"
	routeKeys        = "GET /api/v1/keys"
	routeCreateKey   = "POST /api/v1/keys"
)

// adminKey is the test stacks' bootstrap key: every scope.
const adminKey = stacktest.AdminKey

// startStack runs a real Buzhou for t and returns its base URL.
func startStack(t *testing.T, o stacktest.Options) string {
	t.Helper()
	s := stacktest.Start(t, o, stack.Start, func(s *stack.Stack) string { return s.HTTPAddr })
	return "http://" + s.HTTPAddr
}

// envFor points the client at server with key ("" sends none).
func envFor(server, key string) map[string]string {
	return map[string]string{"BUZHOU_URL": server, "BUZHOU_API_KEY": key}
}

// writeFile writes lines to a temporary JSONL file and returns its path.
func writeFile(t *testing.T, lines ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "in.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// articleLine is one valid JSONL article in domain, with more fields
// (`"status":"published"`) when given.
func articleLine(title, domain string, more ...string) string {
	fields := append([]string{
		fmt.Sprintf(`"title":{"en":%q}`, title), fmt.Sprintf(`"summary":{"en":"Summary of %s"}`, title),
		fmt.Sprintf(`"content":{"en":"Body of %s"}`, title), fmt.Sprintf(`"domain":%q`, domain),
	}, more...)
	return "{" + strings.Join(fields, ",") + "}"
}

// simpleLines makes n valid article lines with distinct titles.
func simpleLines(n int) []string {
	lines := make([]string, n)
	for i := range lines {
		lines[i] = articleLine(fmt.Sprintf("Article %d", i), "mcp")
	}
	return lines
}

// newArticle is a valid new article with the English title title.
func newArticle(title, domain, status string) *articlev1.Article {
	return &articlev1.Article{
		Title:   &articlev1.LocalizedText{En: title},
		Summary: &articlev1.LocalizedText{En: "Summary of " + title},
		Content: &articlev1.LocalizedText{En: "Body of " + title},
		Domain:  domain, Status: status,
	}
}

// closedAddr returns a host:port where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func wantContains(t *testing.T, what, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("%s = %q, want it to contain %q", what, got, w)
		}
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// eventually polls cond until it holds, failing t after 15 s; for what the
// stack does in the background (revocations reach the gateway by a push).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

// rest calls the server directly, not through the client under test, and
// returns the status and body.
func rest(t *testing.T, method, target, key string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, target, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, raw
}

// restProto calls the server directly and decodes a 2xx answer into out.
func restProto(t *testing.T, method, target, key string, in, out proto.Message) {
	t.Helper()
	var body []byte
	if in != nil {
		var err error
		if body, err = protojson.Marshal(in); err != nil {
			t.Fatal(err)
		}
	}
	status, raw := rest(t, method, target, key, body)
	if status/100 != 2 {
		t.Fatalf("%s %s: %d %s", method, target, status, raw)
	}
	if err := protojson.Unmarshal(raw, out); err != nil {
		t.Fatalf("%s %s: %v\n%s", method, target, err, raw)
	}
}

// seed creates articles on the server at base with the admin key and
// returns them as created.
func seed(t *testing.T, base string, arts ...*articlev1.Article) []*articlev1.Article {
	t.Helper()
	var out []*articlev1.Article
	for len(arts) > 0 {
		n := min(len(arts), 500)
		var resp articlev1.BatchCreateArticlesResponse
		restProto(t, http.MethodPost, base+"/api/v1/articles:batchCreate", adminKey, &articlev1.BatchCreateArticlesRequest{Articles: arts[:n]}, &resp)
		for _, r := range resp.GetResults() {
			if e := r.GetError(); e != nil {
				t.Fatalf("seeding article %d: %s %s", r.GetIndex(), e.GetCode(), e.GetMessage())
			}
			out = append(out, r.GetArticle())
		}
		arts = arts[n:]
	}
	return out
}

// stored lists every article the server holds, as the admin key sees them
// (drafts too), in the server's order: newest first.
func stored(t *testing.T, base string) []*articlev1.Article {
	t.Helper()
	var out []*articlev1.Article
	listAll(t, base+"/api/v1/articles", 100, func() *articlev1.ListArticlesResponse { return &articlev1.ListArticlesResponse{} },
		func(p *articlev1.ListArticlesResponse) { out = append(out, p.GetArticles()...) })
	return out
}

// storedKeys lists every key on the server at base, in the server's order.
func storedKeys(t *testing.T, base string) []*identityv1.ApiKey {
	t.Helper()
	var out []*identityv1.ApiKey
	listAll(t, base+"/api/v1/keys", 200, func() *identityv1.ListApiKeysResponse { return &identityv1.ListApiKeysResponse{} },
		func(p *identityv1.ListApiKeysResponse) { out = append(out, p.GetKeys()...) })
	return out
}

// listAll pages through the list at target with the admin key and hands
// every page to add.
func listAll[P interface {
	proto.Message
	GetNextPageToken() string
}](t *testing.T, target string, pageSize int, newPage func() P, add func(P)) {
	t.Helper()
	q := url.Values{"pageSize": {strconv.Itoa(pageSize)}}
	for {
		page := newPage()
		restProto(t, http.MethodGet, target+"?"+q.Encode(), adminKey, nil, page)
		add(page)
		if page.GetNextPageToken() == "" {
			return
		}
		q.Set("pageToken", page.GetNextPageToken())
	}
}

// createKey makes a key on the server at base with the admin key.
func createKey(t *testing.T, base string, req *identityv1.CreateApiKeyRequest) *identityv1.CreateApiKeyResponse {
	t.Helper()
	var resp identityv1.CreateApiKeyResponse
	restProto(t, http.MethodPost, base+"/api/v1/keys", adminKey, req, &resp)
	return &resp
}

// keyByID finds id among keys.
func keyByID(t *testing.T, keys []*identityv1.ApiKey, id string) *identityv1.ApiKey {
	t.Helper()
	for _, k := range keys {
		if k.GetId() == id {
			return k
		}
	}
	t.Fatalf("no key %s on the server", id)
	return nil
}
