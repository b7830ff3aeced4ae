// Package document turns an article into what the index holds: chunks (the
// head — title, summary, QA pairs, tags, keywords, code — with the first
// sections, then the remaining sections in groups), each with a BM25F sparse
// vector over weighted fields in both languages, the text to embed, and the
// payload for filters and result lists. It also turns a query into its
// sparse vector, so documents and queries are analysed by the same code.
package document

import (
	"hash/fnv"
	"strings"
	"time"
	"unicode/utf8"

	"buzhou.dev/platform/vocab"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	"buzhou.dev/search/internal/analysis"
	"buzhou.dev/search/internal/index"
)

// Field is one weighted part of an article for BM25F.
type Field int

// The fields, in the order Weights lists them.
const (
	FieldTitle Field = iota
	FieldQuestion
	FieldTags // tags and keywords
	FieldSummary
	FieldContent
	FieldAnswer
	FieldCodeText // code block descriptions
	FieldCode
	numFields
)

// Params are the lexical weighting parameters. They were measured on the
// development queries with make eval (README, "Ranking"); Default holds the
// chosen ones.
type Params struct {
	// K1 saturates term frequency.
	K1 float64
	// Weights per field: a title or QA question match counts more than a
	// body match.
	Weights [numFields]float64
	// B is the length normalisation per field.
	B [numFields]float64
	// AvgLen is the typical length in terms of each field per chunk; fixed,
	// so a point's weights never depend on the rest of the index (Qdrant
	// computes only the idf at query time).
	AvgLen [numFields]float64
	// GramWeight weighs character trigrams in documents; GramQuery in
	// queries, per gram.
	GramWeight, GramQuery float64
	// GramFields are the fields whose words get trigrams: the short,
	// naming ones, where a misspelled query is looking. Trigrams of whole
	// bodies would triple the index for little gain (measured).
	GramFields [numFields]bool
	// ChunkTerms is the most content terms per language in one chunk.
	ChunkTerms int
	// PriorWeight scales the trust prior into each point's boost
	// (1 + PriorWeight·prior, prior in [−1, 1]); Deprecated multiplies a
	// deprecated article's boost.
	PriorWeight, Deprecated float64
}

// Default returns the measured parameters.
func Default() Params {
	return Params{
		K1:          1.2,
		Weights:     [numFields]float64{3.0, 2.5, 2.0, 1.5, 1.0, 1.0, 1.0, 0.5},
		B:           [numFields]float64{0.3, 0.3, 0.3, 0.5, 0.75, 0.5, 0.5, 0.5},
		AvgLen:      [numFields]float64{16, 40, 14, 60, 900, 120, 30, 120},
		GramWeight:  0.3,
		GramQuery:   0.15,
		ChunkTerms:  1500,
		GramFields:  [numFields]bool{FieldTitle: true, FieldQuestion: true, FieldTags: true, FieldSummary: true, FieldCodeText: true},
		PriorWeight: 0.05, Deprecated: 0.6,
	}
}

// TermID maps a term to its sparse index: 32-bit FNV-1a, as both backends
// take unsigned 32-bit indices. Collisions among a hub's vocabulary are
// rare and cost only a little precision.
func TermID(term string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(term))
	return h.Sum32()
}

// Chunk is one indexed part of an article.
type Chunk struct {
	// Point holds the payload and sparse vector; Dense is filled by the
	// caller from EmbedText.
	Point index.Point
	// EmbedText is the text to embed.
	EmbedText string
}

// maxEmbedRunes bounds the text sent to an embedder: more than any model's
// context would take, and an article's head and first sections say what it
// is about.
const maxEmbedRunes = 6000

// Chunks splits a public article into its chunks; nil for an article that
// must not be searchable (drafts, archived). now dates the freshness part of
// the trust prior.
func (p Params) Chunks(a *articlev1.Article, now time.Time) []Chunk {
	if !vocab.IsPublic(a.GetStatus()) {
		return nil
	}
	head := headText(a)
	groups := map[string][][]string{}
	n := 1
	for _, lang := range vocab.Langs() {
		groups[lang] = p.group(Sections(text(a.GetContent(), lang)))
		n = max(n, len(groups[lang]))
	}
	base := payload(a)
	base.Boost = p.Boost(&base, now)
	out := make([]Chunk, n)
	for i := range n {
		pl := base
		pl.Chunk = i
		var fields [numFields][]string
		var embedText strings.Builder
		if i == 0 {
			fields = head.fields
			embedText.WriteString(head.embed)
		} else {
			// Later chunks repeat the title, so a match there still names
			// the article.
			fields[FieldTitle] = head.fields[FieldTitle]
			embedText.WriteString(head.title)
		}
		for _, lang := range vocab.Langs() {
			var secs []string
			if i < len(groups[lang]) {
				secs = groups[lang][i]
			}
			body := strings.Join(secs, "\n\n")
			if i > 0 && pl.Heading == "" && len(secs) > 0 {
				pl.Heading = firstLine(secs[0])
			}
			fields[FieldContent] = append(fields[FieldContent], body)
			embedText.WriteString("\n")
			embedText.WriteString(body)
			if i == 0 {
				body = strings.TrimSpace(body + "\n\n" + head.qa[lang])
			}
			if lang == vocab.LangZH {
				pl.TextZH = body
			} else {
				pl.TextEN = body
			}
		}
		out[i] = Chunk{
			Point:     index.Point{Payload: pl, Sparse: p.sparse(fields)},
			EmbedText: truncateRunes(embedText.String(), maxEmbedRunes),
		}
	}
	return out
}

