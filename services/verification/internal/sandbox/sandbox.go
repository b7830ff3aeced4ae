// Package sandbox runs an article's code blocks in isolation and says what
// happened: each block in a fresh set of Linux namespaces (user, mount, pid,
// network, ipc, uts, cgroup) built from Go, as an unprivileged uid, with only
// the runtime's files visible read-only, a private writable work dir and tmp,
// no network but its own loopback, no new privileges, and rlimits on CPU
// time, address space, processes, file size and open files; the wall time is
// the caller's. Output is captured, capped per stream and hashed whole.
//
// The namespaces are entered by re-executing the running binary as a small
// init helper (Main): the parent clones it into the new namespaces, it
// builds the root file system, brings loopback up, sets the limits and execs
// the runtime. Anything that fails on the way refuses the run (ErrIsolation):
// code never runs unisolated.
package sandbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strings"
	"time"
)

// Outcomes of a block.
const (
	OutcomePassed   = "passed"
	OutcomeFailed   = "failed"
	OutcomeTimedOut = "timed_out"
	OutcomeSkipped  = "skipped"
)

// ErrIsolation says the sandbox could not be built, so nothing ran.
var ErrIsolation = errors.New("sandbox isolation unavailable")

// Limits bound one block's run.
type Limits struct {
	// Wall is the wall-clock time the block may take.
	Wall time.Duration
	// CPU is the CPU time (RLIMIT_CPU), whole seconds.
	CPU time.Duration
	// AddressSpace is RLIMIT_AS in bytes (runtimes that reserve more get
	// their own floor, see runtimes.go).
	AddressSpace uint64
	// Processes is RLIMIT_NPROC: processes and threads of the sandbox uid.
	Processes uint64
	// FileSize is RLIMIT_FSIZE in bytes.
	FileSize uint64
	// OpenFiles is RLIMIT_NOFILE.
	OpenFiles uint64
	// TmpSize is the size of each of the tmpfs mounts /work and /tmp.
	TmpSize uint64
	// OutputCap is how many bytes of each stream are kept.
	OutputCap int
}

// DefaultLimits are the limits of a run that asks for nothing else.
func DefaultLimits() Limits {
	return Limits{
		Wall: 10 * time.Second, CPU: 10 * time.Second, AddressSpace: 512 << 20, Processes: 64,
		FileSize: 16 << 20, OpenFiles: 256, TmpSize: 64 << 20, OutputCap: 64 << 10,
	}
}

// Block is one code block to run.
type Block struct {
	Index    int
	Language string
	Code     string
	// Expected is the expected standard output, "" for none.
	Expected string
}

// Outcome is what running a block gave.
type Outcome struct {
	Index      int
	Language   string
	Outcome    string
	ExitCode   int
	DurationMs int64
	// Stdout and Stderr are the first OutputCap bytes of each stream, with
	// TruncatedMark appended when more came.
	Stdout, Stderr string
	// OutputSHA256 is the hex SHA-256 of the whole standard output.
	OutputSHA256 string
	Reason       string
	// Runtime and Version name what ran it ("Python", "3.11.2"); empty when skipped.
	Runtime, Version string
}

// TruncatedMark ends a stream excerpt that was cut at the cap.
const TruncatedMark = "\n…[truncated: output over the cap]"

// Environment is where the blocks ran.
type Environment struct {
	// OS is e.g. "Debian GNU/Linux 12 (bookworm)"; Kernel the release.
	OS, Kernel string
	// Isolation names the mechanism, for the record's extras.
	Isolation string
}

// NormalizeOutput is how expectedOutput is compared: every run of white
// space is one space and the ends are trimmed, so line endings, trailing
// newlines and indentation do not decide a pass.
func NormalizeOutput(s string) string { return strings.Join(strings.Fields(s), " ") }

// judge sets the outcome of a block that ran to completion.
func judge(o *Outcome, expected string) {
	switch {
	case o.ExitCode != 0:
		o.Outcome = OutcomeFailed
		if o.Reason == "" {
			o.Reason = fmt.Sprintf("exited with code %d", o.ExitCode)
		}
	case expected != "" && NormalizeOutput(expected) != NormalizeOutput(o.Stdout):
		o.Outcome = OutcomeFailed
		o.Reason = "the output differs from expectedOutput (compared with white space normalised)"
		if strings.HasSuffix(o.Stdout, TruncatedMark) {
			o.Reason += "; the output was over the cap"
		}
	default:
		o.Outcome = OutcomePassed
	}
}

// capture keeps the first max bytes written and hashes all of them.
type capture struct {
	max  int
	buf  bytes.Buffer
	more bool
	sum  hash.Hash
}

func newCapture(max int) *capture { return &capture{max: max, sum: sha256.New()} }

func (c *capture) Write(p []byte) (int, error) {
	_, _ = c.sum.Write(p)
	if room := c.max - c.buf.Len(); room > 0 {
		if len(p) > room {
			c.buf.Write(p[:room])
			c.more = true
		} else {
			c.buf.Write(p)
		}
	} else if len(p) > 0 {
		c.more = true
	}
	return len(p), nil
}

// text is the excerpt: valid UTF-8 (a cut rune is dropped) and the mark.
func (c *capture) text() string {
	s := strings.ToValidUTF8(c.buf.String(), "\uFFFD")
	if c.more {
		s = strings.TrimSuffix(s, "\uFFFD") + TruncatedMark
	}
	return s
}

func (c *capture) hash() string { return hex.EncodeToString(c.sum.Sum(nil)) }

// Run runs blocks one after another, each in a sandbox of its own, and
// returns their outcomes in order. A block whose language has no runtime here
// is skipped with the reason. ErrIsolation (wrapped) means the sandbox could
// not be built: the outcomes so far are discarded, since a run that is only
// partly isolated proves nothing.
func (r *Runner) Run(ctx context.Context, blocks []Block, lim Limits) ([]Outcome, error) {
	out := make([]Outcome, 0, len(blocks))
	for _, b := range blocks {
		o, err := r.runBlock(ctx, b, lim)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}
