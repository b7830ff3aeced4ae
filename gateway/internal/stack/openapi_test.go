package stack

import (
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"buzhou.dev/gateway/internal/gateway"
)

// contractRoute is a route of the outside contract (API.md) and the status
// of its success.
type contractRoute struct {
	method, path string
	status       int
	// pending names what still has to add the route to the API; the test
	// fails once the route shows up, so the mark cannot outlive its reason.
	pending string
}

// contract is every route of API.md's tables. When ../shared/API.md is
// there (beside the repository), the test also fails when its tables and
// this one disagree.
var contract = []contractRoute{
	{method: "POST", path: "/api/v1/keys", status: 201},
	{method: "GET", path: "/api/v1/keys", status: 200},
	{method: "DELETE", path: "/api/v1/keys/{id}", status: 200},
	{method: "POST", path: "/api/v1/articles", status: 201},
	{method: "GET", path: "/api/v1/articles/{idOrSlug}", status: 200},
	{method: "PATCH", path: "/api/v1/articles/{id}", status: 200},
	{method: "POST", path: "/api/v1/articles:batchCreate", status: 200},
	{method: "POST", path: "/api/v1/articles/{id}:publish", status: 200},
	{method: "POST", path: "/api/v1/articles/{id}:deprecate", status: 200},
	{method: "DELETE", path: "/api/v1/articles/{id}", status: 200},
	{method: "GET", path: "/api/v1/articles", status: 200},
	{method: "GET", path: "/api/v1/search", status: 200},
	{method: "GET", path: "/api/v1/resolve", status: 200},
	{method: "GET", path: "/api/v1/articles/{idOrSlug}/related", status: 200},
	{method: "GET", path: "/api/v1/search/unanswered", status: 200},
	{method: "POST", path: "/api/v1/articles/{id}/verifications", status: 201},
	{method: "GET", path: "/api/v1/articles/{idOrSlug}/verifications", status: 200},
	{method: "GET", path: "/api/v1/verifiers", status: 200},
	{method: "POST", path: "/api/v1/articles/{id}/inspections", status: 201},
	{method: "GET", path: "/api/v1/articles/{idOrSlug}/inspections", status: 200},
	{method: "POST", path: "/api/v1/articles/{id}/sandbox-runs", status: 201},
	{method: "GET", path: "/api/v1/articles/{idOrSlug}/sandbox-runs", status: 200, pending: "an RPC in verification.proto (ListSandboxRuns), with the verification issue"},
	{method: "POST", path: "/api/v1/articles/{id}/problems", status: 201, pending: "an RPC in verification.proto (ReportProblem), with the verification issue"},
}

// The parts of the OpenAPI v2 document the test reads.
type openAPIDoc struct {
	Info struct {
		Title, Description, Version string
	}
	Paths       map[string]map[string]openAPIOperation
	Definitions map[string]struct {
		Properties map[string]struct {
			Ref string `json:"$ref"`
		}
	}
}

type openAPIOperation struct {
	OperationID string `json:"operationId"`
	Produces    []string
	Parameters  []struct {
		Name, In string
	}
	Responses map[string]struct {
		Schema struct {
			Ref string `json:"$ref"`
		}
	}
}

var pathParam = regexp.MustCompile(`\{[^}]*\}`)

// routeKey identifies a URL shape whatever its parameters are called.
func routeKey(method, path string) string {
	return strings.ToUpper(method) + " " + pathParam.ReplaceAllString(path, "{}")
}

