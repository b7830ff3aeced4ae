package stack

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"buzhou.dev/platform/logging"
	"buzhou.dev/platform/metrics"
	verificationapp "buzhou.dev/verification/app"
)

// TestMain lets this test binary be the sandbox's init helper: the stacks'
// in-process runner re-executes it inside every sandbox.
// sandboxStack starts a stack whose verification service runs code blocks in
// process, with concurrency runs at once and queue more waiting.
func sandboxStack(t *testing.T, concurrency, queue int, seed bool) *Stack {
	t.Helper()
	return startStack(t, options{seed: seed, verification: func(c *verificationapp.Config) {
		c.Sandbox = true
		c.SandboxQueue = queue
		c.SandboxMaxTimeout = 60 * time.Second
		c.SandboxRunner = verificationapp.RunnerConfig{Concurrency: concurrency, Timeout: 10 * time.Second, CPU: 10 * time.Second, MemoryMiB: 512, Processes: 64}
	}})
}

// postRun posts a sandbox run and skips the test when this machine cannot
// isolate code (the answer says so, and nothing ran).
func postRun(t *testing.T, c *client, id string, body any) response {
	t.Helper()
	r := c.do("POST", "/api/v1/articles/"+id+"/sandbox-runs", body)
	if r.status == http.StatusConflict && strings.Contains(string(r.body), "cannot isolate") {
		t.Skipf("no namespaces here, so the sandbox refuses to run (as it must): %s", r.body)
	}
	return r
}

func publishedWithCode(t *testing.T, admin *client, title string, blocks ...map[string]any) string {
	t.Helper()
	a := article(title)
	a["codeBlocks"] = blocks
	a["status"] = "published"
	return must(t, admin.do("POST", "/api/v1/articles", a), http.StatusCreated).json(t)["id"].(string)
}

