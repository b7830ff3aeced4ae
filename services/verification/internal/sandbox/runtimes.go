package sandbox

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// toolchain is one language's interpreter or toolchain as found on this host.
type toolchain struct {
	// Name and Version go into the record ("Python", "3.11.2").
	Name, Version string
	// File is the name the code is written to in /work.
	File string
	// Argv runs File; Argv[0] is a real path (no symlink, no shim).
	Argv []string
	// Binds are host directories the runtime needs beyond the base set,
	// bound read-only at the same path.
	Binds []string
	// Env is added to the base environment.
	Env []string
	// MinAddressSpace raises Limits.AddressSpace for runtimes that reserve
	// more virtual memory than they use (V8, the Go toolchain).
	MinAddressSpace uint64
	// MinProcesses raises Limits.Processes for runtimes with many threads.
	MinProcesses uint64
	// MinWall and MinTmp raise the wall and CPU time and the tmpfs size for
	// a toolchain that builds before it runs.
	MinWall time.Duration
	MinTmp  uint64
}

// languageKey maps the name a code block gives its language to the runtime
// that runs it ("bash", "sh", "python", "node", "go").
func languageKey(name string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "bash":
		return "bash", true
	case "sh", "shell", "posix":
		return "sh", true
	case "python", "python3", "py":
		return "python", true
	case "node", "nodejs", "javascript", "js":
		return "node", true
	case "go", "golang":
		return "go", true
	}
	return "", false
}

// detect finds the runtimes on this host and reads their exact versions from
// the interpreters themselves. Missing ones are simply absent (their blocks
// are skipped with the reason).
func detect(ctx context.Context) (map[string]*toolchain, map[string]string) {
	found := map[string]*toolchain{}
	missing := map[string]string{}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for key, find := range map[string]func(context.Context) (*toolchain, error){
		"bash": detectBash, "sh": detectSh, "python": detectPython, "node": detectNode, "go": detectGo,
	} {
		rt, err := find(ctx)
		if err != nil {
			missing[key] = err.Error()
			continue
		}
		found[key] = rt
	}
	return found, missing
}

// realPath resolves name on PATH (or as given) to a real file.
func realPath(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s is not installed on the runner", name)
	}
	p, err = filepath.EvalSymlinks(p)
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	return filepath.Abs(p)
}

func output(ctx context.Context, argv ...string) (string, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C"}
	b, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
	}
	return strings.TrimSpace(string(b)), nil
}

var bashVersion = regexp.MustCompile(`version ([0-9][^ ]*)`)

func detectBash(ctx context.Context) (*toolchain, error) {
	p, err := realPath("bash")
	if err != nil {
		return nil, err
	}
	out, err := output(ctx, p, "--version")
	if err != nil {
		return nil, err
	}
	m := bashVersion.FindStringSubmatch(out)
	if m == nil {
		return nil, fmt.Errorf("bash --version said %q", firstLine(out))
	}
	return &toolchain{Name: "bash", Version: m[1], File: "main.sh", Argv: []string{p, "main.sh"}}, nil
}

func detectSh(ctx context.Context) (*toolchain, error) {
	p, err := realPath("sh")
	if err != nil {
		return nil, err
	}
	// POSIX sh has no --version; name the shell it is and its package's
	// version when dpkg knows it.
	name := filepath.Base(p)
	version := "unknown"
	if v, err := output(ctx, "dpkg-query", "-W", "-f=${Version}", name); err == nil && v != "" {
		version = v
	} else if name == "bash" {
		if rt, err := detectBash(ctx); err == nil {
			version = rt.Version
		}
	}
	return &toolchain{Name: "sh (" + name + ")", Version: version, File: "main.sh", Argv: []string{p, "main.sh"}}, nil
}

