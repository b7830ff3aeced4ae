package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"buzhou.dev/platform/vocab"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	searchv1 "buzhou.dev/proto/gen/buzhou/search/v1"
)

const (
	// resultsPerPage is the page size of search results and domain lists.
	resultsPerPage = 10
	// maxResultPage bounds the page number a link may ask for.
	maxResultPage = 500
	// maxQueryBytes bounds a search typed into the form; an error message's
	// first lines fit, and the page never echoes more.
	maxQueryBytes = 1024
	// maxTokenBytes bounds a list page token passed back in a link.
	maxTokenBytes = 2048
	// recentFetched articles are read for the recent and featured lists.
	recentFetched = 12
	recentShown   = 6
	featuredShown = 3
)

type homePage struct {
	page
	Q                string
	DomainOptions    []option
	StatusOptions    []option
	Results          *resultsView
	Featured, Recent []item
	// RecentNote replaces the lists when they cannot be had.
	RecentNote string
	Counts     []domainCount
}

type option struct {
	Value, Label string
	Selected     bool
}

type resultsView struct {
	Heading, Count, Note string
	Items                []item
	Prev, Next, PageText string
	// First links to the first page of a list that pages by token.
	First string
}

type domainCount struct {
	Label, URL, Count string
	Current           bool
}

// search is what the form asked for.
type search struct {
	q, domain, status, after string
	page                     int
}

func parseSearch(v url.Values) search {
	sr := search{
		q:      strings.TrimSpace(strings.ToValidUTF8(v.Get("q"), "\uFFFD")),
		domain: v.Get("domain"), status: v.Get("status"),
		after: strings.ToValidUTF8(v.Get("after"), ""),
		page:  1,
	}
	// Values no one can mean are dropped rather than refused: the form
	// shows what it will search for.
	if !vocab.ValidDomain(sr.domain) {
		sr.domain = ""
	}
	if !vocab.ValidVerificationStatus(sr.status) {
		sr.status = ""
	}
	if len(sr.after) > maxTokenBytes {
		sr.after = ""
	}
	if n, err := strconv.Atoi(v.Get("page")); err == nil && n >= 1 {
		sr.page = min(n, maxResultPage)
	}
	return sr
}

// link is the home page URL of this search at another page.
func (sr search) link(lang string, page int, after string) string {
	v := url.Values{}
	for k, x := range map[string]string{"q": sr.q, "domain": sr.domain, "status": sr.status, "after": after} {
		if x != "" {
			v.Set(k, x)
		}
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	if len(v) == 0 {
		return "/" + lang + "/"
	}
	return "/" + lang + "/?" + v.Encode()
}

// home serves /{lang}/: what Buzhou is, the search form and its results
// (or the articles of one domain), featured and recent articles, and the
// count of articles by domain.
func (s *Site) home(lang string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := s.texts[lang]
		sr := parseSearch(r.URL.Query())
		ctx, cancel := rpcContext(r.Context(), w, mainTimeout)
		defer cancel()
		var (
			wg                     sync.WaitGroup
			recent, byDomain       *articlev1.ListArticlesResponse
			stats                  *articlev1.GetArticleStatsResponse
			found                  *searchv1.SearchResponse
			recentErr, statsErr    error
			searchErr, byDomainErr error
			searched, listed       bool
		)
		wg.Go(func() {
			recent, recentErr = s.cfg.Articles.ListArticles(ctx, &articlev1.ListArticlesRequest{PageSize: recentFetched})
		})
		wg.Go(func() {
			stats, statsErr = s.cfg.Articles.GetArticleStats(ctx, &articlev1.GetArticleStatsRequest{})
		})
		switch {
		case sr.q != "" && len(sr.q) <= maxQueryBytes:
			searched = true
			wg.Go(func() {
				found, searchErr = s.cfg.Search.Search(ctx, &searchv1.SearchRequest{
					Q: sr.q, Domain: sr.domain, Status: sr.status, Lang: lang, Page: int32(sr.page), PageSize: resultsPerPage,
				})
			})
		case sr.q == "" && sr.domain != "":
			listed = true
			wg.Go(func() {
				byDomain, byDomainErr = s.cfg.Articles.ListArticles(ctx, &articlev1.ListArticlesRequest{
					Domain: sr.domain, PageSize: resultsPerPage, PageToken: sr.after,
				})
			})
		}
		wg.Wait()

		p := homePage{Q: sr.q}
		p.page = s.newPage(r, lang, t.Tagline, "/")
		if r.URL.RawQuery != "" {
			p.Switch.URL += "?" + r.URL.RawQuery
		}
		if len(p.Q) > maxQueryBytes {
			p.Q = strings.ToValidUTF8(p.Q[:maxQueryBytes], "")
		}
		p.DomainOptions = options(vocab.Domains(), t.Domains, sr.domain)
		p.StatusOptions = options(vocab.VerificationStatuses(), t.Statuses, sr.status)
		switch {
		case searched:
			p.Results = s.searchResults(ctx, w, lang, sr, found, searchErr)
		case sr.q != "":
			p.Results = &resultsView{Heading: fmt.Sprintf(t.ResultsFor, p.Q), Note: fmt.Sprintf(t.QueryTooLong, maxQueryBytes)}
		case listed:
			p.Results = s.domainList(ctx, w, lang, sr, byDomain, byDomainErr)
		case sr.status != "":
			p.Results = &resultsView{Note: t.StatusNeedsQuery}
		}
		if s.sectionOf(ctx, w, "recent articles", recentErr) == sectionShown {
			all := recent.GetArticles()
			for _, a := range all[:min(len(all), recentShown)] {
				p.Recent = append(p.Recent, s.articleItem(lang, a))
			}
			for _, a := range featured(all, featuredShown) {
				p.Featured = append(p.Featured, s.articleItem(lang, a))
			}
		} else {
			p.RecentNote = t.ListDown
		}
		if s.sectionOf(ctx, w, "article counts", statsErr) == sectionShown {
			for _, d := range vocab.Domains() {
				p.Counts = append(p.Counts, domainCount{
					Label: label(t.Domains, d), URL: search{domain: d}.link(lang, 1, ""),
					Count: strconv.FormatInt(stats.GetByDomain()[d], 10), Current: d == sr.domain,
				})
			}
		}
		s.render(w, r, "home", http.StatusOK, p)
	})
}

