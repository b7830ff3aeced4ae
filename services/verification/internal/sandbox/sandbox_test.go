package sandbox

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	Main()
	os.Exit(m.Run())
}

// runner returns a Runner, or skips the test when this kernel will not give
// the namespaces a sandbox needs.
func runner(t *testing.T) *Runner {
	t.Helper()
	r := New(context.Background(), Config{})
	_, err := r.Run(context.Background(), []Block{{Language: "sh", Code: "true"}}, DefaultLimits())
	if errors.Is(err, ErrIsolation) {
		t.Skipf("namespaces unavailable here, so the sandbox refuses to run (as it must): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func run1(t *testing.T, r *Runner, b Block, lim Limits) Outcome {
	t.Helper()
	out, err := r.Run(context.Background(), []Block{b}, lim)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	t.Logf("%s: outcome %s exit %d in %d ms, reason %q\nstdout: %.300s\nstderr: %.600s", b.Language, out[0].Outcome, out[0].ExitCode, out[0].DurationMs, out[0].Reason, out[0].Stdout, out[0].Stderr)
	return out[0]
}

func TestPassing(t *testing.T) {
	t.Parallel()
	r := runner(t)
	for _, tc := range []struct {
		name, lang, code, want string
	}{
		{"python", "python", "import sys\nprint('hello from', sys.version_info[0])", "hello from 3"},
		{"bash", "bash", "for i in 1 2 3; do echo -n $i; done; echo; id -u; hostname", "123\n1000\nsandbox"},
		{"sh", "sh", "echo $((6*7))", "42"},
		{"node", "javascript", "console.log([1,2,3].map(x => x*2).join(','))", "2,4,6"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if key, _ := languageKey(tc.lang); r.rts[key] == nil {
				t.Skipf("no %s on this machine: %s", key, r.missing[key])
			}
			o := run1(t, r, Block{Language: tc.lang, Code: tc.code, Expected: tc.want + "\n"}, DefaultLimits())
			if o.Outcome != OutcomePassed || o.ExitCode != 0 {
				t.Fatalf("outcome %s (%s), want passed", o.Outcome, o.Reason)
			}
			if o.Version == "" || !strings.Contains(o.Stdout, strings.Split(tc.want, "\n")[0]) || len(o.OutputSHA256) != 64 {
				t.Fatalf("version %q, stdout %q, sha %q", o.Version, o.Stdout, o.OutputSHA256)
			}
		})
	}
}

func TestExpectedOutputMismatchFails(t *testing.T) {
	t.Parallel()
	r := runner(t)
	o := run1(t, r, Block{Language: "bash", Code: "echo 41", Expected: "42"}, DefaultLimits())
	if o.Outcome != OutcomeFailed || !strings.Contains(o.Reason, "expectedOutput") {
		t.Fatalf("outcome %s (%s), want failed on expectedOutput", o.Outcome, o.Reason)
	}
	// White space does not decide.
	o = run1(t, r, Block{Language: "bash", Code: "printf '  a\\r\\n\\tb  \\n\\n'", Expected: "a b"}, DefaultLimits())
	if o.Outcome != OutcomePassed {
		t.Fatalf("outcome %s (%s), want passed", o.Outcome, o.Reason)
	}
}

func TestNoNetwork(t *testing.T) {
	t.Parallel()
	r := runner(t)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	var accepted atomic.Int32
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	port := lis.Addr().(*net.TCPAddr).Port
	code := "import socket\ns = socket.socket()\ns.settimeout(3)\ntry:\n    s.connect(('127.0.0.1', " + strconv.Itoa(port) + "))\n    print('CONNECTED')\nexcept OSError as e:\n    print('refused', e)\n"
	o := run1(t, r, Block{Language: "python", Code: code}, DefaultLimits())
	if strings.Contains(o.Stdout, "CONNECTED") || !strings.Contains(o.Stdout, "refused") {
		t.Fatalf("stdout %q: the sandbox reached the host's loopback", o.Stdout)
	}
	// Its own loopback works (it is up), and nothing else exists.
	o = run1(t, r, Block{Language: "bash", Code: "cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '"}, DefaultLimits())
	if strings.TrimSpace(o.Stdout) != "lo" {
		t.Fatalf("interfaces %q, want only lo", o.Stdout)
	}
	time.Sleep(100 * time.Millisecond)
	if n := accepted.Load(); n != 0 {
		t.Fatalf("the host listener saw %d connections", n)
	}
}

func TestInfiniteLoopTimesOut(t *testing.T) {
	t.Parallel()
	r := runner(t)
	lim := DefaultLimits()
	lim.Wall = 1500 * time.Millisecond
	o := run1(t, r, Block{Language: "bash", Code: "while :; do :; done"}, lim)
	if o.Outcome != OutcomeTimedOut {
		t.Fatalf("outcome %s, want timed_out", o.Outcome)
	}
	if o.DurationMs > 5000 {
		t.Fatalf("took %d ms to stop", o.DurationMs)
	}
}

func TestCPULimit(t *testing.T) {
	t.Parallel()
	r := runner(t)
	lim := DefaultLimits()
	lim.CPU, lim.Wall = time.Second, 20*time.Second
	o := run1(t, r, Block{Language: "python", Code: "while True: pass"}, lim)
	if o.Outcome != OutcomeFailed || !strings.Contains(o.Reason, "CPU") {
		t.Fatalf("outcome %s (%s), want failed at the CPU limit", o.Outcome, o.Reason)
	}
}

func TestForkBombContained(t *testing.T) {
	t.Parallel()
	r := runner(t)
	lim := DefaultLimits()
	lim.Wall = 3 * time.Second
	o := run1(t, r, Block{Language: "bash", Code: "f(){ f | f & }; f; sleep 30"}, lim)
	if o.Outcome == OutcomePassed {
		t.Fatalf("outcome %s", o.Outcome)
	}
	// Everything it forked died with it, and the next run works.
	o = run1(t, r, Block{Language: "bash", Code: "echo ok", Expected: "ok"}, DefaultLimits())
	if o.Outcome != OutcomePassed {
		t.Fatalf("after the fork bomb: %s (%s)", o.Outcome, o.Reason)
	}
}

func TestMemoryHogStopped(t *testing.T) {
	t.Parallel()
	r := runner(t)
	o := run1(t, r, Block{Language: "python", Code: "x = bytearray(2 * 1024 * 1024 * 1024)\nprint('allocated')"}, DefaultLimits())
	if o.Outcome != OutcomeFailed || strings.Contains(o.Stdout, "allocated") || !strings.Contains(o.Reason, "memory") {
		t.Fatalf("outcome %s (%s), stdout %q: want stopped for memory", o.Outcome, o.Reason, o.Stdout)
	}
}

func TestOutputCapped(t *testing.T) {
	t.Parallel()
	r := runner(t)
	o := run1(t, r, Block{Language: "bash", Code: "yes 0123456789 | head -c 1000000; yes e | head -c 200000 >&2"}, DefaultLimits())
	if len(o.Stdout) > 64<<10+len(TruncatedMark) || !strings.HasSuffix(o.Stdout, TruncatedMark) || !strings.HasSuffix(o.Stderr, TruncatedMark) {
		t.Fatalf("stdout %d bytes, stderr %d: want capped at 64 KiB with the mark", len(o.Stdout), len(o.Stderr))
	}
	if o.Outcome != OutcomePassed {
		t.Fatalf("outcome %s", o.Outcome)
	}
}

func TestHostFilesInvisible(t *testing.T) {
	t.Parallel()
	r := runner(t)
	wd, _ := os.Getwd()
	marker := filepath.Join(wd, "testdata-marker-"+strconv.Itoa(os.Getpid()))
	if err := os.WriteFile(marker, []byte("SECRET-MARKER"), 0o644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(marker)
	for _, p := range []string{marker, "/etc/shadow", "/root/.bashrc", "/home", "/work/wt-sandbox/README.md", "/dev/tty", "/sys/kernel"} {
		o := run1(t, r, Block{Language: "bash", Code: "cat " + p + " && echo READ"}, DefaultLimits())
		if o.Outcome != OutcomeFailed || strings.Contains(o.Stdout, "READ") || strings.Contains(o.Stdout, "SECRET-MARKER") {
			t.Fatalf("%s: outcome %s, stdout %q: a host path is visible", p, o.Outcome, o.Stdout)
		}
	}
}

func TestWritesOnlyInWorkAndTmp(t *testing.T) {
	t.Parallel()
	r := runner(t)
	for _, p := range []string{"/usr/x", "/etc/x", "/x", "/proc/x"} {
		o := run1(t, r, Block{Language: "bash", Code: "echo hi > " + p + " && echo WROTE"}, DefaultLimits())
		if strings.Contains(o.Stdout, "WROTE") || o.Outcome != OutcomeFailed {
			t.Fatalf("%s: writable (outcome %s)", p, o.Outcome)
		}
	}
	o := run1(t, r, Block{Language: "bash", Code: "echo a > /work/f && echo b > /tmp/f && cat /work/f /tmp/f", Expected: "a b"}, DefaultLimits())
	if o.Outcome != OutcomePassed {
		t.Fatalf("work dir: %s (%s)", o.Outcome, o.Reason)
	}
	// And no privileges: not root, no capabilities, no new privileges.
	o = run1(t, r, Block{Language: "bash", Code: "id -u; id -G; grep -E '^(CapEff|CapPrm|CapAmb|NoNewPrivs)' /proc/self/status"}, DefaultLimits())
	want := "1000 1000 CapPrm: 0000000000000000 CapEff: 0000000000000000 CapAmb: 0000000000000000 NoNewPrivs: 1"
	if NormalizeOutput(o.Stdout) != want {
		t.Fatalf("got %q, want %q", NormalizeOutput(o.Stdout), want)
	}
}

func TestFileSizeLimit(t *testing.T) {
	t.Parallel()
	r := runner(t)
	lim := DefaultLimits()
	lim.FileSize = 1 << 20
	o := run1(t, r, Block{Language: "bash", Code: "head -c 5000000 /dev/zero > /work/big; echo rc=$?"}, lim)
	if strings.Contains(o.Stdout, "rc=0") {
		t.Fatalf("wrote past the file size limit: %q", o.Stdout)
	}
}

func TestUnknownLanguageSkipped(t *testing.T) {
	t.Parallel()
	r := New(context.Background(), Config{})
	out, err := r.Run(context.Background(), []Block{{Language: "rust", Code: "fn main(){}"}}, DefaultLimits())
	if err != nil || out[0].Outcome != OutcomeSkipped || !strings.Contains(out[0].Reason, "rust") {
		t.Fatalf("%v %+v", err, out)
	}
}

// A sandbox that cannot be built refuses the run: here one bind the
// unprivileged uid cannot reach makes the init helper fail before any code.
func TestFailsClosed(t *testing.T) {
	t.Parallel()
	r := runner(t)
	fi, err := os.Stat("/root")
	if os.Geteuid() != 0 || err != nil || fi.Mode().Perm()&0o001 != 0 {
		t.Skip("needs root and a /root others cannot enter")
	}
	dir, err := os.MkdirTemp("/root", "sandbox-test-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	broken := *r
	broken.baseBind = append(append([]string{}, r.baseBind...), dir)
	marker := filepath.Join(t.TempDir(), "ran")
	out, err := broken.Run(context.Background(), []Block{{Language: "bash", Code: "echo ran > " + marker}}, DefaultLimits())
	if !errors.Is(err, ErrIsolation) || out != nil {
		t.Fatalf("err %v, outcomes %+v: want the run refused", err, out)
	}
	t.Logf("refused: %v", err)
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the code ran")
	}
}

// After a fork bomb nothing of it is left on the host.
func TestNoProcessesLeft(t *testing.T) {
	r := runner(t)
	lim := DefaultLimits()
	lim.Wall = 2 * time.Second
	run1(t, r, Block{Language: "bash", Code: "for i in $(seq 20); do (sleep 60 &); done; sleep 60"}, lim)
	deadline := time.Now().Add(3 * time.Second)
	for {
		n := processesOf(r.cfg.HostUID)
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d processes of uid %d are still running", n, r.cfg.HostUID)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func processesOf(uid uint32) int {
	n := 0
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		b, err := os.ReadFile("/proc/" + d.Name() + "/status")
		if err != nil {
			continue
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			if f := strings.Fields(line); len(f) > 1 && f[0] == "Uid:" && f[1] == strconv.Itoa(int(uid)) {
				n++
			}
		}
	}
	return n
}
