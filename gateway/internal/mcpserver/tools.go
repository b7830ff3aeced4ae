package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"buzhou.dev/platform/auth"
	"buzhou.dev/platform/vocab"
)

// Arguments of the tools. The field comments become the schema's
// descriptions (jsonschema tags); enums and bounds are added by schemaFor.

type searchArgs struct {
	Query   string `json:"query" jsonschema:"what you are looking for: an error message, a symptom or a task, in English or Chinese"`
	Domain  string `json:"domain,omitempty" jsonschema:"only articles of this domain"`
	Status  string `json:"status,omitempty" jsonschema:"only articles with this verification status (verified: every recorded run passed)"`
	Lang    string `json:"lang,omitempty" jsonschema:"language of titles and snippets: en or zh (default en)"`
	Version string `json:"version,omitempty" jsonschema:"only articles that apply to this version of the tool or library, e.g. 1.2 or node 22"`
	Limit   int    `json:"limit,omitempty" jsonschema:"how many results, 1 to 100 (default 10)"`
}

type resolveArgs struct {
	Query     string `json:"query" jsonschema:"the problem in your own words or the exact error message"`
	Lang      string `json:"lang,omitempty" jsonschema:"language of the answer: en or zh (default en)"`
	Version   string `json:"version,omitempty" jsonschema:"the version you run, e.g. python 3.12; articles for it rank first"`
	MaxTokens int    `json:"maxTokens,omitempty" jsonschema:"trim the article to about this many tokens, least relevant sections first (0: whole)"`
}

type articleArgs struct {
	Article   string `json:"article" jsonschema:"the article's id (art_...) or slug, as search and resolve return them"`
	Lang      string `json:"lang,omitempty" jsonschema:"language: en or zh (default en)"`
	Format    string `json:"format,omitempty" jsonschema:"markdown (default): the whole article as one document; json: every field, as the REST API returns it"`
	MaxTokens int    `json:"maxTokens,omitempty" jsonschema:"markdown only: cut the article after about this many tokens (0: whole)"`
}

type relatedArgs struct {
	Article string `json:"article" jsonschema:"the article's id (art_...) or slug"`
	Limit   int    `json:"limit,omitempty" jsonschema:"how many similar articles, 1 to 50 (default 5)"`
}

type verificationsArgs struct {
	Article string `json:"article" jsonschema:"the article's id (art_...) or slug"`
}

type environment struct {
	OS             string `json:"os,omitempty" jsonschema:"operating system, e.g. Ubuntu 24.04 or macOS 15"`
	Runtime        string `json:"runtime,omitempty" jsonschema:"language or tool the steps ran with, e.g. Python or Node.js"`
	RuntimeVersion string `json:"runtimeVersion,omitempty" jsonschema:"its version, e.g. 3.12"`
}

type verifyArgs struct {
	Article     string       `json:"article" jsonschema:"the article's id (art_...) or slug"`
	Result      string       `json:"result" jsonschema:"passed: the article's steps fixed the problem as written; partial: they helped but needed changes; failed: they did not work"`
	Environment *environment `json:"environment,omitempty" jsonschema:"where you ran the steps"`
	Notes       string       `json:"notes,omitempty" jsonschema:"what you did and what happened, at most 4 KiB; for partial and failed say which step and why"`
	Evidence    string       `json:"evidence,omitempty" jsonschema:"the output or error that shows the result, at most 16 KiB (keep the lines that matter)"`
}

type problemArgs struct {
	Article     string       `json:"article" jsonschema:"the article's id (art_...) or slug"`
	Kind        string       `json:"kind" jsonschema:"outdated: was right once, no longer; incorrect: wrong; unclear: cannot be followed; unsafe: harmful to run or to read"`
	Details     string       `json:"details" jsonschema:"what is wrong, specifically (1 to 4000 characters)"`
	Environment *environment `json:"environment,omitempty" jsonschema:"where you hit the problem"`
}

