package cli

import (
	"cmp"
	"context"
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

	"buzhou.dev/platform/auth"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	identityv1 "buzhou.dev/proto/gen/buzhou/identity/v1"
)

const (
	// testKey is the fake's admin key; it has every scope.
	testKey = "bz_test_secret"
	// testWriterKey is a key with scope articles:write only.
	testWriterKey = "bz_test_writer"
)

// fakeServer is a small in-memory Buzhou that implements the routes the
// client commands use the way API.md describes them: bearer keys with scopes,
// the error envelope with request ids, per-item batch results, page tokens,
// visibility of drafts, the markdown format and API key management.
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

	keys         []*fakeKey                        // in creation order
	keyCreates   []*identityv1.CreateApiKeyRequest // bodies of create key requests that got through
	keyBodies    [][]byte                          // raw bodies of those requests
	keyListCalls []url.Values                      // queries of list key requests
	lastKeyReply []byte                            // body of the last successful key answer
}

// fakeKey is a stored API key and its secret.
type fakeKey struct {
	key    *identityv1.ApiKey
	secret string
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
	mux.HandleFunc("POST /api/v1/keys", f.createKey)
	mux.HandleFunc("GET /api/v1/keys", f.listKeys)
	mux.HandleFunc("DELETE /api/v1/keys/{id}", f.revokeKey)
	f.Server = httptest.NewServer(f.middleware(mux))
	t.Cleanup(f.Close)
	return f
}

// domains are the domains API.md allows.
func domains() []string {
	return []string{"agent", "mcp", "skill", "foundation", "transport", "tools_filesystem",
		"tools_postgres", "tools_github", "error_codes", "scenarios"}
}

// ctxKeyScopes carries the scopes of the request's key in its context.
type ctxKeyScopes struct{}

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
		r.Header.Del("X-Fake-Authed") // only the middleware may set it
		if h := r.Header.Get("Authorization"); h != "" {
			scheme, token, ok := strings.Cut(h, " ")
			var scopes []string
			if ok && strings.EqualFold(scheme, "bearer") {
				f.mu.Lock()
				scopes, ok = f.scopesOf(token)
				f.mu.Unlock()
			}
			if !ok {
				writeFakeError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "the API key is not valid; check it or ask for a new one")
				return
			}
			r.Header.Set("X-Fake-Authed", "1")
			r = r.WithContext(context.WithValue(r.Context(), ctxKeyScopes{}, scopes))
		}
		next.ServeHTTP(w, r)
	})
}

// scopesOf resolves a secret: the two fixed test keys, or a key created
// through the API that is neither revoked nor expired; f.mu is held.
func (f *fakeServer) scopesOf(secret string) ([]string, bool) {
	switch secret {
	case testKey:
		return auth.KeyScopes(), true
	case testWriterKey:
		return []string{"articles:write"}, true
	}
	for _, k := range f.keys {
		if k.secret == secret {
			exp := k.key.GetExpiresAt()
			if k.key.GetRevokedAt() != nil || (exp != nil && !exp.AsTime().After(time.Now())) {
				return nil, false
			}
			return k.key.GetScopes(), true
		}
	}
	return nil, false
}

func authed(r *http.Request) bool { return r.Header.Get("X-Fake-Authed") == "1" }

// hasScope says whether the request's key has scope.
func hasScope(r *http.Request, scope string) bool {
	scopes, _ := r.Context().Value(ctxKeyScopes{}).([]string)
	return slices.Contains(scopes, scope)
}

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
	writeFakeProtoStatus(w, http.StatusOK, m)
}