func TestOpenAPIDocumentIsTheContract(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{})
	r := must(t, newClient(t, s, "").do("GET", "/openapi.json", nil), http.StatusOK)
	var doc openAPIDoc
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatal(err)
	}

	t.Run("info", func(t *testing.T) {
		t.Parallel()
		if doc.Info.Title != "Buzhou API" || doc.Info.Version != "v1" || !strings.Contains(doc.Info.Description, "409") {
			t.Errorf("info: %+v", doc.Info)
		}
	})

	// Every operation of the document, by URL shape, and the RPC behind it.
	ops := map[string]openAPIOperation{}
	templates := map[string]string{}
	for path, methods := range doc.Paths {
		shape := routeKey("", path)
		if other, ok := templates[shape]; ok {
			t.Errorf("one URL under two path templates: %s and %s", path, other)
		}
		templates[shape] = path
		for method, op := range methods {
			ops[routeKey(method, path)] = op
		}
	}
	rpcs := map[string]gateway.Route{}
	for _, rt := range gateway.Routes() {
		// protoc-gen-openapiv2 names operations Service_Method.
		parts := strings.Split(strings.TrimPrefix(rt.RPC, "/"), "/")
		svc := parts[0][strings.LastIndex(parts[0], ".")+1:]
		rpcs[svc+"_"+parts[1]] = rt
		if _, ok := ops[routeKey(rt.Method, rt.Path)]; !ok {
			t.Errorf("%s %s (%s) is not in the document", rt.Method, rt.Path, rt.RPC)
		}
	}

	t.Run("routes of API.md", func(t *testing.T) {
		t.Parallel()
		for _, c := range contract {
			op, ok := ops[routeKey(c.method, c.path)]
			switch {
			case c.pending != "" && ok:
				t.Errorf("%s %s is in the document now: drop its pending mark (%s)", c.method, c.path, c.pending)
			case c.pending != "":
				t.Logf("%s %s is not in the API yet: it needs %s", c.method, c.path, c.pending)
			case !ok:
				t.Errorf("%s %s of API.md is not in the document", c.method, c.path)
			case !slices.Equal(successList(op), []string{strconv.Itoa(c.status)}):
				t.Errorf("%s %s is documented with success %v, API.md says %d", c.method, c.path, successList(op), c.status)
			}
		}
	})

	t.Run("API.md itself", func(t *testing.T) {
		t.Parallel()
		parsed, err := apiMDRoutes()
		if errors.Is(err, fs.ErrNotExist) {
			t.Skipf("no ../shared/API.md beside the repository: %v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{}
		for _, c := range contract {
			want[routeKey(c.method, c.path)] = c.status
		}
		got := map[string]int{}
		for _, c := range parsed {
			got[routeKey(c.method, c.path)] = c.status
			if st, ok := want[routeKey(c.method, c.path)]; !ok {
				t.Errorf("API.md has %s %s, the test's table does not", c.method, c.path)
			} else if st != c.status {
				t.Errorf("API.md answers %s %s with %d, the test's table with %d", c.method, c.path, c.status, st)
			}
		}
		for _, c := range contract {
			if _, ok := got[routeKey(c.method, c.path)]; !ok {
				t.Errorf("the test's table has %s %s, API.md does not", c.method, c.path)
			}
		}
	})

	t.Run("statuses", func(t *testing.T) {
		t.Parallel()
		for key, op := range ops {
			rt, ok := rpcs[op.OperationID]
			if !ok {
				t.Errorf("%s: operation %q names no RPC with a REST binding", key, op.OperationID)
				continue
			}
			// The same table decides the status the gateway answers with.
			if want := []string{strconv.Itoa(gateway.StatusesOf(rt.RPC).Success)}; !slices.Equal(successList(op), want) {
				t.Errorf("%s (%s): success responses %v, the gateway answers %v", key, rt.RPC, successList(op), want)
			}
			for code, resp := range op.Responses {
				if code[0] != '2' && resp.Schema.Ref != "#/definitions/ErrorResponse" {
					t.Errorf("%s: response %s has schema %q, want the error schema", key, code, resp.Schema.Ref)
				}
			}
		}
	})

	t.Run("error schema", func(t *testing.T) {
		t.Parallel()
		if ref := doc.Definitions["ErrorResponse"].Properties["error"].Ref; ref != "#/definitions/Error" {
			t.Fatalf("ErrorResponse.error is %q", ref)
		}
		var props []string
		for name := range doc.Definitions["Error"].Properties {
			props = append(props, name)
		}
		slices.Sort(props)
		if !slices.Equal(props, []string{"code", "message", "requestId"}) {
			t.Errorf("Error has properties %v", props)
		}
		// And the gateway answers in exactly that shape.
		e := must(t, newClient(t, s, "").do("GET", "/api/v1/articles/nope", nil), http.StatusNotFound).json(t)
		var keys []string
		for k := range e["error"].(map[string]any) {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if len(e) != 1 || !slices.Equal(keys, props) {
			t.Errorf("an error body has %v / %v, the schema %v", e, keys, props)
		}
	})

	t.Run("markdown and If-Match", func(t *testing.T) {
		t.Parallel()
		get := ops[routeKey("GET", "/api/v1/articles/{}")]
		if !slices.Contains(get.Produces, "text/markdown") || !hasParam(get, "format", "query") {
			t.Errorf("GET /api/v1/articles/{idOrSlug} does not document format=markdown: %+v", get)
		}
		if !hasParam(ops[routeKey("PATCH", "/api/v1/articles/{}")], "If-Match", "header") {
			t.Errorf("PATCH /api/v1/articles/{idOrSlug} does not document If-Match")
		}
	})
}

// TestFailedPreconditionByRPC checks the two meanings of FAILED_PRECONDITION
// over REST: a stale revision is 412, a conflict with the current state 409.
func TestFailedPreconditionByRPC(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{})
	newArticle := func(t *testing.T, admin *client, title string) string {
		return must(t, admin.do("POST", "/api/v1/articles", article(title)), http.StatusCreated).json(t)["id"].(string)
	}
	cases := []struct {
		name string
		call func(t *testing.T, admin *client) response
		want int
	}{
		{"revoking the bootstrap key", func(_ *testing.T, admin *client) response {
			return admin.do("DELETE", "/api/v1/keys/key_bootstrap", nil)
		}, http.StatusConflict},
		{"deprecating an archived article", func(t *testing.T, admin *client) response {
			id := newArticle(t, admin, "Archived then deprecated")
			must(t, admin.do("DELETE", "/api/v1/articles/"+id, nil), http.StatusOK)
			return admin.do("POST", "/api/v1/articles/"+id+":deprecate", map[string]any{"reason": "old"})
		}, http.StatusConflict},
		{"a stale If-Match", func(t *testing.T, admin *client) response {
			id := newArticle(t, admin, "Stale")
			return admin.do("PATCH", "/api/v1/articles/"+id, map[string]any{"tags": []string{"x"}}, "If-Match", "7")
		}, http.StatusPreconditionFailed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := tc.call(t, newClient(t, s, testAdminKey))
			if r.status != tc.want || r.errorCode(t) != "FAILED_PRECONDITION" {
				t.Errorf("%d %s, want %d FAILED_PRECONDITION", r.status, r.body, tc.want)
			}
		})
	}
}

