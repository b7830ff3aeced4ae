// Package render turns an article into one markdown document in one language:
// the answer of RenderArticle and of GET /api/v1/articles/{idOrSlug}?format=markdown.
//
// The document is what an agent reads when it wants the whole article in one
// fetch, so it carries every section of the article page: metadata as YAML
// front matter, title, summary, trust notice, content, code, FAQ, references and
// verification records. Output is deterministic (same article, same bytes) so
// that it can be cached, diffed and checked against golden files.
package render

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"buzhou.dev/platform/vocab"
	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

// Markdown renders the whole article as one markdown document in lang ("zh" or
// "en", also "zh-CN" and the like; anything else renders English). Each
// localised field falls back to the other language when the article lacks it
// in lang; the front matter then says content_lang. Sections, in order: YAML
// front matter (metadata, RFC 3339 UTC times, unset values left out), title,
// summary, trust notice (and deprecation notice), content, Code, FAQ,
// References, Verification records. Empty sections are left out, except the
// verification records, which say when the article is pending verification.
// A nil article renders as an empty document.
func Markdown(a *articlev1.Article, lang string) []byte {
	r := renderer{lang: normalizeLang(lang), a: a}
	return r.render()
}

// normalizeLang maps a requested language to the one rendered. Regional tags
// such as "zh-CN" count as Chinese because that is what a reader sending them
// wants; everything else is English, the default of the API.
func normalizeLang(lang string) string {
	l := strings.ToLower(strings.TrimSpace(lang))
	if l == vocab.LangZH || strings.HasPrefix(l, "zh-") || strings.HasPrefix(l, "zh_") {
		return vocab.LangZH
	}
	return vocab.LangEN
}

// renderer holds the state of one rendering: the chosen language and the
// blocks written so far, joined by blank lines at the end.
type renderer struct {
	lang   string
	a      *articlev1.Article
	blocks []string
}

func (r *renderer) render() []byte {
	a := r.a
	if a == nil {
		return nil
	}
	r.frontMatter()
	r.header()
	if content := normalizeMarkdown(r.pick(a.GetContent())); content != "" {
		r.add(closeOpenFence(content))
	}
	r.codeBlocks()
	r.faq()
	r.references()
	r.verifications()
	return []byte(strings.Join(r.blocks, "\n\n") + "\n")
}

// add appends one block; blocks are separated by exactly one blank line.
func (r *renderer) add(block string) {
	r.blocks = append(r.blocks, block)
}

// t returns the English or Chinese variant of a fixed phrase.
func (r *renderer) t(en, zh string) string {
	if r.lang == vocab.LangZH {
		return zh
	}
	return en
}

// pick returns the text in the rendering language, or in the other language
// when the article lacks it.
func (r *renderer) pick(lt *articlev1.LocalizedText) string {
	en, zh := lt.GetEn(), lt.GetZh()
	if r.lang == vocab.LangZH {
		en, zh = zh, en
	}
	// en now holds the preferred language, zh the fallback.
	if strings.TrimSpace(en) != "" {
		return en
	}
	if strings.TrimSpace(zh) != "" {
		return zh
	}
	return ""
}

// pickLang reports which language pick would use, "" when neither is set.
func (r *renderer) pickLang(lt *articlev1.LocalizedText) string {
	other := vocab.LangZH
	if r.lang == vocab.LangZH {
		other = vocab.LangEN
	}
	get := func(l string) string {
		if l == vocab.LangZH {
			return lt.GetZh()
		}
		return lt.GetEn()
	}
	switch {
	case strings.TrimSpace(get(r.lang)) != "":
		return r.lang
	case strings.TrimSpace(get(other)) != "":
		return other
	}
	return ""
}

