package checks

import (
	"fmt"
	"regexp"
)

// undefinedFunction is text/template's error for {{ token }}: a bare name
// is a function call.
var undefinedFunction = regexp.MustCompile(`^function "([A-Za-z_][A-Za-z0-9_]*)" not defined$`)

// bareNameHint teaches the form of a reference to someone used to Hurl's
// {{ token }}: captures are {{ .token }}, vars {{ .vars.token }}.
func bareNameHint(msg string) string {
	m := undefinedFunction.FindStringSubmatch(msg)
	if m == nil {
		return ""
	}
	return fmt.Sprintf(": use {{ .%s }} for a capture, {{ .vars.%s }} for a var", m[1], m[1])
}
