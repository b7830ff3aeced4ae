package rules

import (
	"strings"
	"testing"

	articlev1 "buzhou.dev/proto/gen/buzhou/article/v1"
)

// BenchmarkContentRulesLargest runs the content rules on an article at the
// article service's limits: 256 KiB of content per language and 50 code
// blocks of 64 KiB, full of near misses for the unsafe patterns.
func BenchmarkContentRulesLargest(b *testing.B) {
	line := "Run curl -s https://example.com/x and pipe nothing; rm -rf ./build; chmod 755 dir; api_key = os.environ['K']\n"
	content := strings.Repeat(line, 256<<10/len(line))
	a := clean()
	a.Content = &articlev1.LocalizedText{En: content, Zh: content}
	code := strings.Repeat("x = requests.get(url)  # verify stays on\n", 64<<10/42)
	for i := range 50 {
		a.CodeBlocks = append(a.CodeBlocks, &articlev1.CodeBlock{Id: "cb" + string(rune('a'+i%26)), Language: "python", Code: code})
	}
	b.ReportAllocs()
	for b.Loop() {
		ContentRules(a)
	}
}

// BenchmarkSimilarityLargest compares two articles of 256 KiB per language.
func BenchmarkSimilarityLargest(b *testing.B) {
	words := strings.Fields("find the process that holds the port and stop it before you start the server again with the new configuration")
	var sb strings.Builder
	for i := 0; sb.Len() < 256<<10; i++ {
		sb.WriteString(words[(i*7)%len(words)] + " ")
	}
	x, y := clean(), clean()
	x.Content.En, y.Content.En = sb.String(), sb.String()+" end"
	b.ReportAllocs()
	for b.Loop() {
		Similarity(x, y)
	}
}