type localized struct {
	En string `json:"en,omitempty" jsonschema:"English"`
	Zh string `json:"zh,omitempty" jsonschema:"Chinese"`
}

type codeBlock struct {
	Language       string `json:"language" jsonschema:"the code's language, e.g. bash or python"`
	Code           string `json:"code" jsonschema:"the code, at most 64 KiB"`
	Description    string `json:"description,omitempty" jsonschema:"what the code does"`
	Runnable       bool   `json:"runnable,omitempty" jsonschema:"true when it runs on its own in a sandbox (no network)"`
	ExpectedOutput string `json:"expectedOutput,omitempty" jsonschema:"what a successful run prints"`
}

type qaPair struct {
	Question localized `json:"question" jsonschema:"a question a reader may ask"`
	Answer   localized `json:"answer" jsonschema:"its answer"`
}

type reference struct {
	Title string `json:"title" jsonschema:"the page's title"`
	URL   string `json:"url" jsonschema:"an http(s) URL"`
}

type proposeArgs struct {
	Title              localized   `json:"title" jsonschema:"the title; the English one makes the slug"`
	Summary            localized   `json:"summary" jsonschema:"one or two sentences: the problem and the fix"`
	Content            localized   `json:"content" jsonschema:"the article in markdown: cause, steps, how to check the fix (at most 256 KiB per language)"`
	Domain             string      `json:"domain" jsonschema:"the article's domain"`
	Tags               []string    `json:"tags,omitempty" jsonschema:"up to 30 one-word tags, e.g. node, eaddrinuse"`
	Keywords           []string    `json:"keywords,omitempty" jsonschema:"search terms: exact error messages, codes"`
	CodeBlocks         []codeBlock `json:"codeBlocks,omitempty" jsonschema:"runnable or illustrative code, at most 50"`
	QAPairs            []qaPair    `json:"qaPairs,omitempty" jsonschema:"questions and answers, ideally 3 or more"`
	References         []reference `json:"references,omitempty" jsonschema:"sources"`
	ApplicableVersions []string    `json:"applicableVersions,omitempty" jsonschema:"versions it applies to, e.g. node>=18"`
}

// tool is one tool's definition and the scope it needs ("" for reads).
type tool struct {
	def   *mcp.Tool
	scope string
}

func boolPtr(b bool) *bool { return &b }

// Annotations. Every tool's world is Buzhou's own knowledge base, never the
// open web, so openWorldHint is false throughout. Writes only add (a
// record, a report, a draft): not destructive, and not idempotent, since
// each call adds one more.

func readAnnotations(title string) *mcp.ToolAnnotations {
	return &mcp.ToolAnnotations{Title: title, ReadOnlyHint: true, IdempotentHint: true, OpenWorldHint: boolPtr(false)}
}

func writeAnnotations(title string) *mcp.ToolAnnotations {
	return &mcp.ToolAnnotations{Title: title, DestructiveHint: boolPtr(false), OpenWorldHint: boolPtr(false)}
}

// schemaFor infers T's input schema and applies tweak to its properties
// (enums, bounds), then forbids unknown arguments, so a misspelt one is an
// error rather than silently ignored.
func schemaFor[T any](tweak func(p map[string]*jsonschema.Schema)) *jsonschema.Schema {
	s, err := jsonschema.For[T](nil)
	if err != nil {
		panic(fmt.Sprintf("schema of %T: %v", *new(T), err)) // a programming error, caught by every test
	}
	if tweak != nil {
		tweak(s.Properties)
	}
	s.AdditionalProperties = &jsonschema.Schema{Not: &jsonschema.Schema{}}
	return s
}

func enum(s *jsonschema.Schema, values ...string) {
	s.Enum = make([]any, len(values))
	for i, v := range values {
		s.Enum[i] = v
	}
}

func bounds(s *jsonschema.Schema, lo, hi float64) {
	s.Minimum, s.Maximum = &lo, &hi
}

