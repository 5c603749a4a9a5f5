package config_test

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/assay-monitor/assay/config"
	"github.com/assay-monitor/assay/internal/yamlstrict"
)

const twoNotifiers = `notifiers:
  team-slack:
    type: slack
    url: ${ASSAY_TEST_UNSET_SLACK}
  ops.hook:
    type: webhook
    url: http://127.0.0.1:9/hook
defaults:
  alert: { notify: [team-slack] }
`

func lines(es yamlstrict.Errors) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Error())
	}
	return out
}

// TestOneNotifiersMissingVariableDoesNotBlockAnother: assay notify test
// of one notifier works while another lacks its secret; the other's
// problem is a warning, said once, and that notifier is left out.
func TestOneNotifiersMissingVariableDoesNotBlockAnother(t *testing.T) {
	file := filepath.Join(t.TempDir(), "assay.yaml")
	if err := os.WriteFile(file, []byte(twoNotifiers), 0o644); err != nil {
		t.Fatal(err)
	}
	unset := file + ":4:10: notifiers.team-slack.url: environment variable ASSAY_TEST_UNSET_SLACK is not set (use ${ASSAY_TEST_UNSET_SLACK:-default} for a default)"

	c, warnings, err := config.LoadNotifier(file, "ops.hook")
	if err != nil {
		t.Fatalf("LoadNotifier(ops.hook): %v", err)
	}
	if got := lines(warnings); !slices.Equal(got, []string{unset}) {
		t.Errorf("warnings:\n%q\nwant:\n%q", got, unset)
	}
	if n := c.Notifiers["ops.hook"]; n == nil || n.URL != "http://127.0.0.1:9/hook" || n.Timeout == 0 {
		t.Errorf("ops.hook not loaded with its defaults: %+v", n)
	}
	if _, ok := c.Notifiers["team-slack"]; ok {
		t.Error("the broken notifier is still in the config")
	}

	// The broken one itself, and the strict Load, still fail, with one
	// error for the one mistake.
	_, _, err = config.LoadNotifier(file, "team-slack")
	var es yamlstrict.Errors
	if !asErrors(err, &es) || !slices.Equal(lines(es), []string{unset}) {
		t.Errorf("LoadNotifier(team-slack) = %v, want exactly:\n%s", err, unset)
	}
	_, err = config.Load(file)
	if !asErrors(err, &es) || !slices.Equal(lines(es), []string{unset}) {
		t.Errorf("Load = %v, want exactly:\n%s", err, unset)
	}

	// A problem outside the notifiers is an error for every notifier.
	bad := filepath.Join(t.TempDir(), "assay.yaml")
	if err := os.WriteFile(bad, []byte(twoNotifiers+"server:\n  lisen: x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := config.LoadNotifier(bad, "ops.hook"); !asErrors(err, &es) || len(es) != 1 || es[0].Field != "server.lisen" {
		t.Errorf("LoadNotifier with a bad server block = %v, want the server.lisen error", err)
	}
}

func asErrors(err error, es *yamlstrict.Errors) bool {
	e, ok := err.(yamlstrict.Errors)
	*es = e
	return ok
}
