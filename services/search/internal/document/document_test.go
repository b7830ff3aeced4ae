package document

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
	"buzhou.dev/search/internal/index"
)

func weight(s index.Sparse, term string) float32 {
	i, ok := slices.BinarySearch(s.Indices, TermID(term))
	if !ok {
		return 0
	}
	return s.Values[i]
}

func article(content string) *articlev1.Article {
	return &articlev1.Article{
		Id: "art_1", Slug: "fix-it", Status: "published", Domain: "mcp",
		Title:   &articlev1.LocalizedText{En: "Fixing ECONNREFUSED", Zh: "解决连接被拒绝"},
		Summary: &articlev1.LocalizedText{En: "The server is down."},
		Content: &articlev1.LocalizedText{En: content},
		QaPairs: []*articlev1.QaPair{{Question: &articlev1.LocalizedText{En: "Why refused?"}, Answer: &articlev1.LocalizedText{En: "Nothing listens."}}},
		Tags:    []string{"postgres"},
	}
}

func TestChunksOfAShortArticle(t *testing.T) {
	t.Parallel()
	cs := Default().Chunks(article("## Fix\n\nStart the database, then retry. "+strings.Repeat("Check the logs and the port settings of the server process. ", 30)), time.Now())
	if len(cs) != 1 {
		t.Fatalf("%d chunks, want 1", len(cs))
	}
	sp := cs[0].Point.Sparse
	if weight(sp, "econnrefused") <= weight(sp, "databas") {
		t.Errorf("a title term weighs %v, a body term %v: the title must count more", weight(sp, "econnrefused"), weight(sp, "databas"))
	}
	for _, term := range []string{"解决", "refus", "postgr", "#^ec"} {
		if weight(sp, term) == 0 {
			t.Errorf("term %q is not indexed", term)
		}
	}
	pl := cs[0].Point.Payload
	if !slices.Equal(pl.Langs, []string{"zh", "en"}) || pl.Slug != "fix-it" || !strings.Contains(pl.TextEN, "Q: Why refused?") {
		t.Errorf("payload %+v", pl)
	}
}

func TestLongArticleIsChunkedBySection(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	for i := range 12 {
		fmt.Fprintf(&b, "## Part %d\n\n%s\n\n", i, strings.Repeat(fmt.Sprintf("filler%d words here ", i), 100))
	}
	b.WriteString("## Deep\n\nThe zygomorphic flag fixes it.\n")
	cs := Default().Chunks(article(b.String()), time.Now())
	if len(cs) < 3 {
		t.Fatalf("%d chunks for a long article, want several", len(cs))
	}
	last := cs[len(cs)-1].Point
	if weight(last.Sparse, "zygomorphic") == 0 || weight(cs[0].Point.Sparse, "zygomorphic") != 0 {
		t.Errorf("the deep term is not in the last chunk alone")
	}
	if weight(last.Sparse, "econnrefused") == 0 {
		t.Errorf("a later chunk does not repeat the title")
	}
	if last.Payload.Heading == "" || last.Payload.Chunk != len(cs)-1 {
		t.Errorf("last chunk payload: heading %q, chunk %d", last.Payload.Heading, last.Payload.Chunk)
	}
}

func TestHiddenArticlesHaveNoChunks(t *testing.T) {
	t.Parallel()
	for _, st := range []string{"draft", "archived", ""} {
		a := article("x")
		a.Status = st
		if cs := Default().Chunks(a, time.Now()); cs != nil {
			t.Errorf("status %q: %d chunks", st, len(cs))
		}
	}
	a := article("x")
	a.Status = "deprecated"
	if cs := Default().Chunks(a, time.Now()); len(cs) != 1 {
		t.Errorf("a deprecated article must stay findable (it sinks in ranking)")
	}
}

func TestSectionsIgnoreHeadingsInCode(t *testing.T) {
	t.Parallel()
	got := Sections("intro\n## A\ntext\n```bash\n# a comment\n```\n## B\nmore")
	if len(got) != 3 || !strings.Contains(got[1], "# a comment") {
		t.Errorf("sections = %q", got)
	}
}

func TestQuery(t *testing.T) {
	t.Parallel()
	q := Default().Query("ECONNREFUSSED ECONNREFUSSED 连接", nil)
	if !slices.Equal(q.Terms, []string{"econnrefussed", "连接"}) || len(q.Grams) == 0 {
		t.Errorf("query = %+v", q)
	}
}
