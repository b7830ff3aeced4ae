package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// initArg0 marks the re-executed binary as the sandbox's init helper.
const initArg0 = "buzhou-sandbox-init"

// sandboxUID is the uid and gid the code runs as inside.
const sandboxUID = 1000

// Config configures a Runner.
type Config struct {
	// HostUID and HostGID are what the sandbox uid is outside when the
	// service runs as root (0 means 65534, nobody); a non-root service maps
	// its own uid, the only one it may.
	HostUID, HostGID uint32
}

// Runner runs blocks; it is safe for concurrent use.
type Runner struct {
	cfg      Config
	rts      map[string]*toolchain
	missing  map[string]string
	env      Environment
	baseBind []string
	links    map[string]string
}

// New finds the runtimes on this host. It does not check that namespaces
// work; a run does, and refuses when they do not.
func New(ctx context.Context, cfg Config) *Runner {
	if cfg.HostUID == 0 {
		cfg.HostUID = 65534
	}
	if cfg.HostGID == 0 {
		cfg.HostGID = 65534
	}
	rts, missing := detect(ctx)
	r := &Runner{cfg: cfg, rts: rts, missing: missing, env: hostEnvironment(), links: map[string]string{}}
	// The base file system: /usr read-only, and /bin, /lib, … as the host
	// has them (symlinks into /usr on a merged-/usr system, else bound).
	r.baseBind = []string{"/usr"}
	for _, d := range []string{"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"} {
		fi, err := os.Lstat(d)
		switch {
		case err != nil:
		case fi.Mode()&os.ModeSymlink != 0:
			if t, err := os.Readlink(d); err == nil {
				r.links[d] = t
			}
		case fi.IsDir():
			r.baseBind = append(r.baseBind, d)
		}
	}
	for _, f := range []string{"/etc/ld.so.cache", "/etc/alternatives", "/etc/localtime"} {
		if _, err := os.Stat(f); err == nil {
			r.baseBind = append(r.baseBind, f)
		}
	}
	return r
}

// Environment says where blocks run.
func (r *Runner) Environment() Environment { return r.env }

// Runtimes lists the runtimes found, by language key, as "Name Version".
func (r *Runner) Runtimes() map[string]string {
	out := map[string]string{}
	for k, rt := range r.rts {
		out[k] = rt.Name + " " + rt.Version
	}
	return out
}

func hostEnvironment() Environment {
	env := Environment{OS: "Linux", Isolation: "linux namespaces (user, mount, pid, net, ipc, uts, cgroup), rlimits, no_new_privs"}
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "PRETTY_NAME="); ok {
				env.OS = strings.Trim(v, `"'`)
			}
		}
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		env.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	return env
}

// spec is what the parent tells the init helper, as JSON on fd 3.
type spec struct {
	// Binds are read-only bind mounts of host paths at the same path. The
	// helper opens them as the sandbox uid, so what that uid cannot reach
	// on the host (/root, say) cannot be bound either.
	Binds    []bindSpec        `json:"binds"`
	Links    map[string]string `json:"links"`
	Files    []fileSpec        `json:"files"`
	Argv     []string          `json:"argv"`
	Env      []string          `json:"env"`
	Limits   Limits            `json:"limits"`
	Hostname string            `json:"hostname"`
}

type bindSpec struct {
	Path string `json:"path"`
	Dir  bool   `json:"dir"`
}

type fileSpec struct {
	Path string `json:"path"`
	Data string `json:"data"`
}

// fds in the child: 3 is the spec, 4 the status pipe.
const (
	specFD   = 3
	statusFD = 4
)

