package deploy_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// maxFile bounds what the tests read: the deployment files are small.
const maxFile = 1 << 20

// readFile reads a file of the deploy directory (or, with "..", of the
// repository), refusing anything larger than maxFile.
func readFile(t *testing.T, path string) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFile+1))
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > maxFile {
		t.Fatalf("%s: larger than %d bytes", path, maxFile)
	}
	return data
}

// yamlDocs decodes every document of a YAML file into T.
func yamlDocs[T any](t *testing.T, path string) []T {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(readFile(t, path)))
	var docs []T
	for {
		var v T
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: document %d: %v", path, len(docs)+1, err)
		}
		docs = append(docs, v)
	}
}

// yamlDoc decodes a file that holds exactly one YAML document.
func yamlDoc[T any](t *testing.T, path string) T {
	t.Helper()
	docs := yamlDocs[T](t, path)
	if len(docs) != 1 {
		t.Fatalf("%s: %d YAML documents, want 1", path, len(docs))
	}
	return docs[0]
}

// lookTool finds a binary of Debian's prometheus or prometheus-alertmanager
// package. Without it the test is skipped on a workstation and fails in CI
// (CI=true), where .ci/run installs both; e2e does the same.
func lookTool(t *testing.T, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/bin/" + name); err == nil {
		return "/usr/bin/" + name
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s not found (install the Debian packages prometheus and prometheus-alertmanager)", name)
	}
	t.Skipf("%s not found (apt-get install -y prometheus prometheus-alertmanager); skipping", name)
	return ""
}

// runTool runs a tool and returns its combined output; a non-zero exit
// fails the test with that output.
func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(lookTool(t, name), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// writeTemp writes data to a new file in the test's temporary directory.
func writeTemp(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// envRefs lists the variables a text references as ${VAR}, in order,
// without duplicates, and with withDefaults also those of ${VAR:-default}
// ($$ is a literal dollar).
func envRefs(text string, withDefaults bool) []string {
	var refs []string
	seen := map[string]bool{}
	for i := 0; i < len(text); i++ {
		if text[i] != '$' || i+1 >= len(text) {
			continue
		}
		if text[i+1] == '$' {
			i++
			continue
		}
		if text[i+1] != '{' {
			continue
		}
		end := strings.IndexByte(text[i:], '}')
		if end < 0 {
			break
		}
		name, _, hasDefault := strings.Cut(text[i+2:i+end], ":-")
		if (withDefaults || !hasDefault) && !seen[name] {
			seen[name] = true
			refs = append(refs, name)
		}
		i += end
	}
	return refs
}
