package sandbox

import "testing"

// TestGo runs a Go program with the toolchain, when the runner has one; the
// build counts towards the block's time, so Go blocks get at least 60 s.
func TestGo(t *testing.T) {
	t.Parallel()
	r := runner(t)
	if r.rts["go"] == nil {
		t.Skipf("no go toolchain on this machine: %s", r.missing["go"])
	}
	if testing.Short() {
		t.Skip("building with the Go toolchain takes a while; not in -short")
	}
	o := run1(t, r, Block{Language: "go", Code: "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello from go\") }\n", Expected: "hello from go"}, DefaultLimits())
	if o.Outcome != OutcomePassed {
		t.Fatalf("go: %s (%s)", o.Outcome, o.Reason)
	}
}