func (r *Runner) runBlock(ctx context.Context, b Block, lim Limits) (Outcome, error) {
	o := Outcome{Index: b.Index, Language: b.Language}
	key, known := languageKey(b.Language)
	rt := r.rts[key]
	switch {
	case !known:
		o.Outcome, o.Reason = OutcomeSkipped, fmt.Sprintf("language %q is not one the sandbox runs (bash, sh, python, node, go)", b.Language)
		return o, nil
	case rt == nil:
		o.Outcome, o.Reason = OutcomeSkipped, fmt.Sprintf("no %s runtime on this runner: %s", key, r.missing[key])
		return o, nil
	}
	o.Runtime, o.Version = rt.Name, rt.Version
	lim.AddressSpace = max(lim.AddressSpace, rt.MinAddressSpace)
	lim.Processes = max(lim.Processes, rt.MinProcesses)
	lim.Wall, lim.CPU, lim.TmpSize = max(lim.Wall, rt.MinWall), max(lim.CPU, rt.MinWall), max(lim.TmpSize, rt.MinTmp)

	sp := spec{
		Links: r.links, Argv: rt.Argv, Hostname: "sandbox", Limits: lim,
		Env: append([]string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/work", "TMPDIR=/tmp", "LANG=C.UTF-8", "USER=sandbox"}, rt.Env...),
		Files: []fileSpec{
			{Path: "/work/" + rt.File, Data: b.Code},
			{Path: "/etc/passwd", Data: "root:x:0:0:root:/root:/usr/sbin/nologin\nsandbox:x:1000:1000:sandbox:/work:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"},
			{Path: "/etc/group", Data: "root:x:0:\nsandbox:x:1000:\nnogroup:x:65534:\n"},
			{Path: "/etc/hosts", Data: "127.0.0.1 localhost sandbox\n::1 localhost ip6-localhost\n"},
			{Path: "/etc/hostname", Data: "sandbox\n"},
			{Path: "/etc/resolv.conf", Data: "# no network in the sandbox\n"},
		},
	}
	for _, p := range append(append([]string{}, r.baseBind...), rt.Binds...) {
		fi, err := os.Stat(p)
		if err != nil {
			return o, fmt.Errorf("%w: %s for the sandbox: %v", ErrIsolation, p, err)
		}
		sp.Binds = append(sp.Binds, bindSpec{Path: p, Dir: fi.IsDir()})
	}
	specJSON, err := json.Marshal(sp)
	if err != nil {
		return o, err
	}
	specR, specW, err := os.Pipe()
	if err != nil {
		return o, err
	}
	defer specR.Close()
	defer specW.Close()
	statusR, statusW, err := os.Pipe()
	if err != nil {
		return o, err
	}
	defer statusR.Close()
	defer statusW.Close()

	self, err := os.Executable()
	if err != nil {
		return o, fmt.Errorf("%w: find own binary: %v", ErrIsolation, err)
	}
	wall := lim.Wall
	if wall <= 0 {
		wall = DefaultLimits().Wall
	}
	runCtx, cancel := context.WithTimeout(ctx, wall)
	defer cancel()
	stdout, stderr := newCapture(lim.OutputCap), newCapture(lim.OutputCap)
	cmd := exec.CommandContext(runCtx, self)
	cmd.Path = "/proc/self/exe"
	cmd.Args = []string{initArg0}
	cmd.Env = []string{}
	cmd.Stdin = nil
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.ExtraFiles = []*os.File{specR, statusW}
	cmd.WaitDelay = 2 * time.Second
	cmd.SysProcAttr = r.sysProcAttr()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return o, fmt.Errorf("%w: cannot create the namespaces (user, mount, pid, net, ipc, uts): %v", ErrIsolation, err)
	}
	_ = specR.Close()
	_ = statusW.Close()
	go func() {
		_, _ = specW.Write(specJSON)
		_ = specW.Close()
	}()
	// The init helper writes why it failed, or nothing: its end of the pipe
	// closes on exec, which is the sign that the code now runs isolated.
	msg, _ := io.ReadAll(io.LimitReader(statusR, 4096))
	werr := cmd.Wait()
	o.DurationMs = time.Since(start).Milliseconds()
	if len(msg) > 0 {
		return o, fmt.Errorf("%w: %s", ErrIsolation, bytes.TrimSpace(msg))
	}
	o.Stdout, o.Stderr, o.OutputSHA256 = stdout.text(), stderr.text(), stdout.hash()
	st, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
	var exitErr *exec.ExitError
	switch {
	case runCtx.Err() != nil && ctx.Err() == nil:
		o.Outcome, o.ExitCode = OutcomeTimedOut, -1
		o.Reason = fmt.Sprintf("stopped after the wall time limit of %s", wall)
		return o, nil
	case ctx.Err() != nil:
		return o, ctx.Err()
	case werr != nil && !errors.As(werr, &exitErr) && cmd.ProcessState == nil:
		return o, fmt.Errorf("%w: wait for the sandbox: %v", ErrIsolation, werr)
	case st.Signaled():
		o.ExitCode = 128 + int(st.Signal())
		o.Reason = signalReason(st.Signal(), lim)
		// Nothing but the CPU limit sends SIGKILL here (the wall limit is
		// ours and handled above, and the other limits make calls fail);
		// the time the process reports may fall a little short of the limit
		// it hit, since the helper's own start counts towards it too.
		if cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(); st.Signal() == syscall.SIGKILL && cpu >= lim.CPU/2 {
			o.Reason = fmt.Sprintf("stopped at the CPU time limit of %s (%.2f s used)", lim.CPU, cpu.Seconds())
		}
	default:
		o.ExitCode = cmd.ProcessState.ExitCode()
	}
	if o.Reason == "" && stderrSaysMemory(o.Stderr) {
		o.Reason = fmt.Sprintf("out of memory: the address space limit is %d MiB", lim.AddressSpace>>20)
	}
	judge(&o, b.Expected)
	return o, nil
}

