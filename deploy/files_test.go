package deploy_test

import (
	"encoding/json"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// Every YAML file under deploy/ parses, every document of it, and every
// JSON file; the list of files is the README's.
func TestEveryFileParses(t *testing.T) {
	var files []string
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files = append(files, filepath.ToSlash(p))
		switch filepath.Ext(p) {
		case ".yaml", ".yml":
			docs := yamlDocs[yaml.Node](t, p)
			if len(docs) == 0 {
				t.Errorf("%s: no YAML document", p)
			}
		case ".json":
			var v any
			if err := json.Unmarshal(readFile(t, p), &v); err != nil {
				t.Errorf("%s: %v", p, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	readme := string(readFile(t, "../README.md"))
	for _, f := range files {
		if strings.HasSuffix(f, ".go") {
			continue
		}
		if !strings.Contains(readme, "`deploy/"+f+"`") {
			t.Errorf("README.md does not list `deploy/%s`", f)
		}
	}
	if !slices.Contains(files, "compose.yaml") {
		t.Errorf("no compose.yaml in %q", files)
	}
}

func TestEnvRefs(t *testing.T) {
	tests := []struct {
		text         string
		withDefaults bool
		want         []string
	}{
		{"dsn: ${ASSAY_POSTGRES_DSN}\nurl: ${SLACK}/x ${ASSAY_POSTGRES_DSN}", false, []string{"ASSAY_POSTGRES_DSN", "SLACK"}},
		{"url: ${DEMO_API_URL:-http://127.0.0.1:8787}/healthz", false, nil},
		{"url: ${DEMO_API_URL:-http://127.0.0.1:8787}/healthz", true, []string{"DEMO_API_URL"}},
		{"price: $$5 and $${NOT_A_VAR} but ${A}", false, []string{"A"}},
		{"$HOME ${", false, nil},
	}
	for _, tt := range tests {
		if got := envRefs(tt.text, tt.withDefaults); !slices.Equal(got, tt.want) {
			t.Errorf("envRefs(%q, %v) = %q, want %q", tt.text, tt.withDefaults, got, tt.want)
		}
	}
}
