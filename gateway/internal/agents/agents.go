// Package agents recognises requests from AI agents and counts their calls,
// errors and latency per agent, the numbers behind the public site's agent
// statistics. It keeps agent ids only: never client addresses, keys or
// anything else that identifies a person.
package agents

import (
	"net/http"
	"strings"

	"buzhou.dev/platform/vocab"
)

// HeaderAgentID is the header an agent names itself in.
const HeaderAgentID = "X-Agent-Id"

// Identify returns the agent a request comes from: the X-Agent-Id header
// when it is a valid id (vocab.ValidAgentID; anything else is ignored, not repaired, so garbage cannot pose as an id), else the id of a
// known agent's user agent (see fromUserAgent). Ordinary HTTP clients and
// browsers are not agents.
func Identify(r *http.Request) (id string, ok bool) {
	if h := r.Header.Get(HeaderAgentID); vocab.ValidAgentID(h) {
		return h, true
	}
	return fromUserAgent(r.UserAgent())
}

// fromUserAgent maps the user agents of known AI agents, their crawlers and
// agent frameworks to one stable id per product, matching case-insensitive
// substrings; the first matching row wins:
//
//	id          user agents containing
//	claude      claude (ClaudeBot, Claude-User, Claude-SearchBot, claude-code), anthropic
//	chatgpt     chatgpt (ChatGPT-User), gptbot, oai-searchbot, openai
//	perplexity  perplexity (PerplexityBot, Perplexity-User)
//	gemini      gemini, google-extended
//	mistral     mistralai
//	cohere      cohere-ai
//	cursor      cursor
//	copilot     copilot (GitHub Copilot)
//	langchain   langchain
//	llamaindex  llamaindex, llama-index, llama_index
//
// Generic clients (curl, python-requests, python-httpx, Go-http-client),
// browsers and search crawlers are deliberately absent: they are people and
// scripts as often as agents, and counting them would drown the agents. An
// agent using such a client can send X-Agent-Id.
func fromUserAgent(ua string) (string, bool) {
	if ua == "" {
		return "", false
	}
	ua = strings.ToLower(ua)
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(ua, s) {
				return true
			}
		}
		return false
	}
	switch {
	case has("claude", "anthropic"):
		return "claude", true
	case has("chatgpt", "gptbot", "oai-searchbot", "openai"):
		return "chatgpt", true
	case has("perplexity"):
		return "perplexity", true
	case has("gemini", "google-extended"):
		return "gemini", true
	case has("mistralai"):
		return "mistral", true
	case has("cohere-ai"):
		return "cohere", true
	case has("cursor"):
		return "cursor", true
	case has("copilot"):
		return "copilot", true
	case has("langchain"):
		return "langchain", true
	case has("llamaindex", "llama-index", "llama_index"):
		return "llamaindex", true
	}
	return "", false
}
