package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/assay-monitor/assay/internal/buildinfo"
)

func TestFormatVersion(t *testing.T) {
	for _, tc := range []struct {
		name string
		bi   buildinfo.Info
		want string
	}{
		{"release", buildinfo.Info{Revision: "4596e4f0aa3c2c8d6f0b1f1c9d3e2a1b0c9d8e7f", Time: "2026-01-02T03:04:05Z", GoVersion: "go1.26.8", Platform: "linux/amd64"},
			"assay v1.2.3\nrevision: 4596e4f0aa3c2c8d6f0b1f1c9d3e2a1b0c9d8e7f\ncommit:   2026-01-02T03:04:05Z\ngo:       go1.26.8 linux/amd64\n"},
		{"modified tree", buildinfo.Info{Revision: "abc1234", Modified: true, GoVersion: "go1.26.8", Platform: "linux/arm64"},
			"assay v1.2.3\nrevision: abc1234 (modified)\ngo:       go1.26.8 linux/arm64\n"},
		{"go run", buildinfo.Info{Revision: buildinfo.Unknown, GoVersion: "go1.26.8", Platform: "linux/amd64"},
			"assay v1.2.3\nrevision: unknown (built without VCS information)\ngo:       go1.26.8 linux/amd64\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := formatVersion("v1.2.3", tc.bi); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
		})
	}
}

// TestVersionCommandAndFlag: assay version and assay --version print the
// same text, on stdout, from the running binary's build information.
func TestVersionCommandAndFlag(t *testing.T) {
	want := formatVersion(version, buildinfo.Read())
	for _, args := range [][]string{{"version"}, {"--version"}, {"-version"}} {
		code, stdout, stderr := invoke(t, args...)
		if code != exitOK || stderr != "" || stdout != want {
			t.Errorf("%v: exit %d, stderr %q, stdout:\n%s\nwant:\n%s", args, code, stderr, stdout, want)
		}
	}
}

// TestVersionShowsTheVCSRevisionOfABuild builds assay as a user does,
// from a git checkout (go build stamps the VCS revision), and checks that
// assay --version prints the commit and whether the tree was modified,
// and that the daemon of that binary exports the same revision in
// assay_build_info. The checkout is a copy of this tree committed in a
// temporary repository: go build does not stamp from a git worktree, and
// the copy has the working tree's changes.
func TestVersionShowsTheVCSRevisionOfABuild(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds a binary")
	}
	src := copyTreeToRepo(t, "../..")
	build := func() string {
		t.Helper()
		bin := filepath.Join(t.TempDir(), "assay")
		// -buildvcs=true overrides a GOFLAGS=-buildvcs=false of the machine.
		cmd := exec.Command("go", "build", "-buildvcs=true", "-ldflags", "-X main.version=v9.9.9-test", "-o", bin, "./cmd/assay")
		cmd.Dir = src.dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
		return bin
	}
	versionLines := func(bin string) []string {
		t.Helper()
		out, err := exec.Command(bin, "--version").Output()
		if err != nil {
			t.Fatalf("assay --version: %v", err)
		}
		return strings.Split(string(out), "\n")
	}
	bin := build()
	if got := versionLines(bin); len(got) < 4 || got[0] != "assay v9.9.9-test" || got[1] != "revision: "+src.head || !strings.HasPrefix(got[2], "commit:   ") {
		t.Fatalf("assay --version of a clean checkout:\n%s\nwant assay v9.9.9-test, revision: %s, commit: ...", strings.Join(got, "\n"), src.head)
	}
	// An uncommitted change is marked.
	readme := filepath.Join(src.dir, "README.md")
	if err := os.WriteFile(readme, []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := versionLines(build()); got[1] != "revision: "+src.head+" (modified)" {
		t.Errorf("assay --version of a modified checkout: %q, want %q", got[1], "revision: "+src.head+" (modified)")
	}
	head := src.head

	// The daemon of the same binary exports the same revision.
	dir := t.TempDir()
	cfg := filepath.Join(dir, "assay.yaml")
	if err := os.WriteFile(cfg, []byte("storage: { path: state/assay.db }\nchecks: { dir: checks }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "checks"), 0o755); err != nil {
		t.Fatal(err)
	}
	daemon := exec.Command(bin, "run", "--config", cfg, "--listen", "127.0.0.1:0", "--log-format", "json")
	stderr, err := daemon.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	defer func() {
		_ = daemon.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = daemon.Process.Kill()
		}
	}()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var line struct{ Msg, Listen string }
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "assay running" {
				addr <- line.Listen
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		exited <- daemon.Wait()
	}()
	var listen string
	select {
	case listen = <-addr:
	case err := <-exited:
		t.Fatalf("assay run exited: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("assay run did not log that it runs within 30s")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+listen+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`assay_build_info\{[^}]*revision="([^"]*)"[^}]*version="v9.9.9-test"`).FindSubmatch(body)
	if m == nil || string(m[1]) != head {
		t.Errorf("assay_build_info does not carry revision %s:\n%s", head, regexp.MustCompile(`(?m)^assay_build_info.*$`).Find(body))
	}
}

// repoCopy is a temporary git repository holding a copy of a tree.
type repoCopy struct{ dir, head string }

// copyTreeToRepo copies the files git would track in root (tracked or
// not ignored, as they are in the working tree) to a new repository and
// commits them.
func copyTreeToRepo(t *testing.T, root string) repoCopy {
	t.Helper()
	git := func(dir string, args ...string) string {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=assay test", "-c", "user.email=test@assay.invalid", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("git %v in %s: %v (the test needs git)", args, dir, err)
		}
		return strings.TrimSpace(string(out))
	}
	dst := t.TempDir()
	for _, name := range strings.Split(git(root, "ls-files", "--cached", "--others", "--exclude-standard", "-z"), "\x00") {
		if name == "" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted in the working tree
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dst, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git(dst, "init", "-q")
	git(dst, "add", "-A")
	git(dst, "commit", "-q", "-m", "copy for TestVersionShowsTheVCSRevisionOfABuild")
	return repoCopy{dir: dst, head: git(dst, "rev-parse", "HEAD")}
}
