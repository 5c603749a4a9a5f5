package checks

import (
	"strings"

	"github.com/assay-monitor/assay/internal/yamlstrict"
	"go.yaml.in/yaml/v3"
)

// statusAny is how `status: any` is written: the step accepts every
// status.
const statusAny = "any"

// defaultStatus is what a step that sets no status expects: a success.
// Its Raw says so in the message of a failure ("status: expected 2xx
// (default), got 404").
var defaultStatus = &StatusExpect{Raw: "2xx (default)", ranges: [][2]int{{200, 299}}}

// effectiveStatus is the status expectation of e: its own, else 2xx.
func effectiveStatus(e *Expect) *StatusExpect {
	if e.Status != nil {
		return e.Status
	}
	return defaultStatus
}

// isAnyStatus reports whether n is the scalar any (in any case).
func isAnyStatus(n *yaml.Node) bool {
	n = yamlstrict.Resolve(n)
	return n != nil && n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" && strings.EqualFold(strings.TrimSpace(n.Value), statusAny)
}
