package web

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"buzhou.dev/platform/vocab"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	searchv1 "buzhou.dev/proto/gen/buzhou/search/v1"
	verificationv1 "buzhou.dev/proto/gen/buzhou/verification/v1"
)

// Sizes of the sections fed by other services.
const (
	recordsShown = 20
	relatedShown = 5
	// maxSlugBytes bounds what is sent on as a slug; real ones are far shorter.
	maxSlugBytes = 512
)

// articlePage is the data of the article template.
type articlePage struct {
	page
	A        articleView
	Records  recordsView
	Problems problemsView
	Related  []item
	// LD is the article as schema.org JSON-LD.
	LD map[string]any
}

type articleView struct {
	ID, Slug, Author      string
	Title, Summary        localized
	ContentLang           string
	Content               template.HTML
	LocaleNote            string
	Domain, Status, Risk  badge
	Banner, Deprecation   string
	Published, Updated    moment
	LastInspected         moment
	Confidence            int
	Code                  []codeView
	FAQ                   []faqView
	References            []referenceView
	Tags, Keywords        []string
	Versions, Runtimes    []string
	Endpoint, MarkdownURL string
	HomeURL, DomainURL    string
	// Doc, Facts and KeywordsHTML are the templates of the same names run
	// on this view: the parts of the page that depend on nothing else.
	Doc, Facts, KeywordsHTML template.HTML
}

type codeView struct {
	ID, Lang, Description, Expected string
	Runnable                        bool
	Box                             template.HTML
}

type faqView struct {
	Question localized
	Answer   template.HTML
	// AnswerLang is the language the answer is written in.
	AnswerLang string
}

type referenceView struct {
	Title, URL, Host string
}

type recordsView struct {
	Items []recordView
	// Note says how many there are in all, or why the list is the article's own.
	Note string
}

type recordView struct {
	ID, VerifierName, VerifierID, Notes string
	Result, VerifierType                badge
	At                                  moment
	Env                                 []string
}

type problemsView struct {
	Items []problemView
	// Note replaces the list when there is none to show, saying why.
	Note string
}

type problemView struct {
	Kind, Title, Evidence string
	Severity              badge
}

// article serves /{lang}/articles/{slug}: the page, or the agent view
// (markdown or JSON) when Accept asks for one.
func (s *Site) article(lang string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := s.texts[lang]
		slug := r.PathValue("slug")
		if slug == "" || len(slug) > maxSlugBytes || !utf8.ValidString(slug) {
			s.notFound(w, r, lang, t.ArticleNotFound)
			return
		}
		w.Header().Add("Vary", "Accept")
		switch negotiate(r.Header.Get("Accept"), "text/html", "text/markdown", "application/json") {
		case "text/markdown":
			s.agentView(w, r, lang, slug, true)
			return
		case "application/json":
			s.agentView(w, r, lang, slug, false)
			return
		}
		s.articlePage(w, r, lang, slug)
	})
}

