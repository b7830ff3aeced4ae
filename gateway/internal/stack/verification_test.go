package stack

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"

	"buzhou.dev/platform/auth"
	verificationv1 "buzhou.dev/proto/gen/buzhou/verification/v1"
)

// verifierKey makes a key with verifications:write for a new principal named
// name and returns a client using it.
func verifierKey(t *testing.T, s *Stack, admin *client, name string) *client {
	t.Helper()
	_, key := createKey(t, admin, map[string]any{"name": name, "scopes": []string{auth.ScopeVerificationsWrite}})
	return newClient(t, s, key)
}

func record(result, os string) map[string]any {
	return map[string]any{"result": result, "environment": map[string]any{"os": os, "runtime": "Python", "runtimeVersion": "3.12",
		"extras": map[string]any{"arch": "arm64"}}, "notes": "ran every block"}
}

// TestVerificationRecordsOverREST: the verifier is the key's owner, never a
// body field; the author cannot verify; failed records are listed like
// passes; the article shows the public site's numbers (the seed page's 91).
func TestVerificationRecordsOverREST(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{})
	admin := newClient(t, s, testAdminKey)
	anon := newClient(t, s, "")
	pub := article("Records over REST")
	pub["status"] = "published"
	a := must(t, admin.do("POST", "/api/v1/articles", pub), http.StatusCreated).json(t)
	id, slug := a["id"].(string), a["slug"].(string)
	claude, goumang, linter := verifierKey(t, s, admin, "Claude Agent Verifier"), verifierKey(t, s, admin, "goumang"), verifierKey(t, s, admin, "linter")

	created := must(t, claude.do("POST", path("/api/v1/articles/%s/verifications", id), record("passed", "Linux")), http.StatusCreated).json(t)
	v := created["verifier"].(map[string]any)
	if v["name"] != "Claude Agent Verifier" || v["type"] != "third_party_agent" || !strings.HasPrefix(created["id"].(string), "rec_") {
		t.Errorf("created record %v", created)
	}
	if env := created["environment"].(map[string]any); env["runtimeVersion"] != "3.12" || env["extras"].(map[string]any)["arch"] != "arm64" {
		t.Errorf("environment %v", env)
	}

	t.Run("a verifier in the body is refused", func(t *testing.T) {
		t.Parallel()
		for _, field := range []string{"verifier", "verifierId"} {
			body := record("passed", "Linux")
			body[field] = map[string]any{"id": "prn_admin", "name": "admin"}
			if field == "verifierId" {
				body[field] = "prn_admin"
			}
			r := goumang.do("POST", path("/api/v1/articles/%s/verifications", id), body)
			if r.status != http.StatusBadRequest || r.errorCode(t) != "INVALID_ARGUMENT" {
				t.Errorf("%s in the body: %d %s", field, r.status, r.body)
			}
		}
	})
	t.Run("the author cannot verify", func(t *testing.T) {
		t.Parallel()
		r := admin.do("POST", path("/api/v1/articles/%s/verifications", slug), record("passed", "Linux"))
		if r.status != http.StatusForbidden || r.errorCode(t) != "PERMISSION_DENIED" || !strings.Contains(string(r.body), "wrote this article") {
			t.Errorf("the author's record: %d %s", r.status, r.body)
		}
	})
	t.Run("the creator cannot verify under another author's name", func(t *testing.T) {
		t.Parallel()
		_, key := createKey(t, admin, map[string]any{"name": "ghostwriter", "scopes": []string{auth.ScopeArticlesWrite, auth.ScopeVerificationsWrite}})
		ghost := newClient(t, s, key)
		body := article("Ghost written")
		body["status"], body["author"] = "published", "Somebody Else"
		created := must(t, ghost.do("POST", "/api/v1/articles", body), http.StatusCreated).json(t)
		if created["author"] != "Somebody Else" || !strings.HasPrefix(fmt.Sprint(created["authorId"]), "prn_") {
			t.Errorf("author %v, authorId %v; want the given name and the creating principal", created["author"], created["authorId"])
		}
		r := ghost.do("POST", path("/api/v1/articles/%s/verifications", created["id"].(string)), record("passed", "Linux"))
		if r.status != http.StatusForbidden || !strings.Contains(string(r.body), "wrote this article") {
			t.Errorf("the creator's record: %d %s", r.status, r.body)
		}
		// The creator cannot be rewritten either.
		patch := ghost.do("PATCH", path("/api/v1/articles/%s", created["id"].(string)), map[string]any{"authorId": "prn_other"})
		if patch.status != http.StatusBadRequest {
			t.Errorf("PATCH authorId: %d %s; want 400", patch.status, patch.body)
		}
	})
	t.Run("no key, or a key without the scope", func(t *testing.T) {
		t.Parallel()
		if r := anon.do("POST", path("/api/v1/articles/%s/verifications", id), record("passed", "Linux")); r.status != http.StatusUnauthorized {
			t.Errorf("anonymous: %d %s", r.status, r.body)
		}
		_, writer := createKey(t, admin, map[string]any{"name": "writer", "scopes": []string{auth.ScopeArticlesWrite}})
		if r := newClient(t, s, writer).do("POST", path("/api/v1/articles/%s/verifications", id), record("passed", "Linux")); r.status != http.StatusForbidden ||
			!strings.Contains(string(r.body), "verifications:write") {
			t.Errorf("without the scope: %d %s", r.status, r.body)
		}
	})
	t.Run("bad input", func(t *testing.T) {
		t.Parallel()
		for _, body := range []map[string]any{{"result": "worked"}, {"result": "passed", "notes": strings.Repeat("x", 5000)}} {
			if r := goumang.do("POST", path("/api/v1/articles/%s/verifications", id), body); r.status != http.StatusBadRequest {
				t.Errorf("%v: %d %s", body, r.status, r.body)
			}
		}
		if r := goumang.do("POST", "/api/v1/articles/art_missing/verifications", record("passed", "Linux")); r.status != http.StatusNotFound {
			t.Errorf("unknown article: %d %s", r.status, r.body)
		}
	})
	// The subtests above only make refused calls: the counts below hold
	// whenever they run.
	must(t, goumang.do("POST", path("/api/v1/articles/%s/verifications", id), record("passed", "macOS")), http.StatusCreated)
	must(t, linter.do("POST", path("/api/v1/articles/%s/verifications", id), record("partial", "Windows")), http.StatusCreated)

	got := must(t, anon.do("GET", path("/api/v1/articles/%s", slug), nil), http.StatusOK).json(t)
	if got["verificationStatus"] != "partial" || got["confidenceScore"] != float64(91) || got["verificationCount"] != float64(3) {
		t.Errorf("article shows %v %v with %v records; want the seed page's partial 91 with 3", got["verificationStatus"], got["confidenceScore"], got["verificationCount"])
	}
	list := must(t, anon.do("GET", path("/api/v1/articles/%s/verifications", slug), nil), http.StatusOK).json(t)["records"].([]any)
	if len(list) != 3 || list[0].(map[string]any)["result"] != "partial" || list[2].(map[string]any)["verifier"].(map[string]any)["name"] != "Claude Agent Verifier" {
		t.Errorf("records newest first: %v", list)
	}
	if md := string(must(t, anon.do("GET", path("/api/v1/articles/%s?format=markdown", slug), nil), http.StatusOK).body); !strings.Contains(md, "linter") || !strings.Contains(md, "partial") {
		t.Errorf("the markdown page does not show the partial record:\n%s", md)
	}

	verifiers := must(t, anon.do("GET", "/api/v1/verifiers", nil), http.StatusOK).json(t)["verifiers"].([]any)
	names := map[string]map[string]any{}
	for _, v := range verifiers {
		m := v.(map[string]any)
		names[m["name"].(string)] = m
	}
	for _, n := range []string{"Claude Agent Verifier", "goumang", "linter", "Inspection Bot", "Sandbox Runner"} {
		if names[n] == nil {
			t.Errorf("verifier %q not listed: %v", n, verifiers)
		}
	}
	if c := names["linter"]; c["partialCount"] != float64(1) || c["level"] == nil || c["reputation"] == nil {
		t.Errorf("linter %v", c)
	}
	st := must(t, anon.do("GET", "/api/v1/stats", nil), http.StatusOK).json(t)
	if st["verificationRecords"] != float64(3) || st["verificationPassRate"].(float64) < 0.66 || st["verificationPassRate"].(float64) > 0.67 {
		t.Errorf("stats %v", st)
	}
}