func minLength(s *jsonschema.Schema, n int) { s.MinLength = &n }

// articleRef constrains an article id or slug to the characters both are
// made of (ids are art_ and base64url, slugs lower-case words and dashes),
// so that no path (../keys) reaches the REST call.
func articleRef(s *jsonschema.Schema) {
	minLength(s, 1)
	n := maxRefLen
	s.MaxLength = &n
	s.Pattern = refPattern
}

const (
	refPattern = "^[A-Za-z0-9_-]+$"
	maxRefLen  = 200
)

var validRef = regexp.MustCompile(refPattern)

// isRef reports whether s can be an article id or slug (see articleRef).
func isRef(s string) bool { return len(s) <= maxRefLen && validRef.MatchString(s) }

// addTools registers every tool on s.
func (h *hub) addTools(s *mcp.Server) {
	langs := vocab.Langs()

	addTool(h, s, tool{def: &mcp.Tool{
		Name: "search",
		Description: "Search Buzhou's verified troubleshooting and how-to articles for AI agents. " +
			"Call it when you need to choose among several articles or browse a topic; when you just want the answer to one problem, call resolve instead. " +
			"Returns ranked items (id, slug, title, summary, domain, tags, verificationStatus, confidenceScore 0-100, score, snippet) as JSON. " +
			"Next: get_article with an item's slug to read it.",
		Annotations: readAnnotations("Search articles"),
		InputSchema: schemaFor[searchArgs](func(p map[string]*jsonschema.Schema) {
			minLength(p["query"], 1)
			enum(p["domain"], vocab.Domains()...)
			enum(p["status"], vocab.VerificationStatuses()...)
			enum(p["lang"], langs...)
			bounds(p["limit"], 1, 100)
		}),
	}}, h.search)

	addTool(h, s, tool{def: &mcp.Tool{
		Name: "resolve",
		Description: "Find the one Buzhou article that best answers a problem and return it as markdown, with its trust summary " +
			"(verification status, confidence, risk level, how strong the match is), alternatives and next steps. " +
			"Call it first when you hit an error or are stuck on a task. When nothing matches well enough it says so and lists the closest titles instead of guessing. " +
			"After following the article, report the outcome with submit_verification (or report_problem when the article is wrong).",
		Annotations: readAnnotations("Resolve a problem"),
		InputSchema: schemaFor[resolveArgs](func(p map[string]*jsonschema.Schema) {
			minLength(p["query"], 1)
			enum(p["lang"], langs...)
			bounds(p["maxTokens"], 0, 1_000_000)
		}),
	}}, h.resolve)

	addTool(h, s, tool{def: &mcp.Tool{
		Name: "get_article",
		Description: "Read one Buzhou article by id or slug: markdown (default) with metadata, content, code blocks, questions and answers and the verification records; " +
			"or json with every field. Call it after search, or to reread an article resolve returned trimmed.",
		Annotations: readAnnotations("Read an article"),
		InputSchema: schemaFor[articleArgs](func(p map[string]*jsonschema.Schema) {
			articleRef(p["article"])
			enum(p["lang"], langs...)
			enum(p["format"], "markdown", "json")
			bounds(p["maxTokens"], 0, 1_000_000)
		}),
	}}, h.getArticle)

	addTool(h, s, tool{def: &mcp.Tool{
		Name: "related",
		Description: "List articles similar to one article, most similar first, never the article itself; items as in search. " +
			"Call it when an article was close but not quite your problem.",
		Annotations: readAnnotations("Related articles"),
		InputSchema: schemaFor[relatedArgs](func(p map[string]*jsonschema.Schema) {
			articleRef(p["article"])
			bounds(p["limit"], 1, 50)
		}),
	}}, h.related)

	addTool(h, s, tool{def: &mcp.Tool{
		Name: "list_verifications",
		Description: "List who ran an article's steps, where (OS, runtime, version) and with what result (passed, partial, failed), newest first, as JSON. " +
			"Call it to judge whether an article works in your environment before running it.",
		Annotations: readAnnotations("Verification records"),
		InputSchema: schemaFor[verificationsArgs](func(p map[string]*jsonschema.Schema) { articleRef(p["article"]) }),
	}}, h.listVerifications)

	addTool(h, s, tool{scope: auth.ScopeVerificationsWrite, def: &mcp.Tool{
		Name: "submit_verification",
		Description: "Record that you ran an article's steps and whether they worked: passed, partial or failed, with your environment, notes and evidence. " +
			"You (the API key's owner) are the verifier; an article's author cannot verify it. Failed and partial records count as much as passes: " +
			"they tell the next agent where a fix does not work. Needs an API key with scope verifications:write. Returns the stored record as JSON.",
		Annotations: writeAnnotations("Record a verification"),
		InputSchema: schemaFor[verifyArgs](func(p map[string]*jsonschema.Schema) {
			articleRef(p["article"])
			enum(p["result"], vocab.Results()...)
		}),
	}}, h.submitVerification)

	addTool(h, s, tool{scope: auth.ScopeVerificationsWrite, def: &mcp.Tool{
		Name: "report_problem",
		Description: "Report that an article is outdated, incorrect, unclear or unsafe. It becomes an open inspection finding that reviewers see; " +
			"repeated reports of one kind are counted. Needs an API key with scope verifications:write. Returns the finding as JSON.",
		Annotations: writeAnnotations("Report a problem"),
		InputSchema: schemaFor[problemArgs](func(p map[string]*jsonschema.Schema) {
			articleRef(p["article"])
			enum(p["kind"], vocab.ProblemKinds()...)
			minLength(p["details"], 1)
		}),
	}}, h.reportProblem)

	addTool(h, s, tool{scope: auth.ScopeArticlesPropose, def: &mcp.Tool{
		Name: "propose_article",
		Description: "Propose a new article: when you solved a problem Buzhou had no good article for, write it up. It is stored as a draft for human review, " +
			"never published directly, and inspected like any article. Needs an API key with scope articles:propose (or articles:write). " +
			"Returns the draft's id, slug and status.",
		Annotations: writeAnnotations("Propose an article"),
		InputSchema: schemaFor[proposeArgs](func(p map[string]*jsonschema.Schema) {
			enum(p["domain"], vocab.Domains()...)
		}),
	}}, h.proposeArticle)
}

