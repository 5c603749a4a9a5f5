package checks_test

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/internal/safefile"
	"github.com/assay-monitor/assay/internal/yamlstrict"
)

// TestREADMEListsEveryLimit: the README's Limits table has a row for each
// bound of the loader and the templates, with the value the code uses.
func TestREADMEListsEveryLimit(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "\n### Limits\n")
	if !ok {
		t.Fatal("README has no Limits section")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	thousands := func(n int) string {
		s := strconv.Itoa(n)
		for i := len(s) - 3; i > 0; i -= 3 {
			s = s[:i] + "," + s[i:]
		}
		return s
	}
	hours := func(d time.Duration) string { return strconv.Itoa(int(d.Hours())) + "h" }
	for _, row := range [][2]string{
		{"a check file, `assay.yaml`", safefile.Size(checks.DefaultMaxFileSize)},
		{"nodes one YAML document expands to", thousands(yamlstrict.DefaultMaxNodes)},
		{"`timeout`, `request.timeout`", hours(checks.MaxTimeout)},
		{"`retries.backoff`, `retries.max_backoff`", hours(checks.MaxBackoff)},
		{"`retries.count`", strconv.Itoa(checks.MaxRetries)},
		{"a JSON Schema file", safefile.Size(checks.MaxSchemaSize)},
		{"nesting of a JSON Schema", strconv.Itoa(checks.MaxSchemaDepth) + " levels"},
		{"files one JSON Schema loads", strconv.Itoa(checks.MaxSchemaFiles)},
		{"text one template renders", safefile.Size(checks.MaxTemplateOutput)},
		{"range iterations and `{{ template }}` calls", thousands(checks.MaxTemplateSteps)},
		{"cookies one attempt's jar stores", thousands(checks.MaxJarCookies)},
		{"the name and value of a cookie the jar stores", strconv.Itoa(checks.MaxCookieSize) + " bytes"},
	} {
		found := false
		for _, line := range strings.Split(section, "\n") {
			if strings.HasPrefix(line, "| "+row[0]) && strings.Contains(line, "| "+row[1]) {
				found = true
			}
		}
		if !found {
			t.Errorf("README Limits: no row starting %q with the value %q", row[0], row[1])
		}
	}
}