func detectPython(ctx context.Context) (*toolchain, error) {
	// The system interpreter first: it lives under /usr, which is bound
	// anyway. Otherwise the one on PATH (a pyenv shim is a script: ask the
	// interpreter where it really is and bind only its prefix).
	cand := "/usr/bin/python3"
	if _, err := os.Stat(cand); err != nil {
		cand = "python3"
	}
	p, err := realPath(cand)
	if err != nil {
		return nil, err
	}
	out, err := output(ctx, p, "-c", "import sys, platform; print(sys.executable); print(sys.base_prefix); print(platform.python_version())")
	if err != nil {
		return nil, err
	}
	lines := strings.Split(out, "\n")
	if len(lines) != 3 {
		return nil, fmt.Errorf("python3 said %q", firstLine(out))
	}
	exe, err := filepath.EvalSymlinks(lines[0])
	if err != nil {
		return nil, err
	}
	rt := &toolchain{Name: "Python", Version: lines[2], File: "main.py", Argv: []string{exe, "-I", "main.py"}, Env: []string{"PYTHONDONTWRITEBYTECODE=1"}}
	if prefix := filepath.Clean(lines[1]); !under(prefix, "/usr") {
		if err := reachable(prefix); err != nil {
			return nil, fmt.Errorf("python3 is %s: %w; install python3 under /usr (Debian: apt-get install python3)", exe, err)
		}
		rt.Binds = append(rt.Binds, prefix)
	}
	return rt, nil
}

func detectNode(ctx context.Context) (*toolchain, error) {
	p, err := realPath("node")
	if err != nil {
		return nil, err
	}
	v, err := output(ctx, p, "--version")
	if err != nil {
		return nil, err
	}
	rt := &toolchain{Name: "Node.js", Version: strings.TrimPrefix(v, "v"), File: "main.js", Argv: []string{p, "main.js"},
		MinAddressSpace: 4 << 30, MinProcesses: 64}
	if dir := filepath.Dir(filepath.Dir(p)); !under(dir, "/usr") {
		if err := reachable(dir); err != nil {
			return nil, fmt.Errorf("node is %s: %w", p, err)
		}
		rt.Binds = append(rt.Binds, dir)
	}
	return rt, nil
}

func detectGo(ctx context.Context) (*toolchain, error) {
	p, err := realPath("go")
	if err != nil {
		return nil, err
	}
	v, err := output(ctx, p, "env", "GOVERSION")
	if err != nil {
		return nil, err
	}
	goroot, err := output(ctx, p, "env", "GOROOT")
	if err != nil {
		return nil, err
	}
	rt := &toolchain{Name: "Go", Version: strings.TrimPrefix(v, "go"), File: "main.go", Argv: []string{p, "run", "main.go"},
		// Offline and self-contained: the build cache lives in /tmp and
		// nothing is downloaded (there is no network anyway).
		Env: []string{"GOCACHE=/tmp/gocache", "GOPATH=/tmp/gopath", "GOTOOLCHAIN=local", "GOPROXY=off", "GOFLAGS=-mod=mod",
			"GO111MODULE=off", "CGO_ENABLED=0", "GOTELEMETRY=off"},
		// Each block builds the standard library afresh into an empty
		// cache: ~20 s and ~200 MiB on two busy cores.
		MinAddressSpace: 8 << 30, MinProcesses: 256, MinWall: 60 * time.Second, MinTmp: 512 << 20}
	if goroot = filepath.Clean(goroot); !under(goroot, "/usr") {
		if err := reachable(goroot); err != nil {
			return nil, fmt.Errorf("go is %s: %w", p, err)
		}
		rt.Binds = append(rt.Binds, goroot)
	}
	return rt, nil
}

// reachable checks that every directory above p may be searched by anyone:
// the sandbox binds paths as its own unprivileged uid, so a runtime under
// /root (a pyenv install, say) cannot be bound.
func reachable(p string) error {
	for d := filepath.Dir(p); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("under %s, which the sandbox's unprivileged uid cannot enter", d)
		}
		if d == "/" {
			return nil
		}
	}
}

func under(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}