func (r *renderer) frontMatter() {
	a := r.a
	var y yamlWriter
	y.str("id", a.GetId())
	y.str("slug", a.GetSlug())
	y.str("lang", r.lang)
	y.str("title", oneLine(r.pick(a.GetTitle())))
	// The reader asked for lang; say so when the body had to fall back to the
	// other language, so an agent does not mistake it for a translation.
	if cl := r.pickLang(a.GetContent()); cl != "" && cl != r.lang {
		y.str("content_lang", cl)
	}
	y.str("domain", a.GetDomain())
	y.str("status", a.GetStatus())
	y.str("verification_status", a.GetVerificationStatus())
	// Confidence and revision are server-made and never 0 once set, so 0
	// means "not computed yet" and is left out rather than shown as a score.
	y.int("confidence_score", a.GetConfidenceScore())
	y.str("risk_level", a.GetRiskLevel())
	y.int("revision", a.GetRevision())
	y.str("author", a.GetAuthor())
	y.list("tags", a.GetTags())
	y.list("keywords", a.GetKeywords())
	y.list("applicable_versions", a.GetApplicableVersions())
	y.runtimes("runtime_env", a.GetRuntimeEnv())
	y.int("verification_count", r.recordCount())
	y.list("related_ids", a.GetRelatedIds())
	y.time("created_at", a.GetCreatedAt())
	y.time("updated_at", a.GetUpdatedAt())
	y.time("published_at", a.GetPublishedAt())
	y.time("last_inspected_at", a.GetLastInspectedAt())
	y.str("deprecation_reason", oneLine(a.GetDeprecationReason()))
	r.add("---\n" + y.b.String() + "---")
}

func (r *renderer) header() {
	a := r.a
	title := oneLine(r.pick(a.GetTitle()))
	if title == "" {
		// A title is required on create; the slug or id keeps a stored article
		// that somehow lost it from rendering without a heading.
		title = firstNonEmpty(a.GetSlug(), a.GetId())
	}
	if title != "" {
		r.add("# " + headingText(title))
	}
	if summary := normalizeMarkdown(r.pick(a.GetSummary())); summary != "" {
		r.add(blockquote(summary))
	}
	if notice := r.trustNotice(); notice != "" {
		r.add(notice)
	}
	if r.deprecated() {
		r.add(r.deprecationNotice())
	}
}

func (r *renderer) deprecated() bool {
	return r.a.GetStatus() == vocab.StatusDeprecated || r.a.GetVerificationStatus() == vocab.VerificationDeprecated
}

// recordCount is the number of verification records in all. The embedded list
// holds at most the newest ten, so the count field wins; the list length is a
// floor in case a writer set the list without the count.
func (r *renderer) recordCount() int32 {
	n := r.a.GetVerificationCount()
	if l := int32(len(r.a.GetRecentVerifications())); l > n {
		n = l
	}
	return n
}

// trustNotice is the one line that tells a reader how far to trust the
// article, e.g. "Verification: partial · confidence 91% · risk low · 3 records".
func (r *renderer) trustNotice() string {
	a := r.a
	var parts []string
	status := a.GetVerificationStatus()
	if status == "" {
		status = vocab.VerificationPending
	}
	parts = append(parts, r.t("Verification: ", "验证状态：")+r.verificationStatus(status))
	if c := a.GetConfidenceScore(); c > 0 {
		parts = append(parts, r.t("confidence ", "置信度 ")+strconv.Itoa(int(c))+"%")
	}
	if risk := a.GetRiskLevel(); risk != "" {
		parts = append(parts, r.t("risk ", "风险 ")+r.riskLevel(risk))
	}
	n := r.recordCount()
	switch {
	case r.lang == vocab.LangZH:
		parts = append(parts, fmt.Sprintf("%d 条验证记录", n))
	case n == 1:
		parts = append(parts, "1 record")
	default:
		parts = append(parts, fmt.Sprintf("%d records", n))
	}
	return strings.Join(parts, " · ")
}

func (r *renderer) deprecationNotice() string {
	reason := oneLine(r.a.GetDeprecationReason())
	if reason == "" {
		return r.t("**Deprecated:** this article is no longer maintained and may be outdated.",
			"**已弃用：** 本文已不再维护，内容可能过时。")
	}
	return r.t("**Deprecated:** this article is no longer maintained and may be outdated. Reason: ",
		"**已弃用：** 本文已不再维护，内容可能过时。原因：") + reason
}

