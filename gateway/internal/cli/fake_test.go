package cli

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

// testKey is the one API key the fake accepts; it has every scope.
const testKey = "bz_test_secret"

// fakeServer is a small in-memory Buzhou that implements the three routes the
// client commands use the way API.md describes them: bearer keys, the error
// envelope with request ids, per-item batch results, page tokens, visibility
// of drafts and the markdown format.
type fakeServer struct {
	*httptest.Server

	mu       sync.Mutex
	articles []*articlev1.Article // in creation order
	seq      int                  // request counter, for request ids
	clock    time.Time
	// maxBody is the largest request body accepted before 413.
	maxBody int
	// failBatch answers the n-th batchCreate request (1-based) with this
	// status instead of processing it.
	failBatch  map[int]int
	batchCalls int // batchCreate requests seen, failed ones included
	// rateLimit answers this many requests with 429 before serving.
	rateLimit int

	batchSizes []int        // articles per batchCreate request that got through
	listCalls  []url.Values // queries of list requests
	auths      []string     // Authorization header of every request
	getQueries []url.Values // queries of get requests
}

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	f := &fakeServer{
		clock:     time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		maxBody:   8 << 20,
		failBatch: map[int]int{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/articles:batchCreate", f.batchCreate)
	mux.HandleFunc("GET /api/v1/articles", f.list)
	mux.HandleFunc("GET /api/v1/articles/{idOrSlug}", f.get)
	f.Server = httptest.NewServer(f.middleware(mux))
	t.Cleanup(f.Close)
	return f
}

// domains are the domains API.md allows.
func domains() []string {
	return []string{"agent", "mcp", "skill", "foundation", "transport", "tools_filesystem",
		"tools_postgres", "tools_github", "error_codes", "scenarios"}
}

type ctxKeyAuthed struct{}

// middleware stamps request ids, records headers, rate limits and refuses
// keys it does not know on every route, as the real gateway does.
func (f *fakeServer) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.seq++
		w.Header().Set("X-Request-Id", fmt.Sprintf("req-%d", f.seq))
		f.auths = append(f.auths, r.Header.Get("Authorization"))
		limited := f.rateLimit > 0
		if limited {
			f.rateLimit--
		}
		f.mu.Unlock()
		if limited {
			w.Header().Set("Retry-After", "0")
			writeFakeError(w, http.StatusTooManyRequests, "RESOURCE_EXHAUSTED", "rate limit of 100 requests per minute exceeded")
			return
		}
		if h := r.Header.Get("Authorization"); h != "" {
			scheme, token, ok := strings.Cut(h, " ")
			if !ok || !strings.EqualFold(scheme, "bearer") || token != testKey {
				writeFakeError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "the API key is not valid; check it or ask for a new one")
				return
			}
			r.Header.Set("X-Fake-Authed", "1")
		}
		next.ServeHTTP(w, r)
	})
}

func authed(r *http.Request) bool { return r.Header.Get("X-Fake-Authed") == "1" }

// writeFakeError writes the API's error envelope; the request id is the one
// the middleware stamped on the response.
func writeFakeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	body, _ := json.Marshal(map[string]any{"error": map[string]string{
		"code": code, "message": msg, "requestId": w.Header().Get("X-Request-Id"),
	}})
	w.Write(body)
}

func writeFakeProto(w http.ResponseWriter, m proto.Message) {
	body, err := protojson.Marshal(m)
	if err != nil {
		writeFakeError(w, http.StatusInternalServerError, "INTERNAL", "encoding failed")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

func (f *fakeServer) batchCreate(w http.ResponseWriter, r *http.Request) {
	if !authed(r) {
		writeFakeError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "this needs an API key with scope articles:write; send Authorization: Bearer <key>")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.batchCalls++
	if status, ok := f.failBatch[f.batchCalls]; ok {
		writeFakeError(w, status, "INTERNAL", "something broke inside")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(f.maxBody)+1))
	if err != nil {
		writeFakeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "could not read the body")
		return
	}
	if len(body) > f.maxBody {
		writeFakeError(w, http.StatusRequestEntityTooLarge, "RESOURCE_EXHAUSTED", fmt.Sprintf("request body is larger than %d bytes; send fewer articles per request", f.maxBody))
		return
	}
	var req articlev1.BatchCreateArticlesRequest
	if err := protojson.Unmarshal(body, &req); err != nil {
		writeFakeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "body is not a batch create request: "+err.Error())
		return
	}
	if len(req.GetArticles()) > 500 {
		writeFakeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "at most 500 articles per batch")
		return
	}
	f.batchSizes = append(f.batchSizes, len(req.GetArticles()))
	resp := &articlev1.BatchCreateArticlesResponse{}
	for i, in := range req.GetArticles() {
		res := &articlev1.BatchCreateResult{Index: int32(i)}
		if art, code, msg := f.create(in); code != "" {
			res.Error = &articlev1.ItemError{Code: code, Message: msg}
		} else {
			res.Article = art
		}
		resp.Results = append(resp.Results, res)
	}
	writeFakeProto(w, resp)
}

