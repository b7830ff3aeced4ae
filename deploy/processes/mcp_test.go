package processes

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestMCPOverStdio runs `buzhou mcp` as a local MCP client would — a process
// of its own speaking JSON-RPC on stdin and stdout — against a running
// `buzhou serve`, and drives the protocol by hand: initialize, the tool
// list, a search and a resolve that reach the server's REST API.
func TestMCPOverStdio(t *testing.T) {
	bin := filepath.Join(build(t, "buzhou.dev/gateway/cmd/buzhou"), "buzhou")
	c := &cluster{procs: map[string]*process{}, http: freeAddr(t), adminKey: newKey(t)}
	c.procs["buzhou"] = newProcess(t, "buzhou", bin, []string{"BUZHOU_HTTP_ADDR=" + c.http, "BUZHOU_ADMIN_KEY=" + c.adminKey,
		"BUZHOU_DATA_DIR=" + t.TempDir(), "BUZHOU_SANDBOX=false", "BUZHOU_CHECK_LINKS=false"}, "serve")
	c.eventually(t, "GET /readyz answers 200", func() (bool, string) {
		a := c.readyz(t)
		return a.status == http.StatusOK, fmt.Sprintf("%d %s", a.status, a.body)
	})

	cmd := exec.Command(bin, "mcp", "--url", "http://"+c.http, "--key", c.adminKey)
	cmd.Env = []string{"HOME=" + t.TempDir()}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &logs{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("buzhou mcp's stderr:\n%s", stderr)
		}
	})

	lines := make(chan []byte)
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			lines <- slices.Clone(sc.Bytes())
		}
		close(lines)
	}()
	send := func(msg map[string]any) {
		t.Helper()
		msg["jsonrpc"] = "2.0"
		b, _ := json.Marshal(msg)
		if _, err := stdin.Write(append(b, '\n')); err != nil {
			t.Fatalf("write to buzhou mcp: %v", err)
		}
	}
	// call sends a request and returns its result, skipping notifications.
	call := func(id int, method string, params any) map[string]any {
		t.Helper()
		send(map[string]any{"id": id, "method": method, "params": params})
		deadline := time.After(60 * time.Second)
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					t.Fatalf("%s: buzhou mcp closed its output", method)
				}
				var m struct {
					ID     *int           `json:"id"`
					Result map[string]any `json:"result"`
					Error  any            `json:"error"`
				}
				if err := json.Unmarshal(line, &m); err != nil {
					t.Fatalf("%s: not JSON-RPC on stdout: %q", method, line)
				}
				if m.ID == nil || *m.ID != id {
					continue
				}
				if m.Error != nil {
					t.Fatalf("%s: error %v", method, m.Error)
				}
				return m.Result
			case <-deadline:
				t.Fatalf("%s: no answer in 60 s", method)
			}
		}
	}

	hello := call(1, "initialize", map[string]any{"protocolVersion": "2025-06-18", "capabilities": map[string]any{},
		"clientInfo": map[string]any{"name": "processes-test", "version": "1"}})
	if info, _ := hello["serverInfo"].(map[string]any); info["name"] != "buzhou" {
		t.Fatalf("initialize: %v", hello)
	}
	send(map[string]any{"method": "notifications/initialized"})

	var names []string
	for _, tool := range call(2, "tools/list", map[string]any{})["tools"].([]any) {
		names = append(names, tool.(map[string]any)["name"].(string))
	}
	for _, want := range []string{"search", "resolve", "get_article", "related", "list_verifications", "submit_verification", "report_problem", "propose_article"} {
		if !slices.Contains(names, want) {
			t.Errorf("tools/list lacks %s: %v", want, names)
		}
	}

	text := func(res map[string]any) string {
		var b strings.Builder
		for _, c := range res["content"].([]any) {
			b.WriteString(fmt.Sprint(c.(map[string]any)["text"]))
		}
		return b.String()
	}
	// The demo articles are seeded; the search service indexes them by
	// the time the stack is ready.
	found := call(3, "tools/call", map[string]any{"name": "search", "arguments": map[string]any{"query": "401 403 API key"}})
	if found["isError"] == true || !strings.Contains(strings.ToLower(text(found)), "401") {
		t.Errorf("search: %v", found)
	}
	resolved := call(4, "tools/call", map[string]any{"name": "resolve", "arguments": map[string]any{"query": "my API key gets 401 Unauthorized"}})
	if resolved["isError"] == true || !strings.Contains(text(resolved), "401") {
		t.Errorf("resolve: %v", resolved)
	}

	// Its input closed, the server ends.
	_ = stdin.Close()
	select {
	case err := <-exited:
		exited <- err
		if err != nil {
			t.Errorf("buzhou mcp exited with %v after its input closed", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("buzhou mcp did not exit when its input closed")
	}
}