func signalReason(sig syscall.Signal, lim Limits) string {
	switch sig {
	case syscall.SIGXCPU:
		return fmt.Sprintf("stopped at the CPU time limit of %s", lim.CPU)
	case syscall.SIGXFSZ:
		return fmt.Sprintf("stopped for writing a file over the size limit of %d MiB", lim.FileSize>>20)
	case syscall.SIGSEGV, syscall.SIGABRT, syscall.SIGBUS:
		return fmt.Sprintf("killed by %s (possibly the address space limit of %d MiB)", sig, lim.AddressSpace>>20)
	}
	return fmt.Sprintf("killed by signal %d (%s)", int(sig), sig)
}

func stderrSaysMemory(s string) bool {
	for _, w := range []string{"MemoryError", "Cannot allocate memory", "out of memory", "heap out of memory", "Allocation failed"} {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

func (r *Runner) sysProcAttr() *syscall.SysProcAttr {
	hostUID, hostGID := uint32(os.Geteuid()), uint32(os.Getegid())
	root := hostUID == 0
	if root {
		hostUID, hostGID = r.cfg.HostUID, r.cfg.HostGID
	}
	return &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWNET |
			syscall.CLONE_NEWIPC | syscall.CLONE_NEWUTS | syscall.CLONE_NEWCGROUP,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: sandboxUID, HostID: int(hostUID), Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: sandboxUID, HostID: int(hostGID), Size: 1}},
		// Setting groups needs the host's permission, which only root has;
		// as root the supplementary groups are dropped to none.
		GidMappingsEnableSetgroups: root,
		Credential:                 &syscall.Credential{Uid: sandboxUID, Gid: sandboxUID, Groups: []uint32{}, NoSetGroups: !root},
		// The init helper needs these in its own user namespace to build the
		// sandbox; it clears them before the code runs.
		AmbientCaps: []uintptr{unix.CAP_SYS_ADMIN, unix.CAP_NET_ADMIN},
		Pdeathsig:   syscall.SIGKILL,
		// A session of its own has no controlling terminal: the code cannot
		// reach the terminal the service was started from.
		Setsid: true,
	}
}

// Main runs the sandbox's init helper when this process is one, and never
// returns then; otherwise it returns at once. Every binary that runs blocks
// (and every test binary of a package that does) calls it first thing in
// main, since the helper is the binary itself, re-executed.
func Main() {
	if len(os.Args) == 0 || os.Args[0] != initArg0 {
		return
	}
	runtime.LockOSThread()
	status := os.NewFile(statusFD, "status")
	err := initSandbox()
	// Only reached when something failed: tell the parent, which refuses
	// the run, and leave. The helper is its own process: exiting is its
	// way of reporting, not the service's.
	_, _ = fmt.Fprintf(status, "%v", err)
	os.Exit(127)
}

