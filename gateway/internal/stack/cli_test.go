package stack

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"buzhou.dev/gateway/internal/stack/stacktest"
)

// cliFor returns a runner of buzhou client commands against s with the admin
// key; it answers stdout, stderr and the error.
func cliFor(s *Stack) func(args ...string) (string, string, error) {
	env := map[string]string{"BUZHOU_URL": "http://" + gatewayAddr(s), "BUZHOU_API_KEY": testAdminKey}
	return func(args ...string) (string, string, error) {
		r := stacktest.RunCLI(env, "", args...)
		return r.Stdout, r.Stderr, r.Err
	}
}

// TestCLIAgainstRealServer drives get, import and export against a running stack.
func TestCLIAgainstRealServer(t *testing.T) {
	t.Parallel()
	run := cliFor(startStack(t, options{}))
	dir := t.TempDir()
	var lines []string
	for _, title := range []string{"CLI import one", "CLI import two"} {
		raw, _ := json.Marshal(article(title))
		lines = append(lines, string(raw))
	}
	bad := article("CLI import bad")
	bad["domain"] = "nowhere"
	raw, _ := json.Marshal(bad)
	lines = append(lines, string(raw), "{broken json")
	in := filepath.Join(dir, "in.jsonl")
	if err := os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	out, _, err := run("import", in, "--publish")
	if err == nil {
		t.Errorf("import with failed lines should return an error")
	}
	if !strings.Contains(out, "imported 2") || !strings.Contains(out, "failed 2") || !strings.Contains(out, "line 3") || !strings.Contains(out, "INVALID_ARGUMENT") {
		t.Errorf("import summary:\n%s", out)
	}

	exported := filepath.Join(dir, "out.jsonl")
	if _, stderr, err := run("export", "-o", exported); err != nil {
		t.Fatalf("export: %v %s", err, stderr)
	}
	data, err := os.ReadFile(exported)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(strings.TrimSpace(string(data)), "\n") + 1; n != 2 {
		t.Errorf("exported %d lines, want 2:\n%s", n, data)
	}

	md, _, err := run("get", "cli-import-one", "--lang", "zh")
	if err != nil || !strings.Contains(md, "中文标题 CLI import one") {
		t.Errorf("get: %v\n%s", err, md)
	}
	if _, _, err := run("get", "no-such-article"); err == nil || !strings.Contains(err.Error(), "NOT_FOUND") {
		t.Errorf("get missing: %v", err)
	}
}