func options(values []string, labels map[string]string, selected string) []option {
	out := make([]option, 0, len(values))
	for _, v := range values {
		out = append(out, option{Value: v, Label: label(labels, v), Selected: v == selected})
	}
	return out
}

// featured picks the n articles to feature: the most trusted first (verified
// before partial before pending…, then by confidence).
func featured(articles []*articlev1.Article, n int) []*articlev1.Article {
	rank := func(a *articlev1.Article) int {
		if i := slices.Index(vocab.VerificationStatuses(), a.GetVerificationStatus()); i >= 0 {
			return i
		}
		return len(vocab.VerificationStatuses())
	}
	out := slices.Clone(articles)
	slices.SortStableFunc(out, func(a, b *articlev1.Article) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		return int(b.GetConfidenceScore() - a.GetConfidenceScore())
	})
	return out[:min(len(out), n)]
}

// searchResults shows a search's answer, or why there is none.
func (s *Site) searchResults(ctx context.Context, w http.ResponseWriter, lang string, sr search, resp *searchv1.SearchResponse, err error) *resultsView {
	t := s.texts[lang]
	v := &resultsView{Heading: fmt.Sprintf(t.ResultsFor, sr.q)}
	if status.Code(err) == codes.InvalidArgument {
		// The search service's own words: what is wrong with the query.
		v.Note = status.Convert(err).Message()
		return v
	}
	switch s.sectionOf(ctx, w, "search", err) {
	case sectionNotYet:
		v.Note = t.SearchNotYet
		return v
	case sectionDown:
		v.Note = t.SearchDown
		return v
	}
	for _, it := range resp.GetItems() {
		v.Items = append(v.Items, s.searchItem(lang, it))
	}
	pg := resp.GetPagination()
	v.Count = fmt.Sprintf(t.ResultCount, pg.GetTotal())
	if len(v.Items) == 0 {
		v.Note = t.NoResults
	}
	if pages := int(pg.GetTotalPages()); pages > 1 {
		v.PageText = fmt.Sprintf(t.PageOf, sr.page, pages)
		if sr.page > 1 {
			v.Prev = sr.link(lang, min(sr.page-1, pages), "")
		}
		if sr.page < pages {
			v.Next = sr.link(lang, sr.page+1, "")
		}
	}
	return v
}

// domainList shows one page of a domain's articles, newest first.
func (s *Site) domainList(ctx context.Context, w http.ResponseWriter, lang string, sr search, resp *articlev1.ListArticlesResponse, err error) *resultsView {
	t := s.texts[lang]
	v := &resultsView{Heading: fmt.Sprintf(t.ArticlesIn, label(t.Domains, sr.domain))}
	if status.Code(err) == codes.InvalidArgument {
		v.Note = status.Convert(err).Message()
		return v
	}
	if s.sectionOf(ctx, w, "domain list", err) != sectionShown {
		v.Note = t.ListDown
		return v
	}
	for _, a := range resp.GetArticles() {
		v.Items = append(v.Items, s.articleItem(lang, a))
	}
	if len(v.Items) == 0 {
		v.Note = t.NoArticles
	}
	if sr.after != "" {
		v.First = sr.link(lang, 1, "")
	}
	if tok := resp.GetNextPageToken(); tok != "" {
		v.Next = sr.link(lang, 1, tok)
	}
	return v
}