func initSandbox() error {
	for _, fd := range []int{specFD, statusFD} {
		unix.CloseOnExec(fd)
	}
	var sp spec
	if err := json.NewDecoder(os.NewFile(specFD, "spec")).Decode(&sp); err != nil {
		return fmt.Errorf("read spec: %w", err)
	}
	if err := buildRoot(sp); err != nil {
		return err
	}
	if err := unix.Sethostname([]byte(sp.Hostname)); err != nil {
		return fmt.Errorf("set hostname: %w", err)
	}
	if err := loopbackUp(); err != nil {
		return err
	}
	if err := unix.Chdir("/work"); err != nil {
		return fmt.Errorf("chdir /work: %w", err)
	}
	// An anonymous session keyring of its own (a NULL name; a named one
	// could be joined by another sandbox): the one inherited is the service's.
	if _, _, errno := unix.Syscall(unix.SYS_KEYCTL, unix.KEYCTL_JOIN_SESSION_KEYRING, 0, 0); errno != 0 && errno != unix.ENOSYS {
		return fmt.Errorf("join a new session keyring: %w", errno)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set no_new_privs: %w", err)
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	if err := setLimits(sp.Limits); err != nil {
		return err
	}
	// From here the process is the code's: uid 1000 without capabilities
	// (exec as a non-root uid keeps none, and no_new_privs ignores file
	// capabilities and set-uid bits). The address-space limit is set by
	// util-linux's prlimit, which then execs the code: set here, it would
	// bind this Go process too, whose runtime may map memory before the
	// exec (a race-detector build always does) and die for want of it.
	argv := append([]string{prlimitPath, fmt.Sprintf("--as=%d", sp.Limits.AddressSpace), "--"}, sp.Argv...)
	return fmt.Errorf("exec %s: %w", sp.Argv[0], unix.Exec(argv[0], argv, sp.Env))
}

// buildRoot makes a tmpfs the new root with only what the spec names, and
// pivots into it.
func buildRoot(sp spec) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	// Any existing directory serves as the mount point: the tmpfs over it is
	// seen only in this mount namespace.
	root := "/tmp"
	if err := unix.Mount("tmpfs", root, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "size=4m,nr_inodes=4096,mode=0755"); err != nil {
		return fmt.Errorf("mount the root tmpfs: %w", err)
	}
	for _, d := range []string{"proc", "dev", "tmp", "work", "etc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	for _, b := range sp.Binds {
		if err := bindReadOnly(b, filepath.Join(root, b.Path)); err != nil {
			return err
		}
	}
	for p, t := range sp.Links {
		if err := os.Symlink(t, filepath.Join(root, p)); err != nil {
			return fmt.Errorf("link %s: %w", p, err)
		}
	}
	// A container runtime that masks parts of its /proc (Docker's, and
	// Kubernetes' default procMount) makes the kernel refuse a new proc
	// mount: the code then runs without /proc, which hides more, not less.
	if err := unix.Mount("proc", filepath.Join(root, "proc"), "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil &&
		!errors.Is(err, unix.EPERM) && !errors.Is(err, unix.EACCES) {
		return fmt.Errorf("mount /proc: %w", err)
	}
	for _, d := range []string{"null", "zero", "full", "random", "urandom"} {
		dst := filepath.Join(root, "dev", d)
		if err := os.WriteFile(dst, nil, 0o666); err != nil {
			return err
		}
		if err := unix.Mount("/dev/"+d, dst, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind /dev/%s: %w", d, err)
		}
	}
	for l, t := range map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"} {
		if err := os.Symlink(t, filepath.Join(root, "dev", l)); err != nil {
			return err
		}
	}
	size := sp.Limits.TmpSize
	if size == 0 {
		size = DefaultLimits().TmpSize
	}
	for d, mode := range map[string]string{"tmp": "1777", "work": "0755"} {
		opts := fmt.Sprintf("size=%d,nr_inodes=16384,mode=%s,uid=%d,gid=%d", size, mode, sandboxUID, sandboxUID)
		if err := unix.Mount("tmpfs", filepath.Join(root, d), "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
			return fmt.Errorf("mount /%s: %w", d, err)
		}
	}
	for _, f := range sp.Files {
		if err := os.WriteFile(filepath.Join(root, f.Path), []byte(f.Data), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", f.Path, err)
		}
	}
	// pivot_root(".", ".") stacks the old root under the new one, which is
	// then detached: nothing of the host's tree stays reachable.
	if err := unix.Chdir(root); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach the old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return err
	}
	// The root itself becomes read-only: only /work and /tmp take writes.
	if err := unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		return fmt.Errorf("remount / read-only: %w", err)
	}
	return nil
}

