package config

import "testing"

// assay.yaml gets the same hint as check files for an unquoted ${VAR}
// inside { }.
func TestUnquotedEnvInFlowMappingHint(t *testing.T) {
	_, err := Parse("assay.yaml", []byte("notifiers:\n  ops: { type: webhook, url: ${HOOK_URL} }\n"))
	want := `assay.yaml:2:30: invalid YAML: did not find expected ',' or '}': quote the ${...} inside { } or [ ], as in "${HOOK_URL}" (unquoted, YAML reads its "{" as the start of a mapping; the collection starts at line 2)`
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
}
