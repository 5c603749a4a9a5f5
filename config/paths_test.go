package config_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/assay-monitor/assay/config"
)

// TestPathsAreRelativeToTheConfigFile: a relative path written in
// assay.yaml means the same file whatever the working directory; the
// defaults, which the file did not write, stay relative to the working
// directory.
func TestPathsAreRelativeToTheConfigFile(t *testing.T) {
	etc := filepath.Join(t.TempDir(), "etc", "assay")
	for _, tc := range []struct {
		name, yaml        string
		storage, checkDir string
	}{
		{"relative", "storage: { path: data/assay.db }\nchecks: { dir: checks.d }\n",
			filepath.Join(etc, "data", "assay.db"), filepath.Join(etc, "checks.d")},
		{"parent", "storage: { path: ../state.db }\nchecks: { dir: ../checks }\n",
			filepath.Join(filepath.Dir(etc), "state.db"), filepath.Join(filepath.Dir(etc), "checks")},
		{"absolute", "storage: { path: /var/lib/assay/assay.db }\nchecks: { dir: /srv/checks }\n",
			"/var/lib/assay/assay.db", "/srv/checks"},
		{"defaults", "server: { listen: 127.0.0.1:9999 }\n", config.DefaultStorage, config.DefaultChecksDir},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(etc, tc.name+".yaml")
			c, err := config.Parse(file, []byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			if c.Storage.Path != tc.storage || c.Checks.Dir != tc.checkDir {
				t.Errorf("storage.path %q, checks.dir %q; want %q, %q", c.Storage.Path, c.Checks.Dir, tc.storage, tc.checkDir)
			}
		})
	}
	// Load resolves against the file it read, given relative to the
	// working directory.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "assay.yaml"), []byte("storage: { path: s.db }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(filepath.Dir(dir))
	c, err := config.Load(filepath.Join(filepath.Base(dir), "assay.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(filepath.Base(dir), "s.db"); c.Storage.Path != want {
		t.Errorf("storage.path %q, want %q", c.Storage.Path, want)
	}
	if got := config.Default().ResolvePath("x.db"); got != "x.db" {
		t.Errorf("Default().ResolvePath = %q, want it unchanged", got)
	}
}
