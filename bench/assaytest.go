package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// buildAssay builds cmd/assay into dir, unless path names a binary.
func buildAssay(path, dir string) (string, error) {
	if path != "" {
		return path, nil
	}
	out := filepath.Join(dir, "assay")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/assay")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go build ./cmd/assay (run the bench from the repository root, or pass -assay): %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// runAssayTest times `assay test DIR --parallel P` on n contract checks,
// each on a document of its own; best of runs.
func runAssayTest(bin, tmp, target string, n, parallel, runs int) (time.Duration, error) {
	client := plainClient()
	defer client.CloseIdleConnections()
	dir := filepath.Join(tmp, "contracts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	var b strings.Builder
	b.WriteString("checks:\n")
	for i := 0; i < n; i++ {
		id, err := createDoc(client, target)
		if err != nil {
			return 0, err
		}
		text := fmt.Sprintf(contractYAML, target, id)
		b.WriteString(strings.TrimPrefix(text, "checks:\n"))
	}
	if err := os.WriteFile(filepath.Join(dir, "contracts.yaml"), []byte(b.String()), 0o644); err != nil {
		return 0, err
	}
	best := time.Duration(0)
	for r := 0; r < runs; r++ {
		cmd := exec.Command(bin, "test", dir, "--parallel", fmt.Sprint(parallel), "--color", "never")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		err := cmd.Run()
		wall := time.Since(start)
		if err != nil {
			tail := out.String()
			if len(tail) > 2000 {
				tail = tail[len(tail)-2000:]
			}
			return 0, fmt.Errorf("assay test: %v\n%s", err, tail)
		}
		if best == 0 || wall < best {
			best = wall
		}
	}
	return best, nil
}
