package main

import (
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/internal/demoapi"
)

// runnableMark is the first line of a README check file that passes
// against the demo API as shown.
const runnableMark = "# runnable against the demo API"

// TestREADMERunnableExamplesPass: every check file in README.md marked
// runnable passes against a fresh demo API, so that the examples show what
// the engine does, not only what it loads.
func TestREADMERunnableExamplesPass(t *testing.T) {
	md, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, b := range yamlBlocks(string(md)) {
		if !strings.HasPrefix(b.text, runnableMark+"\n") {
			continue
		}
		n++
		t.Run(fmt.Sprintf("line_%d", b.line), func(t *testing.T) {
			api := httptest.NewServer(demoapi.New(demoapi.Options{}))
			defer api.Close()
			for _, m := range envVarRef.FindAllStringSubmatch(b.text, -1) {
				t.Setenv(m[1], harmless(m[1]))
			}
			t.Setenv("DEMO_API_URL", api.URL)
			file := filepath.Join("..", "..", "checks.d", fmt.Sprintf("readme-line-%d.yaml", b.line))
			cs, err := checks.Parse(file, []byte(b.text))
			if err != nil {
				t.Fatalf("README.md:%d does not load:\n%v", b.line, inREADME(err, b.line))
			}
			runner := checks.NewRunner(checks.RunnerOptions{})
			defer runner.Close()
			for _, c := range cs {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				res := runner.Run(ctx, c)
				cancel()
				if !res.Passed {
					t.Errorf("README.md:%d: check %s fails against the demo API: %s: %s", b.line, c.Name, res.Reason, res.Message)
				}
			}
		})
	}
	if n < 2 {
		t.Errorf("found %d runnable examples in README.md, want at least 2", n)
	}
}
