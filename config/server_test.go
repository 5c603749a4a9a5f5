package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assay-monitor/assay/config"
)

// TestServerSecurityFieldsResolveRelativeToTheConfigFile: the token file
// and the web config are found beside assay.yaml, the token file's
// content is the token, and mistakes are one error each that never
// quotes a token.
func TestServerSecurityFieldsResolveRelativeToTheConfigFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "etc", "assay.yaml")
	os.MkdirAll(filepath.Join(dir, "etc", "secrets"), 0o755)
	os.WriteFile(filepath.Join(dir, "etc", "secrets", "token"), []byte("  s3cret-token-of-32-characters!!\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "etc", "secrets", "short"), []byte("abc\n"), 0o600)
	c, err := config.Parse(file, []byte("server:\n  api_token_file: secrets/token\n  web_config_file: web.yml\n  allowed_hosts: [assay.example.com]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.APIToken != "s3cret-token-of-32-characters!!" || c.Server.WebConfigFile != filepath.Join(dir, "etc", "web.yml") ||
		c.Server.MaxConnections != config.DefaultMaxConnections || len(c.Server.AllowedHosts) != 1 {
		t.Errorf("server = %+v", c.Server)
	}
	t.Setenv("ASSAY_TEST_TOKEN", "from-the-environment-0123456789")
	if c, err := config.Parse(file, []byte("server:\n  api_token: ${ASSAY_TEST_TOKEN}\n")); err != nil || c.Server.APIToken != "from-the-environment-0123456789" {
		t.Errorf("api_token from ${VAR}: %q %v", c.Server.APIToken, err)
	}
	for _, tc := range []struct{ name, yaml, want string }{
		{"both", "server:\n  api_token: ${ASSAY_TEST_TOKEN}\n  api_token_file: secrets/token\n", "server.api_token_file: set api_token or api_token_file, not both"},
		{"missing file", "server:\n  api_token_file: secrets/nope\n", "server.api_token_file: open " + filepath.Join(dir, "etc", "secrets", "nope")},
		{"a directory", "server:\n  api_token_file: secrets\n", "is not a regular file"},
		{"short token", "server:\n  api_token_file: secrets/short\n", "server.api_token: must be at least 16 characters"},
		{"short literal", "server:\n  api_token: abc\n", "server.api_token: must be at least 16 characters"},
		{"host with a scheme", "server:\n  allowed_hosts: [\"https://x\"]\n", "server.allowed_hosts[0]: must be a host name"},
		{"negative connections", "server:\n  max_connections: -1\n", "server.max_connections: must be positive"},
		{"external_url not a URL", "server:\n  external_url: assay.example.com\n", "server.external_url: must be an http or https URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.Parse(file, []byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "abc") || strings.Contains(err.Error(), "from-the-environment") {
				t.Errorf("the error quotes the token: %v", err)
			}
		})
	}
}