func TestSandboxRunsOverREST(t *testing.T) {
	t.Parallel()
	s := sandboxStack(t, 2, 4, false)
	admin := newClient(t, s, testAdminKey)
	_, runner := createKey(t, admin, map[string]any{"name": "sandbox runner", "scopes": []string{"inspections:run"}})
	_, verifier := createKey(t, admin, map[string]any{"name": "verifier", "scopes": []string{"verifications:write"}})
	id := publishedWithCode(t, admin, "Sandbox runs over REST",
		map[string]any{"language": "python", "code": "import sys\nprint('sum', sum(range(10)))\nprint(sys.version_info[0])", "runnable": true, "expectedOutput": "sum 45\n3"},
		map[string]any{"language": "bash", "code": "echo not run", "runnable": false},
		map[string]any{"language": "bash", "code": "echo \"from $(id -u) on $(hostname)\"", "runnable": true},
		map[string]any{"language": "rust", "code": "fn main() {}", "runnable": true},
	)

	c := newClient(t, s, runner)
	run := must(t, postRun(t, c, id, map[string]any{}), http.StatusCreated).json(t)
	if run["result"] != "partial" || run["articleId"] != id || !strings.HasPrefix(run["id"].(string), "sbx_") {
		t.Fatalf("run: %v", run)
	}
	blocks := run["blocks"].([]any)
	if len(blocks) != 3 {
		t.Fatalf("blocks: %v", blocks)
	}
	want := []struct {
		index   float64
		outcome string
		stdout  string
	}{{0, "passed", "sum 45"}, {2, "passed", "from 1000 on sandbox"}, {3, "skipped", ""}}
	for i, w := range want {
		b := blocks[i].(map[string]any)
		if b["index"] != w.index && !(w.index == 0 && b["index"] == nil) || b["outcome"] != w.outcome || !strings.Contains(fmt.Sprint(b["stdout"]), w.stdout) {
			t.Errorf("block %d: %v; want index %v %s printing %q", i, b, w.index, w.outcome, w.stdout)
		}
		if w.outcome == "passed" && len(fmt.Sprint(b["outputSha256"])) != 64 {
			t.Errorf("block %d has no output hash: %v", i, b)
		}
		// A number, as API.md shows it, not protojson's string of an int64.
		if d, ok := b["durationMs"].(float64); w.outcome == "passed" && (!ok || d <= 0) {
			t.Errorf("block %d durationMs %#v; want a positive JSON number", i, b["durationMs"])
		}
	}
	if r := blocks[2].(map[string]any)["reason"]; !strings.Contains(fmt.Sprint(r), "rust") {
		t.Errorf("skipped block's reason: %v", r)
	}
	rec := run["record"].(map[string]any)
	env := rec["environment"].(map[string]any)
	if rec["verifier"].(map[string]any)["id"] != "prn_bot_sandbox" || rec["result"] != "partial" ||
		!strings.Contains(fmt.Sprint(env["runtime"]), "Python") || env["runtimeVersion"] == "" || env["os"] == "" {
		t.Fatalf("record: %v", rec)
	}

	// The record is in the article's timeline, and the run in its list.
	recs := must(t, newClient(t, s, "").do("GET", "/api/v1/articles/"+id+"/verifications", nil), http.StatusOK).json(t)["records"].([]any)
	if len(recs) != 1 || recs[0].(map[string]any)["id"] != rec["id"] {
		t.Fatalf("timeline: %v", recs)
	}
	a := must(t, newClient(t, s, "").do("GET", "/api/v1/articles/"+id, nil), http.StatusOK).json(t)
	if a["verificationStatus"] != "partial" {
		t.Errorf("article status %v after a partial sandbox run", a["verificationStatus"])
	}

	// A wrong expectedOutput fails; only the named block runs.
	id2 := publishedWithCode(t, admin, "Sandbox expected output mismatch",
		map[string]any{"language": "bash", "code": "echo 41", "runnable": true, "expectedOutput": "42"},
		map[string]any{"language": "bash", "code": "echo fine", "runnable": true})
	failed := must(t, postRun(t, c, id2, map[string]any{"blocks": []int{0}, "timeoutSeconds": 5}), http.StatusCreated).json(t)
	if failed["result"] != "failed" || len(failed["blocks"].([]any)) != 1 || !strings.Contains(fmt.Sprint(failed["blocks"].([]any)[0].(map[string]any)["reason"]), "expectedOutput") {
		t.Fatalf("mismatch run: %v", failed)
	}
	must(t, postRun(t, c, id2, map[string]any{"blocks": []int{1}}), http.StatusCreated)
	list := must(t, newClient(t, s, "").do("GET", "/api/v1/articles/"+id2+"/sandbox-runs", nil), http.StatusOK).json(t)["runs"].([]any)
	if len(list) != 2 || list[0].(map[string]any)["result"] != "passed" || list[1].(map[string]any)["id"] != failed["id"] {
		t.Fatalf("runs newest first: %v", list)
	}
	if list[1].(map[string]any)["record"].(map[string]any)["result"] != "failed" {
		t.Errorf("a listed run carries its record: %v", list[1])
	}

	// Refusals: scope, key, bad bodies, nothing runnable.
	for _, tc := range []struct {
		name   string
		key    string
		id     string
		body   any
		status int
		says   string
	}{
		{"no key", "", id, nil, http.StatusUnauthorized, "inspections:run"},
		{"wrong scope", verifier, id, nil, http.StatusForbidden, `lacks scope \"inspections:run\"`},
		{"timeout over the maximum", runner, id, map[string]any{"timeoutSeconds": 3600}, http.StatusBadRequest, "1 to 60 seconds"},
		{"a block that does not exist", runner, id, map[string]any{"blocks": []int{9}}, http.StatusBadRequest, "no block 9"},
		{"a block that is not runnable", runner, id, map[string]any{"blocks": []int{1}}, http.StatusBadRequest, "not marked runnable"},
		{"a block twice", runner, id, map[string]any{"blocks": []int{0, 0}}, http.StatusBadRequest, "twice"},
		{"an unknown field", runner, id, map[string]any{"verifier": "me"}, http.StatusBadRequest, "verifier"},
		{"no such article", runner, "art_nope", nil, http.StatusNotFound, "art_nope"},
	} {
		r := newClient(t, s, tc.key).do("POST", "/api/v1/articles/"+tc.id+"/sandbox-runs", tc.body)
		if r.status != tc.status || !strings.Contains(string(r.body), tc.says) {
			t.Errorf("%s: %d %s; want %d saying %s", tc.name, r.status, r.body, tc.status, tc.says)
		}
	}
	plain := publishedWithCode(t, admin, "Sandbox nothing runnable", map[string]any{"language": "bash", "code": "echo hi"})
	r := c.do("POST", "/api/v1/articles/"+plain+"/sandbox-runs", nil)
	if r.status != http.StatusConflict || !strings.Contains(string(r.body), "no code block marked runnable") {
		t.Errorf("no runnable block: %d %s", r.status, r.body)
	}
	if recs := must(t, c.do("GET", "/api/v1/articles/"+plain+"/verifications", nil), http.StatusOK).json(t)["records"]; len(recs.([]any)) != 0 {
		t.Errorf("an article without runnable code got records: %v", recs)
	}
}