// create validates one new article and stores it; f.mu is held.
func (f *fakeServer) create(in *articlev1.Article) (*articlev1.Article, string, string) {
	if in.GetTitle().GetEn() == "" && in.GetTitle().GetZh() == "" {
		return nil, "INVALID_ARGUMENT", "title required: give title.en or title.zh"
	}
	if in.GetDomain() == "" {
		return nil, "INVALID_ARGUMENT", "domain required"
	}
	if !slices.Contains(domains(), in.GetDomain()) {
		return nil, "INVALID_ARGUMENT", fmt.Sprintf("domain %q is unknown", in.GetDomain())
	}
	switch in.GetStatus() {
	case "", "draft", "published":
	default:
		return nil, "INVALID_ARGUMENT", "status of a new article must be draft or published"
	}
	id := fmt.Sprintf("art_%04d", len(f.articles)+1)
	slug := slugify(in.GetTitle().GetEn())
	if slug == "" {
		slug = "article-" + strings.TrimPrefix(id, "art_")
	}
	for _, a := range f.articles {
		if a.GetSlug() == slug {
			return nil, "ALREADY_EXISTS", fmt.Sprintf("an article with slug %q exists; change the English title", slug)
		}
	}

	art := proto.Clone(in).(*articlev1.Article)
	// Server-made fields are ignored on create, as the contract says.
	art.Id, art.Slug, art.Revision = id, slug, 1
	art.RiskLevel, art.ConfidenceScore, art.VerificationStatus = "low", 0, "pending"
	art.RelatedIds, art.RecentVerifications, art.VerificationCount = nil, nil, 0
	art.LastInspectedAt, art.DeprecationReason = nil, ""
	if art.Status == "" {
		art.Status = "draft"
	}
	if art.Author == "" {
		art.Author = "test key"
	}
	for i, cb := range art.CodeBlocks {
		if cb.Id == "" {
			cb.Id = fmt.Sprintf("cb%d", i+1)
		}
	}
	f.clock = f.clock.Add(time.Second)
	art.CreatedAt, art.UpdatedAt = timestamppb.New(f.clock), timestamppb.New(f.clock)
	art.PublishedAt = nil
	if art.Status == "published" {
		art.PublishedAt = timestamppb.New(f.clock)
	}
	f.articles = append(f.articles, art)
	return proto.Clone(art).(*articlev1.Article), "", ""
}

func slugify(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// visible says whether a caller sees an article: public reads never show
// drafts or archived articles.
func visible(a *articlev1.Article, authed bool) bool {
	return authed || a.GetStatus() == "published" || a.GetStatus() == "deprecated"
}

func (f *fakeServer) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listCalls = append(f.listCalls, q)

	pageSize := 20
	if v := q.Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeFakeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "pageSize must be a whole number from 0 to 100")
			return
		}
		if n > 0 {
			pageSize = min(n, 100)
		}
	}
	offset := 0
	if tok := q.Get("pageToken"); tok != "" {
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		n, cerr := strconv.Atoi(strings.TrimPrefix(string(raw), "offset:"))
		if err != nil || cerr != nil || !strings.HasPrefix(string(raw), "offset:") || n < 0 {
			writeFakeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "pageToken is not one this server gave out; start again without it")
			return
		}
		offset = n
	}
	status, domain := q.Get("status"), q.Get("domain")
	if status != "" && !slices.Contains([]string{"draft", "published", "archived", "deprecated"}, status) {
		writeFakeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", fmt.Sprintf("status %q is unknown", status))
		return
	}
	if domain != "" && !slices.Contains(domains(), domain) {
		writeFakeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", fmt.Sprintf("domain %q is unknown", domain))
		return
	}

	var match []*articlev1.Article
	for i := len(f.articles) - 1; i >= 0; i-- { // newest first
		a := f.articles[i]
		if visible(a, authed(r)) && (status == "" || a.GetStatus() == status) && (domain == "" || a.GetDomain() == domain) {
			match = append(match, a)
		}
	}
	resp := &articlev1.ListArticlesResponse{}
	if offset < len(match) {
		end := min(offset+pageSize, len(match))
		resp.Articles = match[offset:end]
		if end < len(match) {
			resp.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(end)))
		}
	}
	writeFakeProto(w, resp)
}

func (f *fakeServer) get(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("idOrSlug")
	q := r.URL.Query()
	f.mu.Lock()
	f.getQueries = append(f.getQueries, q)
	var art *articlev1.Article
	for _, a := range f.articles {
		if (a.GetId() == key || a.GetSlug() == key) && visible(a, authed(r)) {
			art = proto.Clone(a).(*articlev1.Article)
		}
	}
	f.mu.Unlock()
	if art == nil {
		writeFakeError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("no article with id or slug %q", key))
		return
	}
	switch q.Get("format") {
	case "", "json":
		writeFakeProto(w, art)
	case "markdown":
		lang := q.Get("lang")
		if lang != "" && lang != "en" && lang != "zh" {
			writeFakeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "lang must be en or zh")
			return
		}
		w.Header().Set("Content-Type", "text/markdown; charset=utf-8")
		w.Header().Set("X-Article-Id", art.GetId())
		w.Header().Set("X-Article-Slug", art.GetSlug())
		fmt.Fprintf(w, "# %s\n\n%s\n\n%s\n", pick(art.GetTitle(), lang), pick(art.GetSummary(), lang), pick(art.GetContent(), lang))
	default:
		writeFakeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "format must be json or markdown")
	}
}

// pick returns the text in lang (en by default), falling back to the other.
func pick(t *articlev1.LocalizedText, lang string) string {
	if lang == "zh" {
		return cmp.Or(t.GetZh(), t.GetEn())
	}
	return cmp.Or(t.GetEn(), t.GetZh())
}

// stored returns copies of the stored articles in creation order.
func (f *fakeServer) stored() []*articlev1.Article {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]*articlev1.Article, len(f.articles))
	for i, a := range f.articles {
		out[i] = proto.Clone(a).(*articlev1.Article)
	}
	return out
}

// seed stores articles directly, bypassing HTTP.
func (f *fakeServer) seed(t *testing.T, arts ...*articlev1.Article) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range arts {
		if _, code, msg := f.create(a); code != "" {
			t.Fatalf("seeding: %s %s", code, msg)
		}
	}
}
