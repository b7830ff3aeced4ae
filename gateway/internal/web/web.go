// Package web serves Buzhou to people and to the agents and crawlers that
// find it: the home page with search, article pages, the API docs, 404 and
// error pages in Chinese and English, rendered on the server, and the
// discovery documents (/llms.txt, /robots.txt, /sitemap.xml).
//
// It is a gRPC client of the services like the REST API, on the same
// connections, and holds no business logic: it asks, and renders what it is
// told. Every call is anonymous, so a page shows exactly what a public read
// shows, whatever key the visitor sends. Sections that come from services
// still being built (search, related articles, verification records,
// inspections) degrade to a note when those answer Unimplemented or cannot
// be reached; only the article itself is needed for its page.
package web

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/text/language"
	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"buzhou.dev/gateway/internal/lru"
	"buzhou.dev/platform/vocab"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	searchv1 "buzhou.dev/proto/gen/buzhou/search/v1"
	verificationv1 "buzhou.dev/proto/gen/buzhou/verification/v1"
)

// ArticleClient is what the pages ask the article service.
type ArticleClient interface {
	GetArticle(ctx context.Context, in *articlev1.GetArticleRequest, opts ...grpc.CallOption) (*articlev1.Article, error)
	RenderArticle(ctx context.Context, in *articlev1.RenderArticleRequest, opts ...grpc.CallOption) (*httpbody.HttpBody, error)
	ListArticles(ctx context.Context, in *articlev1.ListArticlesRequest, opts ...grpc.CallOption) (*articlev1.ListArticlesResponse, error)
	GetArticleStats(ctx context.Context, in *articlev1.GetArticleStatsRequest, opts ...grpc.CallOption) (*articlev1.GetArticleStatsResponse, error)
}

// SearchClient is what the pages ask the search service.
type SearchClient interface {
	Search(ctx context.Context, in *searchv1.SearchRequest, opts ...grpc.CallOption) (*searchv1.SearchResponse, error)
	ListRelatedArticles(ctx context.Context, in *searchv1.ListRelatedArticlesRequest, opts ...grpc.CallOption) (*searchv1.ListRelatedArticlesResponse, error)
}

// VerificationClient is what the pages ask the verification service.
type VerificationClient interface {
	ListVerificationRecords(ctx context.Context, in *verificationv1.ListVerificationRecordsRequest, opts ...grpc.CallOption) (*verificationv1.ListVerificationRecordsResponse, error)
	ListInspectionRuns(ctx context.Context, in *verificationv1.ListInspectionRunsRequest, opts ...grpc.CallOption) (*verificationv1.ListInspectionRunsResponse, error)
}

// Config is what a Site needs.
type Config struct {
	Articles     ArticleClient
	Search       SearchClient
	Verification VerificationClient
	// PublicURL is the site's address as readers reach it, e.g.
	// "https://buzhou.example", for the absolute links of the sitemap,
	// llms.txt, canonical and alternate links. Empty: each request's own
	// scheme and Host.
	PublicURL string
	// OpenAPI is the API's OpenAPI (Swagger 2) document, for the API docs page.
	OpenAPI []byte
	Log     *slog.Logger
	// Pages, when set, keeps rendered article pages for anonymous readers
	// until anything changes (the gateway's read cache is one).
	Pages PageCache
}

// PageCache keeps rendered pages. Page returns the one under key (nil when
// none) and the generation a new one must be kept under; open is false when
// nothing may be kept. KeepPage keeps a page made since gen, unless
// something changed since.
type PageCache interface {
	Page(key string) (header http.Header, body []byte, gen uint64, open bool)
	KeepPage(key string, gen uint64, header http.Header, body []byte)
}

// Site is the web front. Everything in it is made once by New and only read
// afterwards, so it serves any number of requests at once.
type Site struct {
	cfg       Config
	publicURL *url.URL
	texts     map[string]*texts
	md        map[string]*markdown
	tmpl      map[string]*template.Template
	css       template.CSS
	js        template.JS
	csp       string
	docs      []apiGroup
	langs     language.Matcher
	views     *lru.Cache[viewKey, articleView]
	related   *lru.Cache[string, []*searchv1.SearchItem]
}

const (
	// viewCacheBytes bounds the rendered article views kept between requests.
	viewCacheBytes = 32 << 20
	// relatedCacheBytes bounds the related lists kept, each for relatedTTL:
	// computing one costs the search service about what reading the
	// article costs, and the list only changes as other articles do.
	relatedCacheBytes = 4 << 20
	relatedTTL        = time.Minute
)

//go:embed templates/*.html assets/*
var files embed.FS