// TestVerificationRecordsOverGRPC: two fresh passes give 98; a verifier id
// smuggled in as an unknown field is ignored, never used.
func TestVerificationRecordsOverGRPC(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{})
	admin := newClient(t, s, testAdminKey)
	pub := article("Records over gRPC")
	pub["status"] = "published"
	id := must(t, admin.do("POST", "/api/v1/articles", pub), http.StatusCreated).json(t)["id"].(string)
	for _, name := range []string{"first", "second"} {
		_, key := createKey(t, admin, map[string]any{"name": name, "scopes": []string{auth.ScopeVerificationsWrite}})
		c := verificationv1.NewVerificationServiceClient(grpcConn(t, s.VerificationAddr, key))
		req := &verificationv1.CreateVerificationRecordRequest{ArticleId: id, Result: "passed", Environment: &verificationv1.Environment{Os: "Linux"}}
		// Field 99, as a client of a made-up "verifier_id" would send it.
		req.ProtoReflect().SetUnknown(protowire.AppendString(protowire.AppendTag(nil, 99, protowire.BytesType), "prn_admin"))
		rec, err := c.CreateVerificationRecord(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		if rec.GetVerifier().GetName() != name || rec.GetVerifier().GetId() == "prn_admin" {
			t.Errorf("verifier %v; want the caller %q", rec.GetVerifier(), name)
		}
	}
	got := must(t, newClient(t, s, "").do("GET", path("/api/v1/articles/%s", id), nil), http.StatusOK).json(t)
	if got["verificationStatus"] != "verified" || got["confidenceScore"] != float64(98) {
		t.Errorf("two fresh passes by two verifiers: %v %v; want verified 98", got["verificationStatus"], got["confidenceScore"])
	}
	// The internal write is out of reach of outside keys (the feed test
	// walks every internal RPC); the record RPC needs its scope over gRPC too.
	anon := verificationv1.NewVerificationServiceClient(grpcConn(t, s.VerificationAddr, ""))
	if _, err := anon.CreateVerificationRecord(metadata.NewOutgoingContext(t.Context(), nil), &verificationv1.CreateVerificationRecordRequest{ArticleId: id, Result: "passed"}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("anonymous record over gRPC: %v", err)
	}
}