func (s *Site) articlePage(w http.ResponseWriter, r *http.Request, lang, slug string) {
	// Anonymous readers share kept pages; a page is the same for all of
	// them but for the address it is reached by.
	var (
		key  string
		gen  uint64
		keep bool
	)
	if s.cfg.Pages != nil && r.Header.Get("Authorization") == "" && r.Header.Get("X-Api-Key") == "" {
		key = lang + " " + slug + " " + s.baseURL(r)
		var (
			header http.Header
			body   []byte
		)
		header, body, gen, keep = s.cfg.Pages.Page(key)
		if body != nil {
			for k, v := range header {
				w.Header()[k] = v
			}
			s.send(w, r, htmlType, body)
			return
		}
	}
	ctx, cancel := rpcContext(r.Context(), w, mainTimeout)
	defer cancel()
	// The sections' calls go out with the article's, not after it.
	sctx, scancel := context.WithTimeout(ctx, sectionTimeout)
	defer scancel()
	var (
		wg                       sync.WaitGroup
		recs                     *verificationv1.ListVerificationRecordsResponse
		runs                     *verificationv1.ListInspectionRunsResponse
		related                  *searchv1.ListRelatedArticlesResponse
		recErr, runErr, relatErr error
	)
	wg.Go(func() {
		recs, recErr = s.cfg.Verification.ListVerificationRecords(sctx, &verificationv1.ListVerificationRecordsRequest{IdOrSlug: slug, PageSize: recordsShown})
	})
	wg.Go(func() {
		runs, runErr = s.cfg.Verification.ListInspectionRuns(sctx, &verificationv1.ListInspectionRunsRequest{IdOrSlug: slug, PageSize: 1})
	})
	relatedItems, relatedKept := s.related.Get(slug)
	if !relatedKept {
		wg.Go(func() {
			related, relatErr = s.cfg.Search.ListRelatedArticles(sctx, &searchv1.ListRelatedArticlesRequest{IdOrSlug: slug, Limit: relatedShown})
			if relatErr == nil {
				s.related.Put(slug, related.GetItems())
			}
		})
	}
	a, err := s.cfg.Articles.GetArticle(ctx, &articlev1.GetArticleRequest{IdOrSlug: slug})
	if err != nil {
		scancel()
		wg.Wait()
		s.articleFailure(w, r, lang, err)
		return
	}
	if a.GetSlug() != slug {
		// Found by id: the page lives at its slug.
		scancel()
		wg.Wait()
		http.Redirect(w, r, articleURL(lang, a.GetSlug()), http.StatusMovedPermanently)
		return
	}
	wg.Wait()

	v, err := s.articleView(lang, a)
	if err != nil {
		s.serviceFailure(w, r, lang, err)
		return
	}
	p := articlePage{A: v}
	p.page = s.newPage(r, lang, p.A.Title.Text, "/articles/"+url.PathEscape(a.GetSlug()))
	p.Description = p.A.Summary.Text
	p.MarkdownURL = p.A.MarkdownURL
	p.APIEndpoint = p.A.Endpoint
	p.AgentComment = agentComment("GET " + p.A.Endpoint + " (JSON) or GET " + p.A.MarkdownURL + " (markdown)")
	p.Alternates = alternatesOf(a, p.Alternates)
	w.Header().Set("X-Agent-API-Endpoint", p.A.Endpoint)

	p.Records = s.records(ctx, w, lang, a, recs, recErr)
	p.Problems = s.problems(ctx, w, lang, runs, runErr)
	switch {
	case relatedKept:
	case s.sectionOf(ctx, w, "related articles", relatErr) == sectionShown:
		relatedItems = related.GetItems()
	default:
		p.Related = s.relatedByID(ctx, lang, a.GetRelatedIds())
	}
	for _, it := range relatedItems {
		p.Related = append(p.Related, s.searchItem(lang, it))
	}
	p.LD = s.jsonLD(r, lang, a, p.A)
	body, ok := s.execute(w, r, "article", p)
	if !ok {
		return
	}
	// A page with a section left out is not kept: the next reader may get it whole.
	if keep && recErr == nil && runErr == nil && (relatedKept || relatErr == nil) {
		s.cfg.Pages.KeepPage(key, gen, http.Header{"X-Agent-Api-Endpoint": {p.A.Endpoint}}, body)
	}
	s.send(w, r, htmlType, body)
}

// articleFailure answers a failed GetArticle: 404 for an article that is not
// there for the public (drafts and archived ones included), else the error page.
func (s *Site) articleFailure(w http.ResponseWriter, r *http.Request, lang string, err error) {
	switch status.Code(err) {
	case codes.NotFound, codes.InvalidArgument:
		s.notFound(w, r, lang, s.texts[lang].ArticleNotFound)
	default:
		s.serviceFailure(w, r, lang, err)
	}
}