// New builds a Site: it parses the templates and the OpenAPI document and
// prepares a markdown renderer per language.
func New(cfg Config) (*Site, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	s := &Site{
		cfg: cfg, texts: allTexts(), md: map[string]*markdown{}, tmpl: map[string]*template.Template{},
		views:   lru.New[viewKey](viewCacheBytes, 0, viewSize),
		related: lru.New[string](relatedCacheBytes, relatedTTL, relatedSize),
		// The first language is the default for browsers that ask for neither.
		langs: language.NewMatcher([]language.Tag{language.English, language.Chinese}),
	}
	if cfg.PublicURL != "" {
		u, err := url.Parse(strings.TrimSuffix(cfg.PublicURL, "/"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("public URL %q is not an absolute http(s) URL without query; give e.g. https://buzhou.example", cfg.PublicURL)
		}
		s.publicURL = u
	}
	for lang, t := range s.texts {
		s.md[lang] = newMarkdown(t.Copy)
	}
	// One template file per page, each on top of layout.html.
	for _, name := range []string{"home", "article", "apidocs", "error"} {
		t, err := template.New(name).ParseFS(files, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: parse %s template: %w", name, err)
		}
		s.tmpl[name] = t
	}
	css, err := files.ReadFile("assets/site.css")
	if err != nil {
		return nil, err
	}
	js, err := files.ReadFile("assets/copy.js")
	if err != nil {
		return nil, err
	}
	s.css, s.js = template.CSS(css), template.JS(js)
	// The page's only style and script are these two inline blocks; their
	// hashes let exactly them run and nothing injected beside them.
	s.csp = "default-src 'none'; style-src '" + sha256Source(css) + "'; script-src '" + sha256Source(js) +
		"'; img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
	if s.docs, err = parseOpenAPI(cfg.OpenAPI); err != nil {
		return nil, err
	}
	return s, nil
}

func sha256Source(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

// Mount registers the pages on mux, each wrapped by wrap (the gateway's
// rate limit and agent headers). Routes name each language literally
// ("GET /zh/articles/{slug}"), so that they never overlap the API's "/api/"
// and metrics see a bounded set of route patterns. Unknown paths get the
// 404 page when the client wants HTML, and notFound (the API's JSON 404)
// otherwise.
func (s *Site) Mount(mux *http.ServeMux, wrap func(http.Handler) http.Handler, notFound http.Handler) {
	for _, lang := range vocab.Langs() {
		mux.Handle("GET /"+lang+"/{$}", wrap(s.home(lang)))
		mux.Handle("GET /"+lang, http.RedirectHandler("/"+lang+"/", http.StatusMovedPermanently))
		mux.Handle("GET /"+lang+"/articles/{slug}", wrap(s.article(lang)))
		mux.Handle("GET /"+lang+"/api-docs", wrap(s.apiDocs(lang)))
	}
	mux.Handle("GET /{$}", wrap(http.HandlerFunc(s.root)))
	mux.Handle("GET /llms.txt", wrap(http.HandlerFunc(s.llms)))
	mux.Handle("GET /robots.txt", wrap(http.HandlerFunc(s.robots)))
	mux.Handle("GET /sitemap.xml", wrap(http.HandlerFunc(s.sitemap)))
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !wantsHTML(r) {
			notFound.ServeHTTP(w, r)
			return
		}
		lang := s.langOf(r)
		s.notFound(w, r, lang, s.texts[lang].NotFound)
	}))
}

// root sends a visitor to the home page in the language the browser
// prefers, keeping the query (a search typed at /?q=… still works).
func (s *Site) root(w http.ResponseWriter, r *http.Request) {
	target := "/" + s.preferredLang(r) + "/"
	if r.URL.RawQuery != "" {
		target += "?" + r.URL.RawQuery
	}
	w.Header().Add("Vary", "Accept-Language")
	http.Redirect(w, r, target, http.StatusFound)
}

// preferredLang picks the served language that best fits Accept-Language.
func (s *Site) preferredLang(r *http.Request) string {
	tags, _, err := language.ParseAcceptLanguage(r.Header.Get("Accept-Language"))
	if err != nil || len(tags) == 0 {
		return vocab.LangEN
	}
	if _, i, conf := s.langs.Match(tags...); conf != language.No && i == 1 {
		return vocab.LangZH
	}
	return vocab.LangEN
}

// langOf is the language of a page at r's path, or the browser's preference
// for paths outside /zh/ and /en/.
func (s *Site) langOf(r *http.Request) string {
	for _, l := range vocab.Langs() {
		if r.URL.Path == "/"+l || strings.HasPrefix(r.URL.Path, "/"+l+"/") {
			return l
		}
	}
	return s.preferredLang(r)
}

// otherLang is the language a page's switch links to.
func otherLang(lang string) string {
	if lang == vocab.LangZH {
		return vocab.LangEN
	}
	return vocab.LangZH
}

// relatedSize is the bytes a kept related list holds.
func relatedSize(items []*searchv1.SearchItem) int {
	n := 256
	for _, it := range items {
		n += proto.Size(it)
	}
	return n
}
