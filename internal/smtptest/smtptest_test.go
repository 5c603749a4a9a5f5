package smtptest

import (
	"testing"
	"time"
)

// cleanups is a testing.TB whose cleanups the test runs itself.
type cleanups struct {
	testing.TB
	fs []func()
}

func (c *cleanups) Cleanup(f func()) { c.fs = append(c.fs, f) }

// Rule: a server stopped right after it started stops (go-smtp's Close
// does not close a listener that Serve has not registered yet).
func TestStopRightAfterStart(t *testing.T) {
	for range 200 {
		tb := &cleanups{TB: t}
		Start(tb, Options{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := len(tb.fs) - 1; i >= 0; i-- {
				tb.fs[i]()
			}
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("the server did not stop within 10s")
		}
	}
}