// agentView answers the page URL with the article as markdown (from the
// article service's own renderer, as GET /api/v1/articles/{x}?format=markdown
// gives it) or as the API's JSON.
func (s *Site) agentView(w http.ResponseWriter, r *http.Request, lang, slug string, markdown bool) {
	ctx, cancel := rpcContext(r.Context(), w, mainTimeout)
	defer cancel()
	var (
		body        []byte
		contentType string
		err         error
	)
	if markdown {
		hb, rerr := s.cfg.Articles.RenderArticle(ctx, &articlev1.RenderArticleRequest{IdOrSlug: slug, Lang: lang})
		if err = rerr; err == nil {
			body, contentType = hb.GetData(), cmp.Or(hb.GetContentType(), "text/markdown; charset=utf-8")
		}
	} else {
		var a *articlev1.Article
		if a, err = s.cfg.Articles.GetArticle(ctx, &articlev1.GetArticleRequest{IdOrSlug: slug}); err == nil {
			body, err = protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(a)
			contentType = "application/json"
		}
	}
	if err != nil {
		code := http.StatusInternalServerError
		msg := "internal error; try again later"
		switch status.Code(err) {
		case codes.NotFound, codes.InvalidArgument:
			code, msg = http.StatusNotFound, fmt.Sprintf("no published article %q; search with GET /api/v1/search?q=…", slug)
		case codes.Unavailable, codes.DeadlineExceeded:
			code, msg = http.StatusServiceUnavailable, "a Buzhou service is not reachable right now; retry in a few seconds"
		}
		if code != http.StatusNotFound {
			s.cfg.Log.WarnContext(r.Context(), "agent view failed", "path", r.URL.Path, "err", err, "request_id", requestID(w))
		}
		h := w.Header()
		h.Set("Content-Type", "text/plain; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		_, _ = fmt.Fprintln(w, msg)
		return
	}
	s.send(w, r, contentType, body)
}

// articleView is the article as the page shows it in lang, rendered once
// per revision.
func (s *Site) articleView(lang string, a *articlev1.Article) (articleView, error) {
	k := viewKey{id: a.GetId(), revision: a.GetRevision(), lang: lang}
	if v, ok := s.views.Get(k); ok {
		return v, nil
	}
	v := s.renderArticle(lang, a)
	data := articlePage{page: page{Lang: lang, T: s.texts[lang]}, A: v}
	for _, f := range []struct {
		name string
		out  *template.HTML
	}{{"doc", &v.Doc}, {"facts", &v.Facts}, {"keywords", &v.KeywordsHTML}} {
		var b bytes.Buffer
		if err := s.tmpl["article"].ExecuteTemplate(&b, f.name, data); err != nil {
			return articleView{}, fmt.Errorf("web: article template %s: %w", f.name, err)
		}
		*f.out = template.HTML(b.String())
	}
	// What the fragments hold need not be kept twice.
	v.Content, v.Code, v.FAQ, v.References = "", nil, nil, nil
	s.views.Put(k, v)
	return v, nil
}

// renderArticle makes the view of a in lang: its markdown rendered and its
// code highlighted.
func (s *Site) renderArticle(lang string, a *articlev1.Article) articleView {
	t, md := s.texts[lang], s.md[lang]
	v := articleView{
		ID: a.GetId(), Slug: a.GetSlug(), Author: a.GetAuthor(),
		Title: textIn(a.GetTitle(), lang), Summary: textIn(a.GetSummary(), lang),
		Domain:    newBadge(t.Domains, a.GetDomain()),
		Status:    newBadge(t.Statuses, a.GetVerificationStatus()),
		Risk:      newBadge(t.Risks, cmp.Or(a.GetRiskLevel(), vocab.RiskLow)),
		Banner:    label(t.Banners, a.GetVerificationStatus()),
		Published: newMoment(a.GetPublishedAt()), Updated: newMoment(a.GetUpdatedAt()),
		LastInspected: newMoment(a.GetLastInspectedAt()),
		Confidence:    int(a.GetConfidenceScore()),
		Tags:          a.GetTags(), Keywords: a.GetKeywords(), Versions: a.GetApplicableVersions(),
		Endpoint:    apiArticleURL(a.GetSlug()),
		MarkdownURL: apiArticleURL(a.GetSlug()) + "?format=markdown&lang=" + lang,
		HomeURL:     "/" + lang + "/",
		DomainURL:   "/" + lang + "/?domain=" + url.QueryEscape(a.GetDomain()),
	}
	if v.Published.ISO == "" {
		v.Published = newMoment(a.GetCreatedAt())
	}
	if a.GetStatus() == vocab.StatusDeprecated {
		v.Deprecation = fmt.Sprintf(t.Deprecated, cmp.Or(a.GetDeprecationReason(), "—"))
	}
	content := textIn(a.GetContent(), lang)
	v.ContentLang, v.Content = content.Lang, md.render(content.Text)
	if content.Lang != lang || v.Title.Lang != lang {
		v.LocaleNote = fmt.Sprintf(t.LocaleMissing, t.LangNames[lang], t.LangNames[otherLang(lang)])
	}
	for _, c := range a.GetCodeBlocks() {
		v.Code = append(v.Code, codeView{
			ID: c.GetId(), Lang: cmp.Or(c.GetLanguage(), "text"), Description: c.GetDescription(),
			Expected: c.GetExpectedOutput(), Runnable: c.GetRunnable(), Box: md.codeBox(c.GetLanguage(), c.GetCode()),
		})
	}
	for _, qa := range a.GetQaPairs() {
		ans := textIn(qa.GetAnswer(), lang)
		v.FAQ = append(v.FAQ, faqView{Question: textIn(qa.GetQuestion(), lang), Answer: md.render(ans.Text), AnswerLang: ans.Lang})
	}
	for _, ref := range a.GetReferences() {
		u, err := url.Parse(ref.GetUrl())
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			// The service accepts only http(s) URLs; anything else is not linked.
			continue
		}
		v.References = append(v.References, referenceView{Title: cmp.Or(ref.GetTitle(), ref.GetUrl()), URL: u.String(), Host: u.Hostname()})
	}
	for _, e := range a.GetRuntimeEnv() {
		v.Runtimes = append(v.Runtimes, strings.TrimSpace(e.GetName()+" "+e.GetVersion()))
	}
	return v
}

