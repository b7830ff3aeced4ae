package web

import (
	"cmp"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// apiGroup is one service of the API docs page: its routes, as the OpenAPI
// document gives them.
type apiGroup struct {
	Name, Description string
	Ops               []apiOp
}

type apiOp struct {
	// Anchor is the operation's id, for links to it.
	Anchor, Method, Path, Summary string
	Params                        []apiParam
	Responses                     []apiResponse
}

type apiParam struct {
	Name, In, Type, Description string
	Required                    bool
}

type apiResponse struct {
	Code, Description string
}

// swagger is the part of a Swagger 2 document the page shows.
type swagger struct {
	Tags []struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	} `json:"tags"`
	Paths map[string]map[string]struct {
		Summary     string   `json:"summary"`
		Description string   `json:"description"`
		OperationID string   `json:"operationId"`
		Tags        []string `json:"tags"`
		Parameters  []struct {
			Name        string `json:"name"`
			In          string `json:"in"`
			Description string `json:"description"`
			Type        string `json:"type"`
			Required    bool   `json:"required"`
			Schema      *struct {
				Ref string `json:"$ref"`
			} `json:"schema"`
		} `json:"parameters"`
		Responses map[string]struct {
			Description string `json:"description"`
		} `json:"responses"`
	} `json:"paths"`
}

// methodOrder is the order of an path's operations on the page.
func methodOrder(m string) int {
	return slices.Index([]string{"get", "post", "put", "patch", "delete"}, m)
}

// parseOpenAPI turns the document into the page's groups: one per tag in
// the document's order, routes by path and then method.
func parseOpenAPI(doc []byte) ([]apiGroup, error) {
	if len(doc) == 0 {
		return nil, nil
	}
	var sw swagger
	if err := json.Unmarshal(doc, &sw); err != nil {
		return nil, fmt.Errorf("web: read the OpenAPI document: %w", err)
	}
	groups := make([]apiGroup, len(sw.Tags))
	index := map[string]int{}
	for i, t := range sw.Tags {
		groups[i] = apiGroup{Name: t.Name, Description: t.Description}
		index[t.Name] = i
	}
	for path, ops := range sw.Paths {
		for method, op := range ops {
			if methodOrder(method) < 0 {
				continue // "parameters" shared by a path's operations, extensions
			}
			o := apiOp{Anchor: op.OperationID, Method: strings.ToUpper(method), Path: path, Summary: strings.TrimSpace(cmp.Or(op.Summary, op.Description))}
			for _, p := range op.Parameters {
				typ := p.Type
				if p.Schema != nil {
					typ = strings.TrimPrefix(p.Schema.Ref, "#/definitions/")
				}
				o.Params = append(o.Params, apiParam{Name: p.Name, In: p.In, Type: cmp.Or(typ, "object"), Description: p.Description, Required: p.Required})
			}
			for code, r := range op.Responses {
				o.Responses = append(o.Responses, apiResponse{Code: code, Description: r.Description})
			}
			slices.SortFunc(o.Responses, func(a, b apiResponse) int { return strings.Compare(a.Code, b.Code) })
			tag := ""
			if len(op.Tags) > 0 {
				tag = op.Tags[0]
			}
			i, ok := index[tag]
			if !ok {
				i = len(groups)
				index[tag] = i
				groups = append(groups, apiGroup{Name: cmp.Or(tag, "Other")})
			}
			groups[i].Ops = append(groups[i].Ops, o)
		}
	}
	for i := range groups {
		slices.SortFunc(groups[i].Ops, func(a, b apiOp) int {
			return cmp.Or(strings.Compare(a.Path, b.Path), methodOrder(strings.ToLower(a.Method))-methodOrder(strings.ToLower(b.Method)))
		})
	}
	return slices.DeleteFunc(groups, func(g apiGroup) bool { return len(g.Ops) == 0 }), nil
}

// siteRoute is a route the gateway serves besides the API's.
type siteRoute struct {
	Path, Description string
}

// siteRoutes are the discovery and operations routes, for the API docs page.
func siteRoutes() []siteRoute {
	return []siteRoute{
		{"/openapi.json", "The OpenAPI document of the API; what this page is made from."},
		{"/mcp", "The MCP server (Streamable HTTP) with the API's reads and write-backs as tools and the articles as resources; see the README for client set-up."},
		{"/llms.txt", "What Buzhou is, how to use the API, and the top articles by domain, for language models."},
		{"/sitemap.xml", "Every published article in both languages, with lastmod and hreflang alternates."},
		{"/robots.txt", "Crawling rules and the sitemap's address."},
		{"/{lang}/articles/{slug}", "An article's page; with Accept: text/markdown or application/json, its agent view."},
		{"/healthz", "Liveness: 200 while the gateway answers."},
		{"/readyz", "Readiness: 200 when every service can serve, else 503 naming those that cannot."},
		{"/metrics", "Prometheus metrics."},
	}
}

type apiDocsPage struct {
	page
	Groups []apiGroup
	Site   []siteRoute
}

// apiDocs serves /{lang}/api-docs, generated from the OpenAPI document.
func (s *Site) apiDocs(lang string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := s.texts[lang]
		p := apiDocsPage{Groups: s.docs, Site: siteRoutes()}
		p.page = s.newPage(r, lang, t.APIDocsTitle, "/api-docs")
		p.Description = t.APIDocsIntro
		s.render(w, r, "apidocs", http.StatusOK, p)
	})
}
