package sqldb

import "time"

// SetLeadEvery makes Lead try and check every d until the returned restore.
func SetLeadEvery(d time.Duration) (restore func()) {
	old := leadEvery
	leadEvery = d
	return func() { leadEvery = old }
}