// TestWriteBackReachesSearchRanking: of two equal published articles, the
// one that gets verified ranks first, because the write-back is a revision
// the search service indexes. It needs the search service (issue 7).
func TestWriteBackReachesSearchRanking(t *testing.T) {
	t.Parallel()
	s := startStack(t, options{})
	admin, anon := newClient(t, s, testAdminKey), newClient(t, s, "")
	if r := anon.do("GET", "/api/v1/search?q=x", nil); r.status == http.StatusNotImplemented {
		t.Skip("the search service answers 501 on this branch; this test runs once search is merged")
	}
	ids := map[string]string{}
	for _, title := range []string{"Zebra crossing flux capacitor alpha", "Zebra crossing flux capacitor beta"} {
		a := article(title)
		a["status"] = "published"
		a["content"] = map[string]any{"en": "## Fix\n\nRecalibrate the zebra crossing flux capacitor.", "zh": "## 解决\n\n重新校准。"}
		ids[title] = must(t, admin.do("POST", "/api/v1/articles", a), http.StatusCreated).json(t)["id"].(string)
	}
	verified := ids["Zebra crossing flux capacitor beta"]
	verifier := verifierKey(t, s, admin, "ranker")
	must(t, verifier.do("POST", path("/api/v1/articles/%s/verifications", verified), record("passed", "Linux")), http.StatusCreated)
	deadline := time.Now().Add(20 * time.Second)
	for {
		items, _ := must(t, anon.do("GET", "/api/v1/search?q=zebra+crossing+flux+capacitor", nil), http.StatusOK).json(t)["items"].([]any)
		if len(items) >= 2 {
			first := items[0].(map[string]any)
			if first["id"] == verified && first["verificationStatus"] == "verified" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the verified article never ranked first: %v", items)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