// writeFakeProtoStatus writes m with status and returns the body it wrote.
func writeFakeProtoStatus(w http.ResponseWriter, status int, m proto.Message) []byte {
	body, err := protojson.Marshal(m)
	if err != nil {
		writeFakeError(w, http.StatusInternalServerError, "INTERNAL", "encoding failed")
		return nil
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
	return body
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

// keysAdmin answers 401 or 403 unless the request's key has keys:admin, the
// way the real gateway's scope check does.
func keysAdmin(w http.ResponseWriter, r *http.Request) bool {
	if !authed(r) {
		writeFakeError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "this needs an API key with scope keys:admin; send Authorization: Bearer <key>")
		return false
	}
	if !hasScope(r, "keys:admin") {
		scopes, _ := r.Context().Value(ctxKeyScopes{}).([]string)
		writeFakeError(w, http.StatusForbidden, "PERMISSION_DENIED",
			fmt.Sprintf("the key lacks scope %q (it has: %s); create a key with that scope", "keys:admin", strings.Join(scopes, ", ")))
		return false
	}
	return true
}

func (f *fakeServer) createKey(w http.ResponseWriter, r *http.Request) {
	if !keysAdmin(w, r) {
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeFakeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "could not read the body")
		return
	}
	var req identityv1.CreateApiKeyRequest
	if err := protojson.Unmarshal(body, &req); err != nil {
		writeFakeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "body is not a create key request: "+err.Error())
		return
	}
	if req.GetName() == "" {
		writeFakeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "name required")
		return
	}
	if len(req.GetScopes()) == 0 {
		writeFakeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "give at least one scope")
		return
	}
	for _, sc := range req.GetScopes() {
		if !slices.Contains(auth.KeyScopes(), sc) {
			writeFakeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", fmt.Sprintf("scope %q is unknown", sc))
			return
		}
	}
	if exp := req.GetExpiresAt(); exp != nil && !exp.AsTime().After(time.Now()) {
		writeFakeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "expiresAt must be in the future")
		return
	}
	principal := req.GetPrincipalId()
	if principal != "" && !strings.HasPrefix(principal, "prn_") {
		writeFakeError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("no principal %q", principal))
		return
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	f.keyCreates = append(f.keyCreates, &req)
	f.keyBodies = append(f.keyBodies, body)
	n := len(f.keys) + 1
	if principal == "" {
		principal = fmt.Sprintf("prn_%04d", n)
	}
	secret := fmt.Sprintf("bz_live_%04d_Zq8xT3vLw9", n)
	f.clock = f.clock.Add(time.Second)
	k := &identityv1.ApiKey{
		Id: fmt.Sprintf("key_%04d", n), Name: req.GetName(), Prefix: secret[:12], Scopes: req.GetScopes(),
		PrincipalId: principal, ExpiresAt: req.GetExpiresAt(), CreatedAt: timestamppb.New(f.clock),
		RateLimitPerMinute: req.GetRateLimitPerMinute(), DailyQuota: req.GetDailyQuota(), MonthlyQuota: req.GetMonthlyQuota(),
	}
	f.keys = append(f.keys, &fakeKey{key: k, secret: secret})
	f.lastKeyReply = writeFakeProtoStatus(w, http.StatusCreated, &identityv1.CreateApiKeyResponse{
		Id: k.Id, Key: secret, Prefix: k.Prefix, Scopes: k.Scopes, ExpiresAt: k.ExpiresAt, Name: k.Name, PrincipalId: k.PrincipalId,
	})
}

func (f *fakeServer) listKeys(w http.ResponseWriter, r *http.Request) {
	if !keysAdmin(w, r) {
		return
	}
	q := r.URL.Query()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keyListCalls = append(f.keyListCalls, q)
	pageSize := 50
	if v := q.Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeFakeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "pageSize must be a whole number from 0 to 200")
			return
		}
		if n > 0 {
			pageSize = min(n, 200)
		}
	}
	offset := 0
	if tok := q.Get("pageToken"); tok != "" {
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		n, cerr := strconv.Atoi(strings.TrimPrefix(string(raw), "keys:"))
		if err != nil || cerr != nil || !strings.HasPrefix(string(raw), "keys:") || n < 0 {
			writeFakeError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "pageToken is not one this server gave out; start again without it")
			return
		}
		offset = n
	}
	resp := &identityv1.ListApiKeysResponse{}
	if offset < len(f.keys) {
		end := min(offset+pageSize, len(f.keys))
		for _, k := range f.keys[offset:end] {
			resp.Keys = append(resp.Keys, k.key) // the secret never leaves
		}
		if end < len(f.keys) {
			resp.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte("keys:" + strconv.Itoa(end)))
		}
	}
	f.lastKeyReply = writeFakeProtoStatus(w, http.StatusOK, resp)
}

func (f *fakeServer) revokeKey(w http.ResponseWriter, r *http.Request) {
	if !keysAdmin(w, r) {
		return
	}
	id := r.PathValue("id")
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range f.keys {
		if k.key.GetId() == id {
			if k.key.RevokedAt == nil {
				f.clock = f.clock.Add(time.Second)
				k.key.RevokedAt = timestamppb.New(f.clock)
			}
			f.lastKeyReply = writeFakeProtoStatus(w, http.StatusOK, k.key)
			return
		}
	}
	writeFakeError(w, http.StatusNotFound, "NOT_FOUND", fmt.Sprintf("no API key with id %q", id))
}

// seedKeys stores keys directly, bypassing HTTP; their secrets are their ids
// with "secret_" in front.
func (f *fakeServer) seedKeys(keys ...*identityv1.ApiKey) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range keys {
		f.keys = append(f.keys, &fakeKey{key: proto.Clone(k).(*identityv1.ApiKey), secret: "secret_" + k.GetId()})
	}
}

// storedKeys returns copies of the stored keys in creation order.
func (f *fakeServer) storedKeys() []*identityv1.ApiKey {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]*identityv1.ApiKey, len(f.keys))
	for i, k := range f.keys {
		out[i] = proto.Clone(k.key).(*identityv1.ApiKey)
	}
	return out
}
