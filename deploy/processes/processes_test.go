package processes

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"buzhou.dev/platform/sqldb/sqldbtest"
)

// binaries are the commands the chart runs, by part.
var binaries = map[string]string{
	"gateway":      "buzhou.dev/gateway/cmd/gateway",
	"article":      "buzhou.dev/article/cmd/article",
	"search":       "buzhou.dev/search/cmd/search",
	"verification": "buzhou.dev/verification/cmd/verification",
	"sandbox":      "buzhou.dev/verification/cmd/sandbox",
}

// build compiles the binaries into a temporary directory, with the race
// detector when the test has it; pkgs defaults to the chart's four.
func build(t *testing.T, pkgs ...string) string {
	t.Helper()
	dir := t.TempDir()
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	if raceEnabled {
		args = append(args, "-race")
	}
	if len(pkgs) == 0 {
		for _, pkg := range binaries {
			pkgs = append(pkgs, pkg)
		}
	}
	args = append(args, pkgs...)
	cmd := exec.Command("go", args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return dir
}

// freeAddr is a loopback address nothing listens on (yet).
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func newKey(t *testing.T) string {
	t.Helper()
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "bzs_" + hex.EncodeToString(b)
}

// logs collects a process's output, safe for the writing goroutines.
type logs struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logs) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logs) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// process is one binary, run (and run again after a kill) with the same
// arguments and environment; its output over every run goes to out.
type process struct {
	name string
	path string
	args []string
	env  []string
	out  *logs

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when the current run has exited
}

// newProcess starts a process and stops it at the test's end, when it also
// shows its output if the test failed and fails the test if it raced.
func newProcess(t *testing.T, name, path string, env []string, args ...string) *process {
	t.Helper()
	p := &process{name: name, path: path, args: args, env: env, out: &logs{}}
	p.start(t)
	t.Cleanup(func() {
		p.kill(t)
		if t.Failed() {
			t.Logf("%s's output:\n%s", name, p.out)
		}
		if strings.Contains(p.out.String(), "WARNING: DATA RACE") {
			t.Errorf("%s reported a data race:\n%s", name, p.out)
		}
	})
	return p
}

// start runs the process (again).
func (p *process) start(t *testing.T) {
	t.Helper()
	cmd := exec.Command(p.path, p.args...)
	// Only what the chart would set: nothing of the test's environment.
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.mu.Unlock()
}

// kill sends SIGKILL — no drain, no deferred closes, the crash — and waits
// for the process to be gone.
func (p *process) kill(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	_ = cmd.Process.Kill()
	<-done
}

func (p *process) signal(sig os.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd.Process.Signal(sig)
}

// exited says how the current run ended, "" while it runs.
func (p *process) exited() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.done:
		return p.cmd.ProcessState.String()
	default:
		return ""
	}
}

// cluster is Buzhou as the chart runs it: five processes (the sandbox runner
// included) that reach each other only by address.
type cluster struct {
	procs    map[string]*process
	http     string            // the gateway
	metrics  map[string]string // each service's BUZHOU_METRICS_ADDR
	adminKey string
}

// start runs every part with the environment the chart gives it, and the
// extra variables (which come last, so they win).
func start(t *testing.T, bin, dbURL string, extra ...string) *cluster {
	t.Helper()
	c := &cluster{procs: map[string]*process{}, http: freeAddr(t), metrics: map[string]string{}, adminKey: newKey(t)}
	addr := map[string]string{"article": freeAddr(t), "search": freeAddr(t), "verification": freeAddr(t), "sandbox": freeAddr(t)}
	keys := map[string]string{}
	for part := range binaries {
		keys[part] = newKey(t)
	}
	common := []string{
		"BUZHOU_ARTICLE_ADDR=" + addr["article"], "BUZHOU_SEARCH_ADDR=" + addr["search"], "BUZHOU_VERIFICATION_ADDR=" + addr["verification"],
		"BUZHOU_SANDBOX_ADDR=" + addr["sandbox"], "DATABASE_URL=" + dbURL, "BUZHOU_LOG_JSON=true", "BUZHOU_SEED_DEMO=false",
		// A long drain, so that the test can look at a stopping part; the
		// test kills every process at its end.
		"BUZHOU_SHUTDOWN_DRAIN=1h",
	}
	common = append(common, extra...)
	envs := map[string][]string{
		"gateway": {"BUZHOU_HTTP_ADDR=" + c.http, "BUZHOU_GATEWAY_SERVICE_KEY=" + keys["gateway"]},
		"article": {"BUZHOU_ARTICLE_SERVICE_KEY=" + keys["article"]},
		"search":  {"BUZHOU_SEARCH_SERVICE_KEY=" + keys["search"]},
		"verification": {"BUZHOU_ADMIN_KEY=" + c.adminKey,
			"BUZHOU_GATEWAY_SERVICE_KEY=" + keys["gateway"], "BUZHOU_ARTICLE_SERVICE_KEY=" + keys["article"],
			"BUZHOU_SEARCH_SERVICE_KEY=" + keys["search"], "BUZHOU_VERIFICATION_SERVICE_KEY=" + keys["verification"]},
		// The runner takes calls with the verification service's key only.
		"sandbox": {"BUZHOU_VERIFICATION_SERVICE_KEY=" + keys["verification"]},
	}
	for part := range binaries {
		env := append(append(append([]string(nil), common...), envs[part]...), "BUZHOU_DATA_DIR="+t.TempDir())
		if part != "gateway" {
			c.metrics[part] = freeAddr(t)
			env = append(env, "BUZHOU_METRICS_ADDR="+c.metrics[part])
		}
		c.procs[part] = newProcess(t, part, filepath.Join(bin, part), env)
	}
	return c
}