type head struct {
	fields [numFields][]string
	title  string
	embed  string
	qa     map[string]string // per language, for snippets
}

func headText(a *articlev1.Article) head {
	var h head
	h.qa = map[string]string{}
	add := func(f Field, s string) {
		if s != "" {
			h.fields[f] = append(h.fields[f], s)
		}
	}
	for _, lang := range vocab.Langs() {
		add(FieldTitle, text(a.GetTitle(), lang))
		add(FieldSummary, text(a.GetSummary(), lang))
		var qa strings.Builder
		for _, p := range a.GetQaPairs() {
			q, ans := text(p.GetQuestion(), lang), text(p.GetAnswer(), lang)
			add(FieldQuestion, q)
			add(FieldAnswer, ans)
			if q != "" {
				qa.WriteString("Q: " + q + "\nA: " + ans + "\n")
			}
		}
		h.qa[lang] = qa.String()
	}
	add(FieldTags, strings.Join(a.GetTags(), " "))
	add(FieldTags, strings.Join(a.GetKeywords(), " "))
	for _, c := range a.GetCodeBlocks() {
		add(FieldCodeText, c.GetDescription())
		add(FieldCode, c.GetCode())
	}
	h.title = strings.Join(h.fields[FieldTitle], "\n")
	var e strings.Builder
	for _, f := range []Field{FieldTitle, FieldSummary, FieldQuestion, FieldTags, FieldCodeText} {
		for _, s := range h.fields[f] {
			e.WriteString(s)
			e.WriteString("\n")
		}
	}
	h.embed = e.String()
	return h
}

// Boost is the trust prior of a point as a score factor: verified,
// confident and recently verified articles a little above 1, failed ones a
// little below, deprecated ones well below.
func (p Params) Boost(pl *index.Payload, now time.Time) float64 {
	b := 1 + p.PriorWeight*Prior(pl, now)
	if pl.Status == vocab.StatusDeprecated || pl.VerificationStatus == vocab.VerificationDeprecated {
		b *= p.Deprecated
	}
	return b
}

// Prior is the trust of an article in [−1, 1]: by verification status,
// confidence (72 is a new article's) and how recently it was verified.
func Prior(p *index.Payload, now time.Time) float64 {
	var s float64
	switch p.VerificationStatus {
	case vocab.VerificationVerified:
		s = 0.5
	case vocab.VerificationPartial:
		s = 0.15
	case vocab.VerificationFailed:
		s = -0.5
	}
	s += 0.3 * (float64(p.Confidence) - 72) / 26
	if p.VerifiedAt > 0 {
		switch age := now.Sub(time.Unix(p.VerifiedAt, 0)); {
		case age <= 30*24*time.Hour:
			s += 0.2
		case age <= 90*24*time.Hour:
			s += 0.1
		}
	}
	return max(-1, min(1, s))
}

func payload(a *articlev1.Article) index.Payload {
	p := index.Payload{
		ArticleID:          a.GetId(),
		Slug:               a.GetSlug(),
		Domain:             a.GetDomain(),
		Status:             a.GetStatus(),
		VerificationStatus: a.GetVerificationStatus(),
		Confidence:         a.GetConfidenceScore(),
		Tags:               append([]string(nil), a.GetTags()...),
		Versions:           append([]string(nil), a.GetApplicableVersions()...),
		TitleZH:            a.GetTitle().GetZh(),
		TitleEN:            a.GetTitle().GetEn(),
		SummaryZH:          a.GetSummary().GetZh(),
		SummaryEN:          a.GetSummary().GetEn(),
		UpdatedAt:          a.GetUpdatedAt().GetSeconds(),
	}
	if rv := a.GetRecentVerifications(); len(rv) > 0 {
		p.VerifiedAt = rv[0].GetVerifiedAt().GetSeconds()
	}
	for _, lang := range vocab.Langs() {
		if text(a.GetTitle(), lang) != "" || text(a.GetContent(), lang) != "" || text(a.GetSummary(), lang) != "" {
			p.Langs = append(p.Langs, lang)
		}
	}
	return p
}

func text(t *articlev1.LocalizedText, lang string) string {
	if lang == vocab.LangZH {
		return t.GetZh()
	}
	return t.GetEn()
}