func (r *renderer) codeBlocks() {
	var body []string
	for i, cb := range r.a.GetCodeBlocks() {
		code := strings.TrimRight(normalizeNewlines(cb.GetCode()), "\n")
		if strings.TrimSpace(code) == "" {
			continue
		}
		name := cb.GetId()
		if name == "" {
			name = r.t("Block ", "代码块 ") + strconv.Itoa(i+1)
		}
		lang := infoString(cb.GetLanguage())
		heading := []string{name}
		if lang != "" {
			heading = append(heading, lang)
		}
		if cb.GetRunnable() {
			heading = append(heading, r.t("runnable", "可运行"))
		}
		body = append(body, "### "+headingText(strings.Join(heading, " · ")))
		if d := normalizeMarkdown(cb.GetDescription()); d != "" {
			body = append(body, closeOpenFence(d))
		}
		body = append(body, fenced(lang, code))
		if out := strings.TrimRight(normalizeNewlines(cb.GetExpectedOutput()), "\n"); strings.TrimSpace(out) != "" {
			body = append(body, r.t("Expected output:", "预期输出："), fenced("text", out))
		}
	}
	r.section(r.t("Code", "代码"), body)
}

// fenced puts text in a code fence longer than any backtick run inside it.
func fenced(lang, text string) string {
	fence := strings.Repeat("`", max(3, longestRun(text, '`')+1))
	return fence + lang + "\n" + text + "\n" + fence
}

func (r *renderer) faq() {
	var body []string
	n := 0
	for _, qa := range r.a.GetQaPairs() {
		q := oneLine(r.pick(qa.GetQuestion()))
		if q == "" {
			continue
		}
		n++
		body = append(body, "### "+headingText(fmt.Sprintf("Q%d%s%s", n, r.t(": ", "："), q)))
		if ans := normalizeMarkdown(r.pick(qa.GetAnswer())); ans != "" {
			body = append(body, closeOpenFence(ans))
		}
	}
	r.section(r.t("FAQ", "常见问题"), body)
}

func (r *renderer) references() {
	var items []string
	for _, ref := range r.a.GetReferences() {
		url := strings.TrimSpace(ref.GetUrl())
		title := oneLine(ref.GetTitle())
		switch {
		case url != "":
			items = append(items, "- ["+escapeLinkText(firstNonEmpty(title, url))+"]("+escapeURL(url)+")")
		case title != "":
			items = append(items, "- "+title)
		}
	}
	if len(items) == 0 {
		return
	}
	r.section(r.t("References", "参考资料"), []string{strings.Join(items, "\n")})
}

func (r *renderer) verifications() {
	records := r.a.GetRecentVerifications()
	total := r.recordCount()
	var body []string
	switch {
	case len(records) == 0 && total == 0:
		body = append(body, r.t(
			"This article is pending verification: no verification record yet.",
			"本文尚待验证：还没有验证记录。"))
	case len(records) == 0:
		body = append(body, r.t(
			fmt.Sprintf("%d verification records in all; none is included here.", total),
			fmt.Sprintf("共 %d 条验证记录，此处未附带。", total)))
	case int(total) > len(records):
		body = append(body, r.t(
			fmt.Sprintf("%d verification records in all; the newest %d, newest first:", total, len(records)),
			fmt.Sprintf("共 %d 条验证记录，以下为最新的 %d 条（按时间倒序）：", total, len(records))))
	case total == 1:
		body = append(body, r.t("1 verification record:", "共 1 条验证记录："))
	default:
		body = append(body, r.t(
			fmt.Sprintf("%d verification records, newest first:", total),
			fmt.Sprintf("共 %d 条验证记录（按时间倒序）：", total)))
	}
	for _, v := range records {
		body = append(body, r.record(v)...)
	}
	r.section(r.t("Verification records", "验证记录"), body)
}

