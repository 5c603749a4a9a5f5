package config_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/assay-monitor/assay/config"
)

// Rule: assay.yaml's secrets: lists environment variables whose values
// are secrets whatever they are called: a value of one that fails to load
// is shown as written; the list reaches the config for the check loader;
// a value from ${file:PATH} is a secret too, read relative to the config.
func TestConfigSecretsList(t *testing.T) {
	t.Setenv("ASSAY_TEST_SESSION", "sess-v4lue-"+strings.Repeat("y", 20))
	src := "secrets: [ASSAY_TEST_SESSION]\nchecks:\n  concurrency: ${ASSAY_TEST_SESSION}\n"
	_, err := config.Parse("assay.yaml", []byte(src))
	if err == nil || strings.Contains(err.Error(), "v4lue") || !strings.Contains(err.Error(), "${ASSAY_TEST_SESSION}") {
		t.Fatalf("error %v: want one that quotes ${ASSAY_TEST_SESSION} as written", err)
	}
	// Without the list, the name does not look secret: the value shows.
	_, err = config.Parse("assay.yaml", []byte("checks:\n  concurrency: ${ASSAY_TEST_SESSION}\n"))
	if err == nil || !strings.Contains(err.Error(), "v4lue") {
		t.Fatalf("error %v: want one that quotes the value (the test is not testing)", err)
	}

	c, err := config.Parse("assay.yaml", []byte("secrets: [ASSAY_TEST_SESSION, OTHER]\n"))
	if err != nil || !slices.Equal(c.Secrets, []string{"ASSAY_TEST_SESSION", "OTHER"}) {
		t.Fatalf("secrets %v, error %v", c, err)
	}

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "grace"), []byte("f1le-v4lue-zz\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = config.Parse(filepath.Join(dir, "assay.yaml"), []byte("server:\n  shutdown_grace: ${file:grace}\n"))
	if err == nil || strings.Contains(err.Error(), "f1le") || !strings.Contains(err.Error(), "${file:grace}") {
		t.Fatalf("error %v: want one that quotes ${file:grace} as written", err)
	}
}

// Rule: secrets: holds names; anything else is an error at its position.
func TestConfigSecretsMustBeNames(t *testing.T) {
	_, err := config.Parse("assay.yaml", []byte("secrets: [\"not a name\"]\n"))
	want := `assay.yaml:1:11: secrets[0]: expected an environment variable name like API_TOKEN (letters, digits and '_'), got string "not a name"`
	if err == nil || err.Error() != want {
		t.Fatalf("error:\n%v\nwant:\n%s", err, want)
	}
}
