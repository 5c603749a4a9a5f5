package config_test

import (
	"strings"
	"testing"

	"github.com/assay-monitor/assay/config"
)

func TestDefaults(t *testing.T) {
	c, err := config.Parse("assay.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.Listen != config.DefaultListen || c.Checks.Dir != config.DefaultChecksDir || c.Checks.Concurrency != config.DefaultConcurrency {
		t.Errorf("defaults not applied: %+v", c)
	}
}

func TestStrictErrorsNameFileLineAndField(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"unknown field", "server:\n  lisen: x\n", `assay.yaml:2:3: server.lisen: unknown field "lisen" (did you mean "listen"?)`},
		{"wrong type", "checks:\n  concurrency: many\n", `assay.yaml:2:16: checks.concurrency: expected an integer, got string "many"`},
		{"bad label", "metrics:\n  labels: [team, check]\n", `assay.yaml: metrics.labels[1]: "check" is not a usable label name`},
		{"missing env", "server:\n  external_url: ${ASSAY_TEST_UNSET_VAR}\n", `assay.yaml:2:17: server.external_url: environment variable ASSAY_TEST_UNSET_VAR is not set`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse("assay.yaml", []byte(tc.yaml))
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error = %v\nwant prefix %s", err, tc.want)
			}
		})
	}
}

func TestEnvironmentExpansion(t *testing.T) {
	t.Setenv("ASSAY_TEST_LISTEN", "127.0.0.1:9999")
	c, err := config.Parse("assay.yaml", []byte("server:\n  listen: ${ASSAY_TEST_LISTEN}\nstorage:\n  path: ${ASSAY_TEST_NOPE:-/tmp/x.db}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.Listen != "127.0.0.1:9999" || c.Storage.Path != "/tmp/x.db" {
		t.Errorf("got listen %q storage %q", c.Server.Listen, c.Storage.Path)
	}
}

// Classic buckets of the per-check histograms are opt-in.
func TestClassicHistogramsAreOptIn(t *testing.T) {
	for _, tc := range []struct {
		yaml string
		want bool
	}{
		{"", false},
		{"metrics:\n  labels: [team]\n", false},
		{"metrics:\n  classic_histograms: true\n", true},
		{"metrics:\n  classic_histograms: false\n", false},
	} {
		c, err := config.Parse("assay.yaml", []byte(tc.yaml))
		if err != nil {
			t.Fatalf("%q: %v", tc.yaml, err)
		}
		if c.Metrics.ClassicHistograms != tc.want {
			t.Errorf("%q: classic_histograms = %v, want %v", tc.yaml, c.Metrics.ClassicHistograms, tc.want)
		}
	}
	_, err := config.Parse("assay.yaml", []byte("metrics:\n  classic_histograms: yes please\n"))
	if want := `assay.yaml:2:23: metrics.classic_histograms: expected true or false, got string "yes please"`; err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error = %v\nwant prefix %s", err, want)
	}
}