// record renders one verification record as a heading (result and date) and a
// list of its details; details that are not set are left out.
func (r *renderer) record(v *articlev1.VerificationRecordSummary) []string {
	heading := r.result(v.GetResult())
	if ts := v.GetVerifiedAt(); ts.IsValid() && !isZero(ts) {
		heading += " · " + ts.AsTime().UTC().Format(time.DateOnly)
	}
	var items []string
	item := func(label, value string) {
		if value = oneLine(value); value != "" {
			items = append(items, "- "+label+value)
		}
	}
	item(r.t("Result: ", "结果："), r.result(v.GetResult()))
	verifier := oneLine(v.GetVerifier().GetName())
	if verifier == "" {
		verifier = v.GetVerifier().GetId()
	}
	if typ := v.GetVerifier().GetType(); typ != "" {
		if verifier == "" {
			verifier = r.verifierType(typ)
		} else {
			verifier += r.t(" ("+r.verifierType(typ)+")", "（"+r.verifierType(typ)+"）")
		}
	}
	item(r.t("Verifier: ", "验证者："), verifier)
	item(r.t("Verifier ID: ", "验证者 ID："), v.GetVerifier().GetId())
	item(r.t("Verified at: ", "验证时间："), formatTime(v.GetVerifiedAt()))
	item(r.t("Environment: ", "运行环境："), environment(v.GetEnvironment()))
	item(r.t("Record ID: ", "记录 ID："), v.GetId())
	item(r.t("Notes: ", "备注："), v.GetNotes())
	return []string{"### " + headingText(heading), strings.Join(items, "\n")}
}

func environment(e *articlev1.VerificationEnvironment) string {
	runtime := strings.TrimSpace(strings.TrimSpace(e.GetRuntime()) + " " + strings.TrimSpace(e.GetRuntimeVersion()))
	var parts []string
	for _, p := range []string{strings.TrimSpace(e.GetOs()), runtime} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, ", ")
}

// section adds a "## heading" followed by its body, or nothing when the body
// is empty: an empty heading tells the reader nothing.
func (r *renderer) section(heading string, body []string) {
	if len(body) == 0 {
		return
	}
	r.add("## " + heading)
	r.blocks = append(r.blocks, body...)
}

func (r *renderer) verificationStatus(s string) string {
	if r.lang != vocab.LangZH {
		return s
	}
	switch s {
	case vocab.VerificationVerified:
		return "已验证"
	case vocab.VerificationPartial:
		return "部分验证"
	case vocab.VerificationPending:
		return "待验证"
	case vocab.VerificationFailed:
		return "验证失败"
	case vocab.VerificationDeprecated:
		return "已弃用"
	}
	return s
}

func (r *renderer) riskLevel(s string) string {
	if r.lang != vocab.LangZH {
		return s
	}
	switch s {
	case vocab.RiskLow:
		return "低"
	case vocab.RiskMedium:
		return "中"
	case vocab.RiskHigh:
		return "高"
	case vocab.RiskCritical:
		return "严重"
	}
	return s
}

func (r *renderer) result(s string) string {
	if s == "" {
		return r.t("unknown result", "结果未知")
	}
	if r.lang != vocab.LangZH {
		return s
	}
	switch s {
	case vocab.ResultPassed:
		return "通过"
	case vocab.ResultPartial:
		return "部分通过"
	case vocab.ResultFailed:
		return "未通过"
	}
	return s
}

func (r *renderer) verifierType(s string) string {
	switch s {
	case vocab.PrincipalOfficialBot:
		return r.t("official bot", "官方机器人")
	case vocab.PrincipalThirdPartyAgent:
		return r.t("third-party agent", "第三方智能体")
	case vocab.PrincipalHumanExpert:
		return r.t("human expert", "人类专家")
	}
	return s
}

func isZero(ts *timestamppb.Timestamp) bool {
	return ts.GetSeconds() == 0 && ts.GetNanos() == 0
}

// formatTime renders a timestamp as RFC 3339 UTC, "" when unset or invalid.
func formatTime(ts *timestamppb.Timestamp) string {
	if ts == nil || !ts.IsValid() || isZero(ts) {
		return ""
	}
	return ts.AsTime().UTC().Format(time.RFC3339Nano)
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}
