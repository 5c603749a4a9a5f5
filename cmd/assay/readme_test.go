package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/config"
	"github.com/assay-monitor/assay/internal/yamlstrict"
	"go.yaml.in/yaml/v3"
)

// yamlBlock is a ```yaml block of a Markdown file.
type yamlBlock struct {
	line int // of the first line of content
	text string
}

// yamlBlocks extracts the fenced yaml blocks, indented ones (in lists)
// included, with the fence's indentation removed.
func yamlBlocks(md string) []yamlBlock {
	var out []yamlBlock
	var cur *yamlBlock
	indent := ""
	for i, l := range strings.Split(md, "\n") {
		trimmed := strings.TrimLeft(l, " ")
		switch {
		case cur == nil && trimmed == "```yaml":
			indent = l[:len(l)-len(trimmed)]
			cur = &yamlBlock{line: i + 2}
		case cur != nil && trimmed == "```":
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.text += strings.TrimPrefix(l, indent) + "\n"
		}
	}
	return out
}

// configKeys are the top-level keys of assay.yaml.
var configKeys = []string{"server", "storage", "defaults", "checks", "metrics", "web", "notifiers", "timezone", "maintenance"}

// blockKind tells the README's examples apart: a check file has a list
// under checks:; a global config has only assay.yaml's top-level keys (its
// checks: is a mapping), or says so with a first line "# assay.yaml".
// Anything else (a fragment such as expect:, a Kubernetes manifest) is
// not a whole file.
func blockKind(text string) string {
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		return "invalid YAML: " + err.Error()
	}
	if strings.HasPrefix(text, "# assay.yaml") {
		return "config"
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return "fragment"
	}
	m := doc.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == "checks" && m.Content[i+1].Kind == yaml.SequenceNode {
			return "checks"
		}
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if !slices.Contains(configKeys, m.Content[i].Value) {
			return "fragment"
		}
	}
	return "config"
}

var envVarRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)`)

// harmless is a value for a variable an example reads: a loopback URL
// for a URL, a word for anything else.
func harmless(name string) string {
	if strings.HasSuffix(name, "_URL") {
		return "http://127.0.0.1:8787"
	}
	return "readme-example-value"
}

// TestREADMEExamplesLoad: every global config and every check file shown
// in README.md loads as shown (with the variables it reads set), so that
// an operator who copies one gets no error. Check files are parsed as if
// they were in checks.d, where the files they name (schemas/...) are.
func TestREADMEExamplesLoad(t *testing.T) {
	md, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, b := range yamlBlocks(string(md)) {
		kind := blockKind(b.text)
		counts[kind]++
		name := fmt.Sprintf("README.md:%d", b.line)
		if kind != "config" && kind != "checks" {
			if kind != "fragment" {
				t.Errorf("%s: %s", name, kind)
			}
			continue
		}
		t.Run(fmt.Sprintf("%s_line_%d", kind, b.line), func(t *testing.T) {
			for _, m := range envVarRef.FindAllStringSubmatch(b.text, -1) {
				t.Setenv(m[1], harmless(m[1]))
			}
			var err error
			switch kind {
			case "config":
				_, err = config.Parse("README.md", []byte(b.text))
			case "checks":
				file := filepath.Join("..", "..", "checks.d", fmt.Sprintf("readme-line-%d.yaml", b.line))
				_, err = checks.Parse(file, []byte(b.text))
			}
			if err != nil {
				t.Errorf("the %s example at %s does not load:\n%v", kind, name, inREADME(err, b.line))
			}
		})
	}
	// The classification must keep finding the examples.
	if counts["config"] < 2 || counts["checks"] < 5 {
		t.Errorf("found %d global configs and %d check files in README.md, want at least 2 and 5: %v", counts["config"], counts["checks"], counts)
	}
}

// inREADME moves the positions of errors in a block to README.md's lines.
func inREADME(err error, firstLine int) error {
	var es yamlstrict.Errors
	if !errors.As(err, &es) {
		return err
	}
	for _, e := range es {
		e.Pos.File = "README.md"
		if e.Pos.Line > 0 {
			e.Pos.Line += firstLine - 1
		}
	}
	return es
}