// exited fails the test when a part has stopped.
func (c *cluster) exited(t *testing.T) {
	t.Helper()
	for _, p := range c.procs {
		if how := p.exited(); how != "" {
			t.Fatalf("%s exited (%s):\n%s", p.name, how, p.out)
		}
	}
}

type answer struct {
	status int
	body   []byte
}

func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(a.body, &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, a.body)
	}
	return m
}

func (c *cluster) call(t *testing.T, method, path, key string, body any) answer {
	t.Helper()
	return call(t, method, "http://"+c.http+path, key, body)
}

func call(t *testing.T, method, url, key string, body any) answer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return answer{status: 0, body: []byte(err.Error())}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, body: b}
}

// eventually polls check until it reports done, within a generous bound:
// the parts start and follow each other at their own pace on a busy machine.
func (c *cluster) eventually(t *testing.T, what string, check func() (done bool, last string)) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	var last string
	for time.Now().Before(deadline) {
		c.exited(t)
		var done bool
		if done, last = check(); done {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: never happened; last: %s", what, last)
}

// readyz asks the gateway whether Buzhou is ready.
func (c *cluster) readyz(t *testing.T) answer { return c.call(t, "GET", "/readyz", "", nil) }

// TestSeparateProcesses runs the binaries as the chart does — each its
// own process, on loopback, on PostgreSQL, finding the others by address —
// and drives a write, a search, a verification and a sandbox run through
// the gateway.
func TestSeparateProcesses(t *testing.T) {
	dbURL := sqldbtest.FreshSchema(t)
	c := start(t, build(t), dbURL)
	c.eventually(t, "GET /readyz answers 200", func() (bool, string) {
		a := c.readyz(t)
		return a.status == http.StatusOK, fmt.Sprintf("%d %s", a.status, a.body)
	})

	word := "processes" + hex.EncodeToString([]byte(time.Now().Format("150405")))
	created := c.call(t, "POST", "/api/v1/articles", c.adminKey, map[string]any{
		"title":   map[string]any{"en": "Running Buzhou as separate processes " + word},
		"summary": map[string]any{"en": "Each part is its own binary."},
		"content": map[string]any{"en": "## Fix\n\nStart each binary with its own address: " + word + "."},
		"domain":  "foundation", "tags": []string{"deploy"}, "status": "published",
	})
	if created.status != http.StatusCreated {
		t.Fatalf("create: %d %s", created.status, created.body)
	}
	art := created.json(t)
	id, slug := art["id"].(string), art["slug"].(string)

	t.Run("read back", func(t *testing.T) {
		got := c.call(t, "GET", "/api/v1/articles/"+slug, "", nil)
		if got.status != http.StatusOK || got.json(t)["id"] != id {
			t.Errorf("GET %s: %d %s", slug, got.status, got.body)
		}
	})

	t.Run("search", func(t *testing.T) {
		c.eventually(t, "the search service finds the new article", func() (bool, string) {
			a := c.call(t, "GET", "/api/v1/search?q="+word, "", nil)
			return a.status == http.StatusOK && bytes.Contains(a.body, []byte(`"`+slug+`"`)), fmt.Sprintf("%d %.300s", a.status, a.body)
		})
	})

	t.Run("verification", func(t *testing.T) {
		// The verifier is another principal than the author (the admin key).
		minted := c.call(t, "POST", "/api/v1/keys", c.adminKey, map[string]any{"name": "processes verifier", "scopes": []string{"verifications:write"}})
		if minted.status != http.StatusCreated {
			t.Fatalf("mint a key: %d %s", minted.status, minted.body)
		}
		key := minted.json(t)["key"].(string)
		rec := c.call(t, "POST", "/api/v1/articles/"+id+"/verifications", key, map[string]any{
			"result": "passed", "notes": "started every binary on its own",
			"environment": map[string]any{"os": "linux", "runtime": "go", "runtimeVersion": "1.26"},
		})
		if rec.status != http.StatusCreated {
			t.Fatalf("record a verification: %d %s", rec.status, rec.body)
		}
		list := c.call(t, "GET", "/api/v1/articles/"+slug+"/verifications", "", nil)
		if list.status != http.StatusOK || !bytes.Contains(list.body, []byte(`"passed"`)) {
			t.Errorf("records: %d %s", list.status, list.body)
		}
	})

	t.Run("sandbox run", func(t *testing.T) {
		code := c.call(t, "POST", "/api/v1/articles", c.adminKey, map[string]any{
			"title":   map[string]any{"en": "A runnable block in separate processes " + word},
			"summary": map[string]any{"en": "The sandbox runner runs it."},
			"content": map[string]any{"en": "## Fix\n\nRun the block."},
			"domain":  "foundation", "status": "published",
			"codeBlocks": []map[string]any{{"language": "python", "code": "print(6 * 7)", "runnable": true, "expectedOutput": "42"}},
		})
		if code.status != http.StatusCreated {
			t.Fatalf("create: %d %s", code.status, code.body)
		}
		run := c.call(t, "POST", "/api/v1/articles/"+code.json(t)["id"].(string)+"/sandbox-runs", c.adminKey, map[string]any{})
		if run.status == http.StatusConflict && bytes.Contains(run.body, []byte("cannot isolate")) {
			t.Skipf("no namespaces here, so the runner refuses (as it must): %s", run.body)
		}
		if run.status != http.StatusCreated || run.json(t)["result"] != "passed" {
			t.Fatalf("sandbox run through the runner process: %d %s", run.status, run.body)
		}
	})

	t.Run("metrics on every part", func(t *testing.T) {
		for part, addr := range c.metrics {
			a := call(t, "GET", "http://"+addr+"/metrics", "", nil)
			if a.status != http.StatusOK || !bytes.Contains(a.body, []byte(`buzhou_grpc_server_handled_total{`)) || !bytes.Contains(a.body, []byte(`service="`+part+`"`)) {
				t.Errorf("%s /metrics: %d %.300s", part, a.status, a.body)
			}
		}
		if a := c.call(t, "GET", "/metrics", "", nil); a.status != http.StatusOK || !bytes.Contains(a.body, []byte(`service="gateway"`)) {
			t.Errorf("gateway /metrics: %d %.300s", a.status, a.body)
		}
	})

	t.Run("JSON logs", func(t *testing.T) {
		for _, p := range c.procs {
			sc := bufio.NewScanner(strings.NewReader(p.out.String()))
			n := 0
			for sc.Scan() {
				var line struct {
					Level, Msg, Service string
				}
				if err := json.Unmarshal(sc.Bytes(), &line); err != nil || line.Level == "" || line.Msg == "" {
					t.Errorf("%s logged a line that is not structured JSON: %s", p.name, sc.Text())
				}
				n++
			}
			if n == 0 {
				t.Errorf("%s logged nothing", p.name)
			}
		}
	})

	// SIGTERM, as Kubernetes sends it: the part says it is not ready at
	// once, and serves on for the drain.
	t.Run("a stopping service drains", func(t *testing.T) {
		c.drains(t, "article", "the article service is shutting down", "/api/v1/articles/"+slug)
	})
	t.Run("a stopping gateway drains", func(t *testing.T) {
		c.drains(t, "gateway", "the gateway is shutting down", "/healthz", "/api/v1/articles/"+slug)
	})
}

// drains sends part SIGTERM and checks that /readyz says why it is not
// ready while every path of served still answers 200.
func (c *cluster) drains(t *testing.T, part, why string, served ...string) {
	t.Helper()
	if err := c.procs[part].signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	c.eventually(t, "/readyz says "+why, func() (bool, string) {
		a := c.readyz(t)
		return a.status == http.StatusServiceUnavailable && bytes.Contains(a.body, []byte(why)), fmt.Sprintf("%d %s", a.status, a.body)
	})
	for _, path := range served {
		if got := c.call(t, "GET", path, "", nil); got.status != http.StatusOK {
			t.Errorf("GET %s while the %s drains: %d %s", path, part, got.status, got.body)
		}
	}
}