// Sections splits markdown at its headings; text before the first heading
// is a section of its own. Headings inside fenced code do not count.
func Sections(md string) []string {
	var out []string
	var cur strings.Builder
	fenced := false
	for _, line := range strings.SplitAfter(md, "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "```") || strings.HasPrefix(t, "~~~") {
			fenced = !fenced
		}
		if !fenced && strings.HasPrefix(t, "#") && cur.Len() > 0 {
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		}
		cur.WriteString(line)
	}
	if s := strings.TrimSpace(cur.String()); s != "" {
		out = append(out, s)
	}
	return out
}

// group packs sections into chunks of at most ChunkTerms terms each (a
// longer section is a chunk alone).
func (p Params) group(secs []string) [][]string {
	var out [][]string
	var cur []string
	size := 0
	for _, s := range secs {
		n := len(analysis.Terms(s))
		if len(cur) > 0 && size+n > p.ChunkTerms {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, s)
		size += n
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return truncateRunes(strings.TrimSpace(line), 200)
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n])
}

// sparse computes the BM25F weights of a chunk's fields, plus the trigram
// features of its Latin words.
func (p Params) sparse(fields [numFields][]string) index.Sparse {
	tf := map[string]float64{}
	words := map[string]bool{}
	for f := range numFields {
		counts := map[string]int{}
		length := 0
		for _, s := range fields[f] {
			for _, t := range analysis.Terms(s) {
				counts[t]++
				length++
			}
			if !p.GramFields[f] {
				continue
			}
			analysis.Scan(s, func(tok analysis.Token) {
				if !tok.CJK {
					for _, g := range analysis.Grams(tok.Text) {
						words[g] = true
					}
				}
			})
		}
		if length == 0 {
			continue
		}
		norm := 1 - p.B[f] + p.B[f]*float64(length)/p.AvgLen[f]
		for t, c := range counts {
			tf[t] += p.Weights[f] * float64(c) / norm
		}
	}
	m := make(map[uint32]float32, len(tf)+len(words))
	for t, v := range tf {
		m[TermID(t)] += float32(v * (p.K1 + 1) / (p.K1 + v))
	}
	for g := range words {
		m[TermID(g)] += float32(p.GramWeight)
	}
	return index.NewSparse(m)
}

// Query is an analysed query.
type Query struct {
	// Terms are the distinct lexical terms, in order.
	Terms []string
	// Grams are the distinct trigrams of its Latin words.
	Grams []string
	// Corrections are known terms that replace misspelled ones.
	Corrections []string
	// Words is the sparse vector of the terms, Fuzzy that of the grams
	// (each gram weighs GramQuery); they rank separately, so a misspelling
	// still finds its article and an exact word still counts most.
	Words, Fuzzy index.Sparse
}

// Correction is the query weight of a spelling correction, below the
// term as written.
const Correction = 0.8

// Query analyses query text. correct, when set, offers a correction for
// each term; a correction joins the query at weight Correction.
func (p Params) Query(q string, correct func(string) (string, bool)) Query {
	var out Query
	seen := map[string]bool{}
	words, grams := map[uint32]float32{}, map[uint32]float32{}
	for _, t := range analysis.Terms(q) {
		if !seen[t] {
			seen[t] = true
			out.Terms = append(out.Terms, t)
			words[TermID(t)] += 1
		}
	}
	if correct != nil {
		for _, t := range out.Terms {
			if c, ok := correct(t); ok && !seen[c] {
				seen[c] = true
				out.Corrections = append(out.Corrections, c)
				words[TermID(c)] += Correction
			}
		}
	}
	for _, g := range analysis.Grams(q) {
		if !seen[g] {
			seen[g] = true
			out.Grams = append(out.Grams, g)
			grams[TermID(g)] += float32(p.GramQuery)
		}
	}
	out.Words, out.Fuzzy = index.NewSparse(words), index.NewSparse(grams)
	return out
}

// LearningUnits returns the texts the learned embedder learns from for one
// public article: the whole article, its title with its summary, and each
// QA pair, every unit holding both languages, so terms of the two languages
// co-occur.
func LearningUnits(a *articlev1.Article) []string {
	if !vocab.IsPublic(a.GetStatus()) {
		return nil
	}
	both := func(t *articlev1.LocalizedText) string { return t.GetZh() + "\n" + t.GetEn() }
	h := headText(a)
	var whole strings.Builder
	for _, f := range h.fields {
		for _, s := range f {
			whole.WriteString(s)
			whole.WriteString("\n")
		}
	}
	whole.WriteString(both(a.GetContent()))
	units := []string{whole.String(), both(a.GetTitle()) + "\n" + both(a.GetSummary())}
	for _, p := range a.GetQaPairs() {
		units = append(units, both(p.GetQuestion())+"\n"+both(p.GetAnswer()))
	}
	return units
}