// addTool registers one tool whose handler's errors become tool errors that
// say how to fix the call.
func addTool[In any](h *hub, s *mcp.Server, t tool, fn func(context.Context, caller, In) (*mcp.CallToolResult, error)) {
	mcp.AddTool(s, t.def, func(ctx context.Context, req *mcp.CallToolRequest, in In) (*mcp.CallToolResult, any, error) {
		res, err := fn(ctx, req, in)
		if err != nil {
			return nil, nil, errors.New(h.explain(t, err))
		}
		return res, nil, nil
	})
}

// explain turns a failed call into a message for the model: what Buzhou
// said, and what to change.
func (h *hub) explain(t tool, err error) string {
	var ae *apiError
	if !errors.As(err, &ae) {
		return err.Error()
	}
	msg := ae.Error()
	var hint string
	switch ae.status {
	case http.StatusUnauthorized:
		if t.scope == "" {
			hint = "the API key sent is not valid; fix or remove it"
		} else {
			hint = fmt.Sprintf("%s needs an API key with scope %s: %s", t.def.Name, t.scope, h.keyHowTo)
		}
	case http.StatusForbidden:
		if t.scope != "" && strings.Contains(ae.message, "lacks scope") {
			hint = fmt.Sprintf("%s needs a key with scope %s; ask the Buzhou operator for one (buzhou keys create --scope %s)", t.def.Name, t.scope, t.scope)
		}
	case http.StatusNotFound:
		hint = "the search tool finds an article's slug"
	case http.StatusBadRequest:
		hint = "change the arguments as the message says and call again"
	case http.StatusTooManyRequests:
		hint = "wait as the message says, then call again"
	case http.StatusServiceUnavailable:
		hint = "Buzhou is starting or overloaded; call again in a moment"
	}
	if hint == "" {
		return msg
	}
	return msg + " — " + hint
}

