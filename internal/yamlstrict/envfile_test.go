package yamlstrict

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// ${VAR} reads the file VAR_FILE names when VAR is unset (less one
// trailing newline), and a value read so is a secret whatever its name;
// VAR itself wins when set, and an unreadable file is one clear error.
func TestVarFileFallback(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "dsn")
	if err := os.WriteFile(secret, []byte("postgres://u:pw@db/assay\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    string
		secret  bool
		wantErr string
	}{
		{"from the file", map[string]string{"DSN_FILE": secret}, "postgres://u:pw@db/assay", true, ""},
		{"the variable wins", map[string]string{"DSN": "set", "DSN_FILE": secret}, "set", false, ""},
		{"neither", map[string]string{}, "", false, "environment variable DSN is not set (use ${DSN:-default} for a default)"},
		{"unreadable", map[string]string{"DSN_FILE": filepath.Join(dir, "missing")}, "", false,
			"environment variable DSN is not set, and DSN_FILE names a file that cannot be read: no such file or directory"},
		{"a directory", map[string]string{"DSN_FILE": dir}, "", false, "DSN_FILE names a file that cannot be read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var doc yaml.Node
			if err := yaml.Unmarshal([]byte("dsn: ${DSN}\n"), &doc); err != nil {
				t.Fatal(err)
			}
			d := &Decoder{File: "c.yaml"}
			lookup := func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }
			d.ExpandEnv(doc.Content[0], lookup, nil)
			val := doc.Content[0].Content[1]
			if tc.wantErr != "" {
				if len(d.Errs) != 1 || !strings.Contains(d.Errs[0].Error(), tc.wantErr) {
					t.Fatalf("errors %v, want one with %q", d.Errs, tc.wantErr)
				}
				return
			}
			if len(d.Errs) != 0 || val.Value != tc.want || d.secret[val] != tc.secret {
				t.Fatalf("value %q (secret %v), errors %v; want %q (secret %v)", val.Value, d.secret[val], d.Errs, tc.want, tc.secret)
			}
		})
	}
}
