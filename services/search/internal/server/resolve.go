package server

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"buzhou.dev/platform/errs"
	"buzhou.dev/platform/vocab"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	searchv1 "buzhou.dev/proto/gen/buzhou/search/v1"
	"buzhou.dev/search/internal/analysis"
	"buzhou.dev/search/internal/document"
	"buzhou.dev/search/internal/ranking"
)

// resolveCandidates is how many results resolve looks at: the best, its
// alternatives, and spares in case the best was archived a moment ago.
const resolveCandidates = 6

// Resolve implements SearchServiceServer.
func (s *Server) Resolve(ctx context.Context, req *searchv1.ResolveRequest) (*searchv1.ResolveResponse, error) {
	field, raw := "q", req.GetQ()
	if raw == "" {
		field, raw = "query", req.GetQuery()
	}
	q, err := query(raw, field)
	if err != nil {
		return nil, err
	}
	l, err := lang(req.GetLang())
	if err != nil {
		return nil, err
	}
	v, err := ranking.ParseVersion(req.GetVersion())
	if err != nil {
		return nil, err
	}
	if req.GetMaxTokens() < 0 || req.GetMaxTokens() > maxMaxTokens {
		return nil, fmt.Errorf("%w: maxTokens %d: give 0 (no limit) up to %d", errs.ErrInvalid, req.GetMaxTokens(), maxMaxTokens)
	}
	if l == "" {
		l = ranking.QueryLang(q)
	}
	ans, err := s.d.Engine.Search(ctx, ranking.Request{Text: q, Mode: ranking.Hybrid, Version: v, Limit: resolveCandidates})
	if err != nil {
		return nil, err
	}
	conf, _, err := s.d.Engine.Confidence(ctx, ans)
	if err != nil {
		return nil, err
	}
	tune := s.d.Engine.Tuning()
	if conf < tune.Floor {
		s.d.Unanswered.Note(q)
		return nil, notGoodEnough(q, conf, tune.Floor, ans, l)
	}
	for i, best := range ans.Results {
		a, err := s.d.Articles.GetArticle(ctx, &articlev1.GetArticleRequest{IdOrSlug: best.Payload.ArticleID})
		if status.Code(err) == codes.NotFound || err == nil && !vocab.IsPublic(a.GetStatus()) {
			continue // archived since it was indexed
		}
		if err != nil {
			return nil, fmt.Errorf("%w: read the best article: %s", errs.ErrUnavailable, status.Convert(err).Message())
		}
		resp := &searchv1.ResolveResponse{Confidence: round(conf), Match: "partial"}
		if conf >= tune.Strong {
			resp.Match = "strong"
		}
		for _, alt := range ans.Results[i+1:] {
			resp.Alternatives = append(resp.Alternatives, &searchv1.Alternative{
				Slug: alt.Payload.Slug, Title: ranking.Pick(l, alt.Payload.TitleZH, alt.Payload.TitleEN), Score: round(alt.Score)})
		}
		if len(resp.Alternatives) > 3 {
			resp.Alternatives = resp.Alternatives[:3]
		}
		terms := s.d.Engine.Analyse(q)
		resp.Article, resp.Trimmed = trim(a, terms, l, int(req.GetMaxTokens()))
		resp.Tokens = int32(articleTokens(resp.Article))
		resp.NextSteps = nextSteps(a, terms, l, resp.Alternatives)
		return resp, nil
	}
	s.d.Unanswered.Note(q)
	return nil, notGoodEnough(q, 0, tune.Floor, &ranking.Answer{}, l)
}

// notGoodEnough is resolve's 404: the closest titles and how to broaden the
// query.
func notGoodEnough(q string, conf, floor float64, ans *ranking.Answer, lang string) error {
	var closest []string
	for _, r := range ans.Results[:min(3, len(ans.Results))] {
		closest = append(closest, fmt.Sprintf("%q (%s)", ranking.Pick(lang, r.Payload.TitleZH, r.Payload.TitleEN), r.Payload.Slug))
	}
	hint := "no article is close"
	if len(closest) > 0 {
		hint = "closest: " + strings.Join(closest, ", ")
	}
	return fmt.Errorf("%w: no article answers %q well enough (confidence %.2f, the floor is %.2f); %s. Try fewer words, the exact error code or message, or GET /api/v1/search?q=… for a list",
		errs.ErrNotFound, ellipsis(q, 80), conf, floor, hint)
}

