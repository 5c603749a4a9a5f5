package schema_test

import (
	"reflect"

	"github.com/assay-monitor/assay/checks"
)

// The cookie assertion (checks/cookies.go) is an object of its own; it
// is registered here rather than in objectDefs' literal, to keep that
// table's alignment (and other changes to it) as it was.
func init() {
	objectDefs[reflect.TypeFor[checks.CookieExpect]()] = "/$defs/cookieExpect"
}
