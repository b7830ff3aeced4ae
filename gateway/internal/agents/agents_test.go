package agents

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestIdentify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		agentID string // X-Agent-Id, "" for none
		ua      string
		wantID  string
		wantOK  bool
	}{
		{"agent id header", "research-bot.v2_1", "", "research-bot.v2_1", true},
		{"agent id header wins over the user agent", "my-agent", "ClaudeBot/1.0", "my-agent", true},
		{"agent id of 64 characters", strings.Repeat("a", 64), "", strings.Repeat("a", 64), true},
		{"agent id too long is ignored", strings.Repeat("a", 65), "", "", false},
		{"agent id with a space is ignored", "my agent", "", "", false},
		{"agent id with a slash is ignored", "../etc", "", "", false},
		{"agent id with non-ASCII is ignored", "agént", "", "", false},
		{"agent id with markup is ignored", "<script>", "", "", false},
		{"bad agent id falls back to the user agent", "bad id!", "ChatGPT-User/1.0", "chatgpt", true},
		{"ClaudeBot", "", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; +claudebot@anthropic.com)", "claude", true},
		{"Claude-User", "", "Claude-User/1.0", "claude", true},
		{"Claude Code", "", "claude-code/1.0.0", "claude", true},
		{"anthropic-ai", "", "anthropic-ai", "claude", true},
		{"ChatGPT-User", "", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; ChatGPT-User/1.0; +https://openai.com/bot", "chatgpt", true},
		{"GPTBot", "", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.1; +https://openai.com/gptbot)", "chatgpt", true},
		{"OAI-SearchBot", "", "OAI-SearchBot/1.0; +https://openai.com/searchbot", "chatgpt", true},
		{"PerplexityBot", "", "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; PerplexityBot/1.0; +https://perplexity.ai/perplexitybot)", "perplexity", true},
		{"Perplexity-User", "", "Perplexity-User/1.0", "perplexity", true},
		{"Google-Extended", "", "Google-Extended", "gemini", true},
		{"Gemini", "", "Gemini-Deep-Research", "gemini", true},
		{"MistralAI-User", "", "MistralAI-User/1.0", "mistral", true},
		{"Cohere", "", "cohere-ai", "cohere", true},
		{"Cursor", "", "Cursor/0.45 (darwin arm64)", "cursor", true},
		{"GitHub Copilot", "", "GitHub-Copilot/1.0", "copilot", true},
		{"LangChain", "", "langchain-community/0.3 python-requests/2.32", "langchain", true},
		{"LlamaIndex", "", "llama-index/0.12", "llamaindex", true},
		{"python-httpx is not an agent", "", "python-httpx/0.27.0", "", false},
		{"python-requests is not an agent", "", "python-requests/2.32.3", "", false},
		{"curl is not an agent", "", "curl/8.5.0", "", false},
		{"Go client is not an agent", "", "Go-http-client/1.1", "", false},
		{"browser is not an agent", "", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36", "", false},
		{"Googlebot is not an agent", "", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "", false},
		{"no user agent", "", "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("GET", "/api/v1/articles", nil)
			r.Header.Del("User-Agent")
			if tc.ua != "" {
				r.Header.Set("User-Agent", tc.ua)
			}
			if tc.agentID != "" {
				r.Header.Set("x-agent-id", tc.agentID)
			}
			id, ok := Identify(r)
			if id != tc.wantID || ok != tc.wantOK {
				t.Errorf("Identify(x-agent-id %q, User-Agent %q) = %q, %v; want %q, %v", tc.agentID, tc.ua, id, ok, tc.wantID, tc.wantOK)
			}
		})
	}
}
