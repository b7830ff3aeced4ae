package feed_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when they leave goroutines running:
// servers, followers and clients must stop with their tests.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