// bindReadOnly binds the descriptor's file or directory at dst read-only,
// keeping the flags the source mount has locked (a user namespace may not
// clear nosuid, nodev, noexec or the atime flags of a mount it did not make).
func bindReadOnly(b bindSpec, dst string) error {
	if b.Dir {
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return err
		}
	} else {
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dst, nil, 0o644); err != nil {
			return err
		}
	}
	if err := unix.Mount(b.Path, dst, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s: %w", b.Path, err)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(dst, &st); err != nil {
		return fmt.Errorf("statfs %s: %w", b.Path, err)
	}
	flags := uintptr(unix.MS_REMOUNT | unix.MS_BIND | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV)
	for _, f := range []struct{ st, ms int64 }{
		{unix.ST_NOEXEC, unix.MS_NOEXEC}, {unix.ST_NOATIME, unix.MS_NOATIME},
		{unix.ST_NODIRATIME, unix.MS_NODIRATIME}, {unix.ST_RELATIME, unix.MS_RELATIME},
	} {
		if st.Flags&f.st != 0 {
			flags |= uintptr(f.ms)
		}
	}
	if err := unix.Mount("", dst, "", flags, ""); err != nil {
		return fmt.Errorf("make %s read-only: %w", b.Path, err)
	}
	return nil
}

// loopbackUp brings up lo, the only interface of the new network namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("loopback flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP | unix.IFF_RUNNING)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring loopback up: %w", err)
	}
	return nil
}

// prlimitPath is util-linux's prlimit, which sets the address-space limit
// on itself and execs the code (see the end of initSandbox).
const prlimitPath = "/usr/bin/prlimit"

// setLimits sets every limit but the address space's on this process, for
// the code it becomes.
func setLimits(l Limits) error {
	if l.AddressSpace == 0 {
		return errors.New("limit as is 0; every limit must be set")
	}
	if _, err := os.Stat(prlimitPath); err != nil {
		return fmt.Errorf("the address-space limit needs %s (util-linux) in the runner's image: %w", prlimitPath, err)
	}
	cpu := uint64(max(l.CPU/time.Second, 1))
	for _, rl := range []struct {
		name     string
		res      int
		soft, hd uint64
	}{
		// Soft and hard alike: at the limit the kernel kills (SIGKILL), which
		// no runtime can catch or ignore.
		{"cpu", unix.RLIMIT_CPU, cpu, cpu},
		{"nproc", unix.RLIMIT_NPROC, l.Processes, l.Processes},
		{"fsize", unix.RLIMIT_FSIZE, l.FileSize, l.FileSize},
		{"nofile", unix.RLIMIT_NOFILE, l.OpenFiles, l.OpenFiles},
		{"core", unix.RLIMIT_CORE, 0, 0},
	} {
		if rl.soft == 0 && rl.res != unix.RLIMIT_CORE {
			return fmt.Errorf("limit %s is 0; every limit must be set", rl.name)
		}
		if err := unix.Setrlimit(rl.res, &unix.Rlimit{Cur: rl.soft, Max: rl.hd}); err != nil {
			return fmt.Errorf("set limit %s: %w", rl.name, err)
		}
	}
	return nil
}
