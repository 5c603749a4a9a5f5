package config_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/assay-monitor/assay/config"
	"github.com/assay-monitor/assay/internal/yamlstrict"
)

// TestAliasExpansionIsBounded: the global config shares the check files'
// decoder and its bound: a "billion laughs" is one error, in small memory.
func TestAliasExpansionIsBounded(t *testing.T) {
	for _, levels := range []int{6, 9, 20} {
		var b strings.Builder
		b.WriteString("notifiers:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
		for i := 1; i <= levels; i++ {
			fmt.Fprintf(&b, "  a%d: &a%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d, ", i-1), 10), ", "))
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := config.Parse("assay.yaml", []byte(b.String()))
		runtime.ReadMemStats(&after)
		var es yamlstrict.Errors
		if !errors.As(err, &es) || len(es) != 1 || !strings.HasSuffix(es[0].Error(), "the document expands to more than 1000000 nodes (YAML aliases)") {
			t.Errorf("%d levels: %v", levels, err)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
			t.Errorf("%d levels: %d MiB allocated", levels, alloc>>20)
		}
	}
}

// TestOnlyRegularFilesAreRead: config.Load reads a regular file or a
// symlink to one, and refuses a device or a directory at once; a file that
// is not an assay config is one error quoting none of it.
func TestOnlyRegularFilesAreRead(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target.yaml")
	if err := os.WriteFile(target, []byte("server: { listen: \"127.0.0.1:1\" }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "assay.yaml")
	zero := filepath.Join(dir, "zero.yaml")
	for target, name := range map[string]string{target: link, "/dev/zero": zero} {
		if err := os.Symlink(target, name); err != nil {
			t.Fatal(err)
		}
	}
	if c, err := config.Load(link); err != nil || c.Server.Listen != "127.0.0.1:1" {
		t.Errorf("symlink to a regular file: %v", err)
	}
	for _, p := range []string{zero, dir} {
		if _, err := config.Load(p); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("%s: %v", p, err)
		}
	}
	shadow := filepath.Join(dir, "shadow")
	if err := os.WriteFile(shadow, []byte("root:$6$salt$hash:19000:0:99999:7:::\nalice:*:19000:0:99999:7:::\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := config.Load(shadow)
	if err == nil || strings.Contains(err.Error(), "root") || strings.Contains(err.Error(), "alice") ||
		!strings.HasSuffix(err.Error(), "shadow: not an assay config file (expected a mapping with server, storage, defaults, checks, metrics, web, cluster, notifiers, secrets, timezone, maintenance)") {
		t.Errorf("shadow: %v", err)
	}
}

// TestConfigTextErrorsArePositioned: invalid UTF-8 and YAML syntax errors
// name their line and column, like check files.
func TestConfigTextErrorsArePositioned(t *testing.T) {
	for src, want := range map[string]string{
		"server:\n  listen: \"a\xffb\"\n": "assay.yaml:2:13: invalid UTF-8 (byte 0xff)",
		"server:\n  listen: [1\n":         "assay.yaml:2:1: invalid YAML: did not find expected ',' or ']'",
	} {
		_, err := config.Parse("assay.yaml", []byte(src))
		if err == nil || err.Error() != want {
			t.Errorf("%q: %v, want %s", src, err, want)
		}
	}
}

// TestSecretsNeverInConfigErrors: a secret-looking variable's value that
// fails to load is not printed.
func TestSecretsNeverInConfigErrors(t *testing.T) {
	t.Setenv("ASSAY_TEST_API_TOKEN", "cfg-s3cr3t-"+strings.Repeat("x", 80))
	for _, src := range []string{
		"checks:\n  concurrency: ${ASSAY_TEST_API_TOKEN}\n",
		"server:\n  shutdown_grace: \"${ASSAY_TEST_API_TOKEN}\"\n",
		"storage:\n  retention: ${ASSAY_TEST_API_TOKEN}\n",
	} {
		_, err := config.Parse("assay.yaml", []byte(src))
		if err == nil || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("%q: %v", src, err)
		}
	}
}