// successList returns the 2xx responses op documents.
func successList(op openAPIOperation) []string {
	var codes []string
	for code := range op.Responses {
		if code[0] == '2' {
			codes = append(codes, code)
		}
	}
	slices.Sort(codes)
	return codes
}

func hasParam(op openAPIOperation, name, in string) bool {
	for _, p := range op.Parameters {
		if p.Name == name && p.In == in {
			return true
		}
	}
	return false
}

var apiMDRow = regexp.MustCompile(`^\|\s*(GET|POST|PUT|PATCH|DELETE) (/[^\s?|]*)`)

// apiMDRoutes parses the route tables of ../shared/API.md, found beside the
// root of the repository (the directory holding go.work).
func apiMDRoutes() ([]contractRoute, error) {
	dir, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil, fs.ErrNotExist
		}
		dir = parent
	}
	raw, err := os.ReadFile(filepath.Join(dir, "..", "shared", "API.md"))
	if err != nil {
		return nil, err
	}
	var routes []contractRoute
	for _, line := range strings.Split(string(raw), "\n") {
		m := apiMDRow.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		// The answer is the last cell; a create's starts with 201.
		cells := strings.Split(strings.ReplaceAll(strings.TrimSuffix(strings.TrimSpace(line), "|"), `\|`, ""), "|")
		status := http.StatusOK
		if strings.HasPrefix(strings.TrimSpace(cells[len(cells)-1]), "201") {
			status = http.StatusCreated
		}
		routes = append(routes, contractRoute{method: m[1], path: m[2], status: status})
	}
	if len(routes) == 0 {
		return nil, errors.New("API.md has no route tables")
	}
	return routes, nil
}
