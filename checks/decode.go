package checks

import (
	"fmt"
	"sort"
	"unicode/utf8"

	"github.com/assay-monitor/assay/internal/yamlstrict"
)

// Position is a place in a check file, used in every load-time error.
type Position = yamlstrict.Position

// LoadError is one problem in a check file: position, field path, message.
type LoadError = yamlstrict.Error

// LoadErrors lists every problem found while loading; it is an error.
type LoadErrors = yamlstrict.Errors

type decoder = yamlstrict.Decoder

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// truncate shortens s to at most n bytes (on a rune boundary), marking the cut.
func truncate(s string, n int) string {
	c, ok := cutAt(s, n)
	if !ok {
		return s
	}
	return c + fmt.Sprintf("…(%d more bytes)", len(s)-len(c))
}

// cutAt cuts s to at most n bytes at a character boundary, and says
// whether it cut.
func cutAt(s string, n int) (string, bool) {
	if len(s) <= n {
		return s, false
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n], true
}
