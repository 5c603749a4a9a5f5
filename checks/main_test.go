package checks

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: every
// test closes its Runner (idle keep-alive connections) and its servers.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
