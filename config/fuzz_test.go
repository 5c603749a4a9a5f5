package config_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assay-monitor/assay/config"
	"github.com/assay-monitor/assay/internal/fuzzprop"
	"github.com/assay-monitor/assay/internal/yamlstrict"
)

// fuzzSecret is the value of the secret-looking variables of the fuzz
// environment, and fuzzToken the content of the token file beside the
// config: no error may show either.
const (
	fuzzSecret = `Zq7xW3vK/+ &<é>"\{{ .x }}Hm7TpLc9`
	fuzzToken  = "TK9qPq4ZzW1Lw3xR7mYv2Nd8Hs5JcQ"
	// fuzzShadow is in a file that is no token (a symlink to /etc/shadow).
	fuzzShadow = "PLANTEDxMARKERq42"
)

// fuzzHidden are the parts of them that no error may show.
var fuzzHidden = []string{"Zq7xW3vK", "Hm7TpLc9", fuzzToken, fuzzShadow}

// configSeeds are the configs of the tests, the README and examples/, and
// issue 13's cases.
func configSeeds() []string {
	laughs := func(levels int) string {
		var b strings.Builder
		b.WriteString("notifiers:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
		for i := 1; i <= levels; i++ {
			fmt.Fprintf(&b, "  a%d: &a%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d, ", i-1), 10), ", "))
		}
		return b.String()
	}
	seeds := []string{
		"",
		"server:\n  lisen: x\n",
		"checks:\n  concurrency: many\n",
		"metrics:\n  labels: [team, check]\n",
		"server:\n  external_url: ${ASSAY_FUZZ_UNSET}\n",
		"server:\n  listen: ${ASSAY_FUZZ_LISTEN}\nstorage:\n  path: ${ASSAY_FUZZ_NOPE:-/tmp/x.db}\n",
		"server:\n  api_token: ${ASSAY_FUZZ_API_TOKEN}\n  external_url: ${ASSAY_FUZZ_API_TOKEN}\n",
		"server:\n  api_token: short\n  allowed_hosts: [\"a b\", \"\", \"*\"]\n  max_connections: -1\n  shutdown_grace: -1s\n",
		"server:\n  api_token_file: token\n",
		"server:\n  api_token_file: shadow\n",
		"server:\n  api_token_file: big\n",
		"server:\n  api_token_file: token\n  api_token: ${ASSAY_FUZZ_API_TOKEN}\n  web_config_file: web.yml\n",
		"storage:\n  driver: postgres\n",
		"storage:\n  driver: postgres\n  dsn: postgres://assay:${ASSAY_FUZZ_PASSWORD}@db:5432/assay?sslmode=verify-full\n",
		"storage:\n  driver: mysql\n  dsn: ${ASSAY_FUZZ_PASSWORD}\n",
		"storage:\n  retention: 30s\n  max_results_per_check: -5\n  max_evidence_body: 11MiB\n",
		"storage:\n  retention: 2w\n  max_evidence_body: 9223372036854775807\n",
		"cluster:\n  lease_ttl: 2562047h\n",
		"defaults:\n  alert: { notify: [nope], failures: -1, repeat: 1ms }\n  semantics: loud\n  slo: { objective: 101%, window: 0d }\n",
		"notifiers:\n  n1: { type: webhook, url: \"${ASSAY_FUZZ_API_TOKEN}\", secret: \"${ASSAY_FUZZ_PASSWORD}\" }\n  n2: { type: carrier-pigeon }\n",
		"root:*:19000:0:99999:7:::\n",
		"\xff",
		"server:\n  listen: \"a\x1bb\"\n",
		"server: {",
		"a: &a [*a]\n",
		laughs(6),
		laughs(9),
	}
	for _, p := range []string{"../examples/*.yaml"} {
		files, _ := filepath.Glob(p)
		for _, file := range files {
			if b, err := os.ReadFile(file); err == nil {
				seeds = append(seeds, string(b))
			}
		}
	}
	return seeds
}