// TestSandboxContainsHostileCode: a fork bomb, a memory hog and a network
// attempt fail inside the sandbox, and the service answers as before.
func TestSandboxContainsHostileCode(t *testing.T) {
	t.Parallel()
	s := sandboxStack(t, 2, 4, false)
	admin := newClient(t, s, testAdminKey)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	var (
		mu       sync.Mutex
		accepted int
	)
	go func() {
		for {
			conn, err := lis.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			accepted++
			mu.Unlock()
			conn.Close()
		}
	}()
	port := lis.Addr().(*net.TCPAddr).Port
	id := publishedWithCode(t, admin, "Sandbox hostile code",
		map[string]any{"language": "bash", "code": "f(){ f | f & }; f; sleep 20", "runnable": true},
		map[string]any{"language": "python", "code": "x = bytearray(3 << 30)\nprint('allocated')", "runnable": true},
		map[string]any{"language": "python", "code": "import socket\nsocket.create_connection(('127.0.0.1', " + strconv.Itoa(port) + "), timeout=2)\nprint('connected')", "runnable": true},
		map[string]any{"language": "bash", "code": "cat /etc/shadow", "runnable": true},
		// Output no JSON or PostgreSQL text takes as it is: invalid UTF-8, NUL, escapes.
		map[string]any{"language": "bash", "code": "printf 'a\\xff\\xfe\\x00b\\x1b[31m' | tee /dev/stderr; exit 3", "runnable": true},
	)
	run := must(t, postRun(t, admin, id, map[string]any{"timeoutSeconds": 3}), http.StatusCreated).json(t)
	if run["result"] != "failed" || len(run["blocks"].([]any)) != 5 {
		t.Fatalf("run: %v", run)
	}
	if b := run["blocks"].([]any)[4].(map[string]any); b["exitCode"] != float64(3) || !strings.HasPrefix(fmt.Sprint(b["stdout"]), "a\uFFFD") {
		t.Errorf("the block printing bytes: %v", b)
	}
	if recs := must(t, admin.do("GET", "/api/v1/articles/"+id+"/sandbox-runs", nil), http.StatusOK).json(t)["runs"].([]any); len(recs) != 1 {
		t.Errorf("runs: %v", recs)
	}
	for i, b := range run["blocks"].([]any) {
		b := b.(map[string]any)
		if b["outcome"] == "passed" || strings.Contains(fmt.Sprint(b["stdout"]), "allocated") || strings.Contains(fmt.Sprint(b["stdout"]), "connected") {
			t.Errorf("block %d was not contained: %v", i, b)
		}
	}
	mu.Lock()
	if accepted != 0 {
		t.Errorf("the host's loopback listener saw %d connections from the sandbox", accepted)
	}
	mu.Unlock()
	waitReady(t, s)
	ok := publishedWithCode(t, admin, "Sandbox after hostile code", map[string]any{"language": "sh", "code": "echo still here", "runnable": true, "expectedOutput": "still here"})
	if r := must(t, postRun(t, admin, ok, nil), http.StatusCreated).json(t); r["result"] != "passed" {
		t.Fatalf("a run after the hostile one: %v", r)
	}
}