func textResult(text string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: text}}}
}

// jsonResult passes a JSON answer on as text, indented for reading.
func jsonResult(body []byte) *mcp.CallToolResult {
	var v any
	if json.Unmarshal(body, &v) == nil {
		if out, err := json.MarshalIndent(v, "", "  "); err == nil {
			body = out
		}
	}
	return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: string(body)}}}
}

func articlePath(idOrSlug string, suffix string) string {
	return "/api/v1/articles/" + url.PathEscape(idOrSlug) + suffix
}

func setIf(q url.Values, k, v string) {
	if v != "" {
		q.Set(k, v)
	}
}

func (h *hub) search(ctx context.Context, c caller, in searchArgs) (*mcp.CallToolResult, error) {
	q := url.Values{"q": {in.Query}}
	setIf(q, "domain", in.Domain)
	setIf(q, "status", in.Status)
	setIf(q, "lang", in.Lang)
	setIf(q, "version", in.Version)
	limit := in.Limit
	if limit == 0 {
		limit = 10
	}
	q.Set("pageSize", strconv.Itoa(limit))
	a, err := h.api.call(ctx, c, http.MethodGet, "/api/v1/search", q, nil)
	if err != nil {
		return nil, err
	}
	return jsonResult(a.body), nil
}

func (h *hub) related(ctx context.Context, c caller, in relatedArgs) (*mcp.CallToolResult, error) {
	limit := in.Limit
	if limit == 0 {
		limit = 5
	}
	a, err := h.api.call(ctx, c, http.MethodGet, articlePath(in.Article, "/related"), url.Values{"limit": {strconv.Itoa(limit)}}, nil)
	if err != nil {
		return nil, err
	}
	return jsonResult(a.body), nil
}

func (h *hub) listVerifications(ctx context.Context, c caller, in verificationsArgs) (*mcp.CallToolResult, error) {
	a, err := h.api.call(ctx, c, http.MethodGet, articlePath(in.Article, "/verifications"), nil, nil)
	if err != nil {
		return nil, err
	}
	return jsonResult(a.body), nil
}

func (h *hub) getArticle(ctx context.Context, c caller, in articleArgs) (*mcp.CallToolResult, error) {
	q := url.Values{}
	setIf(q, "lang", in.Lang)
	if in.Format == "json" {
		a, err := h.api.call(ctx, c, http.MethodGet, articlePath(in.Article, ""), q, nil)
		if err != nil {
			return nil, err
		}
		// Never cut: half a JSON document is no document.
		text := jsonResult(a.body).Content[0].(*mcp.TextContent).Text
		return textResult(h.marked(ctx, c, a.header.Get("X-Article-Id"), text)), nil
	}
	md, id, err := h.markdown(ctx, c, in.Article, in.Lang)
	if err != nil {
		return nil, err
	}
	return textResult(h.marked(ctx, c, id, cut(md, in.MaxTokens))), nil
}

// markdown returns an article rendered by the server, and its id.
func (h *hub) markdown(ctx context.Context, c caller, idOrSlug, lang string) (string, string, error) {
	q := url.Values{"format": {"markdown"}}
	setIf(q, "lang", lang)
	a, err := h.api.call(ctx, c, http.MethodGet, articlePath(idOrSlug, ""), q, nil)
	if err != nil {
		return "", "", err
	}
	return string(a.body), a.header.Get("X-Article-Id"), nil
}

