package app

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when they leave goroutines running:
// servers, followers and clients must stop with their tests. Ignored:
// regexp2's clock (chroma's highlighting regexps have timeouts), which runs
// while any match deadline is pending and ends on its own 100 ms after.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/dlclark/regexp2/v2.runClock"))
}