// FuzzConfig parses global configs as the daemon does, beside a token
// file and a file that is not one, with secrets in the environment.
// Properties: parsing returns in bounded time; every error is one
// printable line naming the file, at a line and column inside it; no
// error shows a secret's value or the content of a file the config
// names; parsing is deterministic; and a config that loads is within
// the bounds the package promises.
func FuzzConfig(f *testing.F) {
	dir := f.TempDir()
	for name, content := range map[string]string{
		"token":   fuzzToken + "\n",
		"shadow":  "root:" + fuzzShadow + ":19000:0:99999:7:::\n" + strings.Repeat("x", 5000),
		"big":     strings.Repeat(fuzzShadow, 400),
		"web.yml": "basic_auth_users: { alice: " + fuzzShadow + " }\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			f.Fatal(err)
		}
	}
	f.Setenv("ASSAY_FUZZ_API_TOKEN", fuzzSecret)
	f.Setenv("ASSAY_FUZZ_PASSWORD", fuzzSecret+"-db")
	f.Setenv("ASSAY_FUZZ_LISTEN", "127.0.0.1:9999")
	for _, s := range configSeeds() {
		f.Add([]byte(s))
	}
	file := filepath.Join(dir, "assay.yaml")
	f.Fuzz(func(t *testing.T, data []byte) {
		var c *config.Config
		var err error
		fuzzprop.Within(t, 10*time.Second, "parsing a config", func() { c, err = config.Parse(file, data) })
		if err != nil {
			var errs yamlstrict.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error %T is not yamlstrict.Errors: %v", err, err)
			}
			fuzzprop.CheckErrors(t, file, data, errs, fuzzHidden...)
			if _, again := config.Parse(file, data); again == nil || again.Error() != err.Error() {
				t.Errorf("errors differ between two parses:\n%v\n---\n%v", err, again)
			}
			return
		}
		checkConfig(t, c)
	})
}

// checkConfig fails t when a config that loaded breaks a bound.
func checkConfig(t *testing.T, c *config.Config) {
	t.Helper()
	switch {
	case c.Server.Listen == "" || c.Checks.Dir == "" || c.Storage.Path == "":
		t.Errorf("empty listen, checks dir or storage path: %+v", c)
	case c.Checks.Concurrency <= 0 || c.Server.MaxConnections <= 0 || c.Storage.MaxResultsPerCheck <= 0:
		t.Errorf("concurrency %d, max_connections %d, max_results_per_check %d loaded", c.Checks.Concurrency, c.Server.MaxConnections, c.Storage.MaxResultsPerCheck)
	case c.Storage.MaxEvidenceBody <= 0 || c.Storage.MaxEvidenceBody > 10<<20:
		t.Errorf("max_evidence_body %d loaded", c.Storage.MaxEvidenceBody)
	case c.Storage.Retention.D() < time.Minute:
		t.Errorf("retention %v loaded", c.Storage.Retention.D())
	case c.Cluster.LeaseTTL.D() < 3*time.Second || c.Cluster.LeaseTTL.D() > 10*time.Minute:
		t.Errorf("lease_ttl %v loaded", c.Cluster.LeaseTTL.D())
	case c.Server.ShutdownGrace < 0:
		t.Errorf("shutdown_grace %v loaded", c.Server.ShutdownGrace.D())
	case c.Server.APIToken != "" && len(c.Server.APIToken) < 16:
		t.Errorf("an API token of %d characters loaded", len(c.Server.APIToken))
	case c.Storage.Driver != config.DriverSQLite && c.Storage.Driver != config.DriverPostgres:
		t.Errorf("storage driver %q loaded", c.Storage.Driver)
	case c.Storage.Driver == config.DriverPostgres && c.Storage.DSN == "":
		t.Errorf("postgres without a dsn loaded")
	}
}