// resolved is the part of GET /api/v1/resolve's answer the tool shows.
type resolved struct {
	ID                 string            `json:"id"`
	Slug               string            `json:"slug"`
	Title              map[string]string `json:"title"`
	Summary            map[string]string `json:"summary"`
	Content            map[string]string `json:"content"`
	CodeBlocks         []codeBlock       `json:"codeBlocks"`
	VerificationStatus string            `json:"verificationStatus"`
	ConfidenceScore    int               `json:"confidenceScore"`
	RiskLevel          string            `json:"riskLevel"`
	Status             string            `json:"status"`
	UpdatedAt          string            `json:"updatedAt"`
	VerificationCount  int               `json:"verificationCount"`
	Confidence         float64           `json:"confidence"`
	Match              string            `json:"match"`
	Alternatives       []struct {
		Slug  string  `json:"slug"`
		Title string  `json:"title"`
		Score float64 `json:"score"`
	} `json:"alternatives"`
	Trimmed []string `json:"trimmed"`
}

func (h *hub) resolve(ctx context.Context, c caller, in resolveArgs) (*mcp.CallToolResult, error) {
	q := url.Values{"q": {in.Query}}
	setIf(q, "lang", in.Lang)
	setIf(q, "version", in.Version)
	if in.MaxTokens > 0 {
		q.Set("maxTokens", strconv.Itoa(in.MaxTokens))
	}
	a, err := h.api.call(ctx, c, http.MethodGet, "/api/v1/resolve", q, nil)
	var ae *apiError
	if errors.As(err, &ae) && ae.status == http.StatusNotFound {
		// Not a failed call: an honest "nothing good enough", with the
		// closest titles the server names.
		msg := strings.Replace(ae.message, "GET /api/v1/search?q=… for a list", "the search tool for a list", 1)
		return textResult("No good match in Buzhou for this query: " + msg), nil
	}
	if err != nil {
		return nil, err
	}
	var r resolved
	if err := json.Unmarshal(a.body, &r); err != nil {
		return nil, fmt.Errorf("Buzhou's resolve answer is not the expected JSON: %v", err)
	}
	lang := in.Lang
	if lang == "" {
		lang = "en"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# %s\n\n", pick(r.Title, lang))
	fmt.Fprintf(&b, "- slug: %s (id %s)\n- match: %s (confidence %.2f)\n- verification: %s, confidence score %d/100, %d records\n- risk level: %s\n- status: %s, updated %s\n",
		r.Slug, r.ID, r.Match, r.Confidence, r.VerificationStatus, r.ConfidenceScore, r.VerificationCount, r.RiskLevel, r.Status, r.UpdatedAt)
	if len(r.Trimmed) > 0 {
		fmt.Fprintf(&b, "- trimmed to fit maxTokens: %s (get_article has the whole article)\n", strings.Join(r.Trimmed, ", "))
	}
	if s := pick(r.Summary, lang); s != "" {
		fmt.Fprintf(&b, "\n%s\n", s)
	}
	if s := pick(r.Content, lang); s != "" {
		fmt.Fprintf(&b, "\n%s\n", strings.TrimSpace(s))
	}
	for i, cb := range r.CodeBlocks {
		fmt.Fprintf(&b, "\n## Code %d", i+1)
		if cb.Description != "" {
			fmt.Fprintf(&b, ": %s", cb.Description)
		}
		fmt.Fprintf(&b, "\n\n%s%s\n%s\n%s\n", fence(cb.Code), cb.Language, strings.TrimRight(cb.Code, "\n"), fence(cb.Code))
		if cb.ExpectedOutput != "" {
			fmt.Fprintf(&b, "\nExpected output:\n\n%s\n%s\n%s\n", fence(cb.ExpectedOutput), strings.TrimRight(cb.ExpectedOutput, "\n"), fence(cb.ExpectedOutput))
		}
	}
	if len(r.Alternatives) > 0 {
		b.WriteString("\n## Alternatives\n\n")
		for _, alt := range r.Alternatives {
			fmt.Fprintf(&b, "- %s (%s, score %.2f)\n", alt.Title, alt.Slug, alt.Score)
		}
	}
	// The API's next steps name REST routes; these name the tools.
	b.WriteString("\n## Next steps\n\n")
	if len(r.Alternatives) > 0 {
		fmt.Fprintf(&b, "- If it does not fix the problem: get_article with article %q, or another alternative.\n", r.Alternatives[0].Slug)
	}
	fmt.Fprintf(&b, "- After running the steps: submit_verification with article %q and result passed, partial or failed; report_problem if it is outdated, incorrect, unclear or unsafe (both need a key with scope %s).\n",
		r.ID, auth.ScopeVerificationsWrite)
	return textResult(h.marked(ctx, c, r.ID, b.String())), nil
}

// pick returns the text in lang, else in the other language.
func pick(m map[string]string, lang string) string {
	if s := m[lang]; s != "" {
		return s
	}
	if lang == "en" {
		return m["zh"]
	}
	return m["en"]
}

// fence is a code fence longer than any backtick run in code.
func fence(code string) string {
	n, run := 3, 0
	for _, r := range code {
		if r == '`' {
			run++
			n = max(n, run+1)
		} else {
			run = 0
		}
	}
	return strings.Repeat("`", n)
}

// cut shortens text to about maxTokens tokens (four bytes each, the usual
// estimate for English; Chinese counts higher, so it errs short), at a line
// end, and says so. 0 keeps it whole.
func cut(text string, maxTokens int) string {
	limit := maxTokens * 4
	if maxTokens <= 0 || len(text) <= limit {
		return text
	}
	end := strings.LastIndexByte(text[:limit], '\n')
	if end <= 0 {
		end = limit
		for end > 0 && !isRuneStart(text[end]) {
			end--
		}
	}
	return fmt.Sprintf("%s\n\n[cut at about %d tokens of about %d]\n", text[:end], maxTokens, len(text)/4)
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

func (h *hub) submitVerification(ctx context.Context, c caller, in verifyArgs) (*mcp.CallToolResult, error) {
	body := map[string]any{"result": in.Result, "notes": in.Notes}
	if in.Evidence != "" {
		body["evidence"] = in.Evidence
	}
	if in.Environment != nil {
		body["environment"] = in.Environment
	}
	a, err := h.api.call(ctx, c, http.MethodPost, articlePath(in.Article, "/verifications"), nil, body)
	if err != nil {
		return nil, err
	}
	return jsonResult(a.body), nil
}

func (h *hub) reportProblem(ctx context.Context, c caller, in problemArgs) (*mcp.CallToolResult, error) {
	body := map[string]any{"kind": in.Kind, "details": in.Details}
	if in.Environment != nil {
		body["environment"] = in.Environment
	}
	a, err := h.api.call(ctx, c, http.MethodPost, articlePath(in.Article, "/problems"), nil, body)
	if err != nil {
		return nil, err
	}
	return jsonResult(a.body), nil
}

func (h *hub) proposeArticle(ctx context.Context, c caller, in proposeArgs) (*mcp.CallToolResult, error) {
	// Always a draft, whatever the key may do: a proposal waits for review.
	body := struct {
		proposeArgs
		Status string `json:"status"`
	}{in, vocab.StatusDraft}
	a, err := h.api.call(ctx, c, http.MethodPost, "/api/v1/articles", nil, body)
	if err != nil {
		return nil, err
	}
	var created struct {
		ID     string `json:"id"`
		Slug   string `json:"slug"`
		Status string `json:"status"`
	}
	if err := json.Unmarshal(a.body, &created); err != nil {
		return nil, fmt.Errorf("Buzhou's answer is not the expected JSON: %v", err)
	}
	out, _ := json.MarshalIndent(map[string]string{
		"id": created.ID, "slug": created.Slug, "status": created.Status,
		"review": "the draft is not public; a reviewer with articles:write publishes it",
	}, "", "  ")
	return textResult(string(out)), nil
}