// alternatesOf keeps the hreflang alternates of languages the article is
// written in: a version that would only show the other language's text is
// not an alternate.
func alternatesOf(a *articlev1.Article, all []link) []link {
	var out []link
	for _, l := range all {
		if l.Lang == "x-default" || textOf(a.GetContent(), l.Lang) != "" {
			out = append(out, l)
		}
	}
	return out
}

// records is the verification timeline: the verification service's list
// when it answers, else the newest records the article carries.
func (s *Site) records(ctx context.Context, w http.ResponseWriter, lang string, a *articlev1.Article, resp *verificationv1.ListVerificationRecordsResponse, err error) recordsView {
	t := s.texts[lang]
	var v recordsView
	state := s.sectionOf(ctx, w, "verification records", err)
	if state == sectionShown {
		for _, rec := range resp.GetRecords() {
			env := rec.GetEnvironment()
			v.Items = append(v.Items, s.record(lang, rec.GetId(), rec.GetResult(), rec.GetVerifier(), rec.GetNotes(), rec.GetVerifiedAt(),
				env.GetOs(), env.GetRuntime(), env.GetRuntimeVersion()))
		}
	} else {
		for _, rec := range a.GetRecentVerifications() {
			env := rec.GetEnvironment()
			v.Items = append(v.Items, s.record(lang, rec.GetId(), rec.GetResult(), rec.GetVerifier(), rec.GetNotes(), rec.GetVerifiedAt(),
				env.GetOs(), env.GetRuntime(), env.GetRuntimeVersion()))
		}
	}
	total := max(int(a.GetVerificationCount()), len(v.Items))
	switch {
	case state == sectionDown && len(v.Items) > 0:
		v.Note = t.RecordsFallback
	case total > len(v.Items):
		v.Note = fmt.Sprintf(t.RecordsShown, total, len(v.Items))
	}
	return v
}