// TestSandboxQueueFull: with one run at a time and one waiting, further runs
// are refused at once with 429 and Retry-After, and those admitted finish.
func TestSandboxQueueFull(t *testing.T) {
	t.Parallel()
	s := sandboxStack(t, 1, 1, false)
	admin := newClient(t, s, testAdminKey)
	id := publishedWithCode(t, admin, "Sandbox queue", map[string]any{"language": "bash", "code": "sleep 2; echo done", "runnable": true})
	if r := postRun(t, admin, publishedWithCode(t, admin, "Sandbox queue probe", map[string]any{"language": "sh", "code": "true", "runnable": true}), nil); r.status != http.StatusCreated {
		t.Fatalf("probe run: %d %s", r.status, r.body)
	}
	var wg sync.WaitGroup
	results := make([]response, 2)
	for i := range results {
		wg.Go(func() { results[i] = admin.do("POST", "/api/v1/articles/"+id+"/sandbox-runs", nil) })
		time.Sleep(300 * time.Millisecond) // the first runs, the second waits
	}
	refused := admin.do("POST", "/api/v1/articles/"+id+"/sandbox-runs", nil)
	wg.Wait()
	if refused.status != http.StatusTooManyRequests || !strings.Contains(string(refused.body), "RESOURCE_EXHAUSTED") || !strings.Contains(string(refused.body), "queue is full") {
		t.Fatalf("third run: %d %s; want 429", refused.status, refused.body)
	}
	if ra, err := strconv.Atoi(refused.header.Get("Retry-After")); err != nil || ra < 1 {
		t.Fatalf("Retry-After %q", refused.header.Get("Retry-After"))
	}
	for i, r := range results {
		if r.status != http.StatusCreated {
			t.Errorf("admitted run %d: %d %s", i, r.status, r.body)
		}
	}
}

// TestSandboxRunsTheDemoArticles: the demo site's runnable blocks are
// written to run offline, and they do.
func TestSandboxRunsTheDemoArticles(t *testing.T) {
	t.Parallel()
	s := sandboxStack(t, 2, 16, true)
	admin := newClient(t, s, testAdminKey)
	list := must(t, admin.do("GET", "/api/v1/articles?pageSize=100", nil), http.StatusOK).json(t)["articles"].([]any)
	ran := 0
	for _, a := range list {
		a := a.(map[string]any)
		hasRunnable := false
		for _, b := range a["codeBlocks"].([]any) {
			if b.(map[string]any)["runnable"] == true {
				hasRunnable = true
			}
		}
		if !hasRunnable {
			continue
		}
		run := must(t, postRun(t, admin, a["id"].(string), nil), http.StatusCreated).json(t)
		ran++
		if run["result"] != "passed" {
			t.Errorf("%s: %v", a["slug"], run)
		}
	}
	if ran < 3 {
		t.Fatalf("ran %d demo articles", ran)
	}
}

// sandboxAddr starts a standalone sandbox runner for s, taking the
// verification service's key, and returns its address.
func sandboxAddr(t *testing.T, s *Stack) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- verificationapp.RunSandbox(ctx, verificationapp.SandboxConfig{CallerKey: s.ServiceKeys["verification"], FailedAuthPerMinute: 1000,
			Runner: verificationapp.RunnerConfig{Concurrency: 1}}, lis, logging.New(os.Stderr, "error", false), metrics.NewRegistry())
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return lis.Addr().String()
}