func ellipsis(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// Tokens estimates the tokens of text as language models count them: about
// one per CJK character and one per four other bytes.
func Tokens(s string) int {
	cjk, other := 0, 0
	for _, r := range s {
		if analysis.IsCJK(r) {
			cjk++
		} else {
			other += utf8.RuneLen(r)
		}
	}
	return cjk + (other+3)/4
}

// articleTokens estimates an article's text as an agent would read it.
func articleTokens(a *articlev1.Article) int {
	n := 0
	for _, t := range []*articlev1.LocalizedText{a.GetTitle(), a.GetSummary(), a.GetContent()} {
		n += Tokens(t.GetZh()) + Tokens(t.GetEn())
	}
	for _, p := range a.GetQaPairs() {
		n += Tokens(p.GetQuestion().GetZh()) + Tokens(p.GetQuestion().GetEn()) + Tokens(p.GetAnswer().GetZh()) + Tokens(p.GetAnswer().GetEn())
	}
	for _, c := range a.GetCodeBlocks() {
		n += Tokens(c.GetCode()) + Tokens(c.GetDescription()) + Tokens(c.GetExpectedOutput())
	}
	for _, r := range a.GetReferences() {
		n += Tokens(r.GetTitle()) + Tokens(r.GetUrl())
	}
	for _, v := range a.GetRecentVerifications() {
		n += Tokens(v.GetNotes()) + 10
	}
	return n
}

// cut is one candidate for trimming: what it is called in the answer, its
// value (lower goes first) and how to remove it from the article.
type cut struct {
	name   string
	value  float64
	remove func(*articlev1.Article)
}

// trim returns a copy of a cut to maxTokens by whole parts, lowest value
// first: the other language, older verification notes and references, then
// the sections, FAQ entries and code blocks that match the query least. The
// title, the summary and the best-matching section stay. It names what it
// cut.
func trim(a *articlev1.Article, q document.Query, lang string, maxTokens int) (*articlev1.Article, []string) {
	out := proto.Clone(a).(*articlev1.Article)
	if maxTokens <= 0 || articleTokens(out) <= maxTokens {
		return out, nil
	}
	var cuts []cut
	other := vocab.LangZH
	if lang == vocab.LangZH {
		other = vocab.LangEN
	}
	cuts = append(cuts, cut{"content." + other, -3, func(x *articlev1.Article) { setLang(x.GetContent(), other, "") }})
	cuts = append(cuts, cut{"qaPairs." + other, -2.9, func(x *articlev1.Article) {
		for _, p := range x.GetQaPairs() {
			setLang(p.GetQuestion(), other, "")
			setLang(p.GetAnswer(), other, "")
		}
	}})
	cuts = append(cuts, cut{"summary." + other, -2.8, func(x *articlev1.Article) { setLang(x.GetSummary(), other, "") }})
	cuts = append(cuts, cut{"recentVerifications", -2, func(x *articlev1.Article) {
		if len(x.RecentVerifications) > 1 {
			x.RecentVerifications = x.RecentVerifications[:1]
		}
	}})
	cuts = append(cuts, cut{"references", -1.9, func(x *articlev1.Article) { x.References = nil }})
	// Sections of the kept language: the best one is never a candidate.
	secs := document.Sections(langText(out.GetContent(), lang))
	values := make([]float64, len(secs))
	best := 0
	for i, sec := range secs {
		values[i] = match(sec, q) - float64(i)*0.001 // later sections go first among equals
		if values[i] > values[best] {
			best = i
		}
	}
	removed := make([]bool, len(secs))
	for i, sec := range secs {
		if i == best {
			continue
		}
		cuts = append(cuts, cut{"content." + lang + ": " + heading(sec), values[i], func(x *articlev1.Article) {
			removed[i] = true
			var kept []string
			for j, s := range secs {
				if !removed[j] {
					kept = append(kept, s)
				}
			}
			setLang(x.GetContent(), lang, strings.Join(kept, "\n\n"))
		}})
	}
	for i, p := range out.GetQaPairs() {
		cuts = append(cuts, cut{fmt.Sprintf("qaPairs[%d]", i), match(langText(p.GetQuestion(), lang)+"\n"+langText(p.GetAnswer(), lang), q) + 0.5, func(x *articlev1.Article) {
			x.QaPairs[i] = nil
		}})
	}
	for i, c := range out.GetCodeBlocks() {
		v := match(c.GetDescription()+"\n"+c.GetCode(), q) + 0.5
		if c.GetRunnable() {
			v += 1
		}
		cuts = append(cuts, cut{"codeBlocks[" + cmp.Or(c.GetId(), fmt.Sprint(i)) + "]", v, func(x *articlev1.Article) { x.CodeBlocks[i] = nil }})
	}
	slices.SortStableFunc(cuts, func(x, y cut) int { return cmp.Compare(x.value, y.value) })
	var trimmed []string
	for _, c := range cuts {
		if articleTokens(out) <= maxTokens {
			break
		}
		c.remove(out)
		trimmed = append(trimmed, c.name)
	}
	out.QaPairs = slices.DeleteFunc(out.QaPairs, func(p *articlev1.QaPair) bool { return p == nil })
	out.CodeBlocks = slices.DeleteFunc(out.CodeBlocks, func(c *articlev1.CodeBlock) bool { return c == nil })
	return out, trimmed
}

func langText(t *articlev1.LocalizedText, lang string) string {
	if lang == vocab.LangZH {
		return t.GetZh()
	}
	return t.GetEn()
}

func setLang(t *articlev1.LocalizedText, lang, v string) {
	if t == nil {
		return
	}
	if lang == vocab.LangZH {
		t.Zh = v
	} else {
		t.En = v
	}
}

func heading(sec string) string {
	line, _, _ := strings.Cut(sec, "\n")
	return ellipsis(strings.TrimSpace(line), 80)
}

// match counts the query's terms in text (and a tenth per trigram).
func match(text string, q document.Query) float64 {
	have := map[string]bool{}
	for _, t := range analysis.Terms(text) {
		have[t] = true
	}
	n := 0.0
	for _, t := range q.Terms {
		if have[t] {
			n++
		}
	}
	if len(q.Grams) > 0 {
		for _, g := range analysis.Grams(text) {
			have[g] = true
		}
		for _, g := range q.Grams {
			if have[g] {
				n += 0.1
			}
		}
	}
	return n
}

// nextSteps tells an agent what to do with the article: the block to run
// first, the FAQ entry that answers the question, what to try if it fails,
// and where to report the result.
func nextSteps(a *articlev1.Article, q document.Query, lang string, alts []*searchv1.Alternative) []string {
	var steps []string
	if a.GetStatus() == vocab.StatusDeprecated {
		steps = append(steps, "This article is deprecated"+cmp.Or(": "+a.GetDeprecationReason(), "")+"; check the alternatives before relying on it.")
	}
	var first *articlev1.CodeBlock
	for _, c := range a.GetCodeBlocks() {
		if c.GetRunnable() {
			first = c
			break
		}
	}
	if first == nil && len(a.GetCodeBlocks()) > 0 {
		first = a.GetCodeBlocks()[0]
	}
	if first != nil {
		s := fmt.Sprintf("Run code block %s (%s) first", cmp.Or(first.GetId(), "1"), cmp.Or(first.GetLanguage(), "text"))
		if d := strings.TrimRight(first.GetDescription(), ". "); d != "" {
			s += ": " + ellipsis(d, 160)
		}
		if line, _, _ := strings.Cut(strings.TrimSpace(first.GetCode()), "\n"); line != "" {
			s += " — `" + ellipsis(line, 120) + "`"
		}
		if first.GetExpectedOutput() != "" {
			s += "; it should print: " + ellipsis(first.GetExpectedOutput(), 80)
		}
		steps = append(steps, s+".")
	}
	var bestQA *articlev1.QaPair
	bestScore := 0.0
	for _, p := range a.GetQaPairs() {
		if sc := match(langText(p.GetQuestion(), lang)+" "+langText(p.GetQuestion(), otherLang(lang)), q); sc > bestScore {
			bestQA, bestScore = p, sc
		}
	}
	if bestQA != nil {
		question := ranking.Pick(lang, bestQA.GetQuestion().GetZh(), bestQA.GetQuestion().GetEn())
		answer := ranking.Pick(lang, bestQA.GetAnswer().GetZh(), bestQA.GetAnswer().GetEn())
		steps = append(steps, fmt.Sprintf("The FAQ %q answers: %s", ellipsis(question, 120), ellipsis(answer, 200)))
	}
	switch {
	case len(alts) > 0:
		steps = append(steps, fmt.Sprintf("If it does not fix it, try %q: GET /api/v1/articles/%s", alts[0].GetTitle(), alts[0].GetSlug()))
	case len(a.GetRelatedIds()) > 0:
		steps = append(steps, "If it does not fix it, try the related article GET /api/v1/articles/"+a.GetRelatedIds()[0])
	}
	steps = append(steps, fmt.Sprintf(`Report whether it worked: POST /api/v1/articles/%s/verifications with {"result": "passed|partial|failed", "environment": {"os", "runtime", "runtimeVersion"}, "notes"} (a key with verifications:write), or POST /api/v1/articles/%s/problems if it is outdated or wrong.`, a.GetId(), a.GetId()))
	return steps
}

func otherLang(l string) string {
	if l == vocab.LangZH {
		return vocab.LangEN
	}
	return vocab.LangZH
}