func (s *Site) record(lang, id, result string, by *articlev1.VerifierRef, notes string, at *timestamppb.Timestamp, env ...string) recordView {
	t := s.texts[lang]
	r := recordView{
		ID: id, Notes: notes, VerifierName: by.GetName(), VerifierID: by.GetId(),
		Result: newBadge(t.Results, result), VerifierType: newBadge(t.VerifierTypes, by.GetType()), At: newMoment(at),
	}
	for _, e := range env {
		if e = strings.TrimSpace(e); e != "" {
			r.Env = append(r.Env, e)
		}
	}
	return r
}

// reportedPrefix starts the rule key of a finding opened by a problem report.
const reportedPrefix = "reported."

// problems lists the open problem reports among the findings of the
// article's latest inspection run.
func (s *Site) problems(ctx context.Context, w http.ResponseWriter, lang string, resp *verificationv1.ListInspectionRunsResponse, err error) problemsView {
	t := s.texts[lang]
	switch s.sectionOf(ctx, w, "problem reports", err) {
	case sectionNotYet:
		return problemsView{Note: t.ProblemsNotYet}
	case sectionDown:
		return problemsView{Note: t.ProblemsDown}
	}
	var v problemsView
	if runs := resp.GetRuns(); len(runs) > 0 {
		for _, f := range runs[0].GetFindings() {
			kind, ok := strings.CutPrefix(f.GetRuleKey(), reportedPrefix)
			if !ok || f.GetStatus() != "open" {
				continue
			}
			v.Items = append(v.Items, problemView{
				Kind: label(t.ProblemKinds, kind), Title: f.GetTitle(), Evidence: f.GetEvidence(),
				Severity: newBadge(t.Severities, f.GetSeverity()),
			})
		}
	}
	if len(v.Items) == 0 {
		v.Note = t.NoProblems
	}
	return v
}

// relatedByID is the related section from the ids the article carries,
// when the search service cannot say: each fetched on its own, those that
// fail left out.
func (s *Site) relatedByID(ctx context.Context, lang string, ids []string) []item {
	ids = ids[:min(len(ids), relatedShown)]
	found := make([]*articlev1.Article, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			found[i], _ = s.cfg.Articles.GetArticle(ctx, &articlev1.GetArticleRequest{IdOrSlug: id})
		})
	}
	wg.Wait()
	var out []item
	for _, a := range found {
		if a != nil {
			out = append(out, s.articleItem(lang, a))
		}
	}
	return out
}

// jsonLD describes the article for search engines as a schema.org TechArticle.
func (s *Site) jsonLD(r *http.Request, lang string, a *articlev1.Article, v articleView) map[string]any {
	base := s.baseURL(r)
	ld := map[string]any{
		"@context": "https://schema.org", "@type": "TechArticle",
		"headline": v.Title.Text, "description": v.Summary.Text, "inLanguage": v.ContentLang,
		"identifier": a.GetId(), "url": base + articleURL(lang, a.GetSlug()),
		"articleSection": v.Domain.Label, "keywords": strings.Join(append(append([]string{}, a.GetTags()...), a.GetKeywords()...), ", "),
		"isAccessibleForFree": true,
		"publisher":           map[string]any{"@type": "Organization", "name": "Buzhou"},
	}
	if a.GetAuthor() != "" {
		ld["author"] = map[string]any{"@type": "Person", "name": a.GetAuthor()}
	}
	if v.Published.ISO != "" {
		ld["datePublished"] = v.Published.ISO
	}
	if v.Updated.ISO != "" {
		ld["dateModified"] = v.Updated.ISO
	}
	if len(a.GetApplicableVersions()) > 0 {
		ld["dependencies"] = strings.Join(a.GetApplicableVersions(), ", ")
	}
	return ld
}
