package main

import (
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// commandPaths lists every command of the tree but cobra's own help and
// completion plumbing, as argument lists (["notifications", "retry"]).
func commandPaths() [][]string {
	var out [][]string
	var walkTree func(c *cobra.Command, path []string)
	walkTree = func(c *cobra.Command, path []string) {
		for _, sub := range c.Commands() {
			if sub.Hidden || sub.Name() == "help" || sub.Name() == "completion" {
				continue
			}
			p := append(slices.Clone(path), sub.Name())
			out = append(out, p)
			walkTree(sub, p)
		}
	}
	walkTree(newRoot(io.Discard, io.Discard), nil)
	return out
}

// TestEveryCommandHelpListsEveryFlag: `assay help CMD` and `assay CMD
// --help` print, on stdout with exit 0, the synopsis and every flag the
// command accepts.
func TestEveryCommandHelpListsEveryFlag(t *testing.T) {
	paths := commandPaths()
	var names []string
	for _, p := range paths {
		names = append(names, strings.Join(p, " "))
	}
	for _, want := range []string{"run", "demo", "test", "validate", "explain", "demo-api", "notify", "notify test",
		"replay", "notifications", "notifications list", "notifications retry", "notifications drop", "version"} {
		if !slices.Contains(names, want) {
			t.Errorf("no command %q (have %q)", want, names)
		}
	}
	root := newRoot(io.Discard, io.Discard)
	for _, p := range paths {
		t.Run(strings.Join(p, "_"), func(t *testing.T) {
			cmd, _, err := root.Find(p)
			if err != nil {
				t.Fatal(err)
			}
			var flags []string
			cmd.Flags().VisitAll(func(f *pflag.Flag) { flags = append(flags, "--"+f.Name) })
			if !slices.Contains(flags, "--help") {
				t.Errorf("no --help flag: %v", flags)
			}
			for _, args := range [][]string{append([]string{"help"}, p...), append(slices.Clone(p), "--help"), append(slices.Clone(p), "-help")} {
				code, stdout, stderr := invoke(t, args...)
				if code != exitOK || stderr != "" {
					t.Fatalf("%v: exit %d, stderr %q", args, code, stderr)
				}
				if !strings.Contains(stdout, "Usage:\n  assay "+strings.Join(p, " ")) {
					t.Errorf("%v: no synopsis:\n%s", args, stdout)
				}
				for _, f := range flags {
					if !strings.Contains(stdout, f) {
						t.Errorf("%v: flag %s is not in the help:\n%s", args, f, stdout)
					}
				}
			}
		})
	}
}

func TestHelpTestShowsTheFlags(t *testing.T) {
	code, stdout, stderr := invoke(t, "help", "test")
	if code != exitOK || stderr != "" {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	for _, want := range []string{
		"Usage:\n  assay test [PATH...] [flags]\n",
		"      --junit FILE       write a JUnit XML report to FILE (- for standard output)\n",
		"      --parallel N       run at most N checks at once (default 8)\n",
		"  -v, --verbose          also show passing steps\n",
		"exits 130 (143 for SIGTERM)",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("help test lacks %q:\n%s", want, stdout)
		}
	}
}

// TestCompletionScripts: every shell gets a script on stdout, and the
// completion of a flag's value offers its fixed values.
func TestCompletionScripts(t *testing.T) {
	for shell, marker := range map[string]string{
		"bash":       "__start_assay",
		"zsh":        "#compdef assay",
		"fish":       "complete -c assay",
		"powershell": "Register-ArgumentCompleter",
	} {
		t.Run(shell, func(t *testing.T) {
			code, stdout, stderr := invoke(t, "completion", shell)
			if code != exitOK || stderr != "" || !strings.Contains(stdout, marker) {
				t.Errorf("exit %d, stderr %q, script lacks %q (%d bytes)", code, stderr, marker, len(stdout))
			}
		})
	}
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"__complete", "test", "--color", ""}, []string{"auto", "always", "never", ":4"}},
		{[]string{"__complete", "demo-api", "--fault", "no-"}, []string{"no-etag", ":4"}},
		{[]string{"__complete", "notifications", "list", "--status", ""}, []string{"pending", "dead", ":4"}},
		{[]string{"__complete", "explain", "--checks", "../../checks.d", "documents-c"}, []string{"documents-conditional-update", "documents-contract", ":4"}},
		{[]string{"__complete", "help", "notif"}, []string{"notifications\tlist the outbox and dead letters; retry ID or drop ID", "notify\tnotify test NAME: send a test event through a notifier of the global config", ":4"}},
	} {
		code, stdout, stderr := invoke(t, tc.args...)
		got := nonEmptyLines(stdout)
		slices.Sort(got)
		want := slices.Clone(tc.want)
		slices.Sort(want)
		if code != exitOK || !slices.Equal(got, want) {
			t.Errorf("%v: exit %d, got %q, want %q (stderr %q)", tc.args, code, got, want, stderr)
		}
	}
}

// TestSingleDashLongFlagsAreRewritten: -junit FILE, the form Go's flag
// package accepted, reaches pflag as --junit FILE; values, shorthands and
// everything after -- are left alone.
func TestSingleDashLongFlagsAreRewritten(t *testing.T) {
	root := newRoot(io.Discard, io.Discard)
	for _, tc := range []struct{ in, want []string }{
		{[]string{"test", "checks.d", "-junit", "out.xml"}, []string{"test", "checks.d", "--junit", "out.xml"}},
		{[]string{"test", "-parallel=2", "-v", "-json", "-"}, []string{"test", "--parallel=2", "-v", "--json", "-"}},
		{[]string{"test", "--name", "-odd-*", "-tag", "-x"}, []string{"test", "--name", "-odd-*", "--tag", "-x"}},
		{[]string{"test", "-v", "checks.d", "-help"}, []string{"test", "-v", "checks.d", "--help"}},
		{[]string{"test", "--", "-junit"}, []string{"test", "--", "-junit"}},
		{[]string{"-version"}, []string{"--version"}},
		{[]string{"demo", "-once", "-every", "2s"}, []string{"demo", "--once", "--every", "2s"}},
		{[]string{"notifications", "retry", "-server", "http://x", "5"}, []string{"notifications", "retry", "--server", "http://x", "5"}},
		{[]string{"explain", "-5"}, []string{"explain", "-5"}},
	} {
		if got := normalizeArgs(root, tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("normalizeArgs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSingleDashAndOldSpellingsWork(t *testing.T) {
	docServer(t)
	dir := writeFiles(t, map[string]string{"pass.yaml": passingCheck})
	out := t.TempDir() + "/junit.xml"
	// -v and --v were the verbose flag; --verbose is its name now.
	for _, args := range [][]string{
		{"test", dir, "-junit", out, "-parallel=1", "-v"},
		{"test", "--v", "-color", "never", dir},
		{"test", dir, "--verbose=true"},
	} {
		code, stdout, stderr := invoke(t, args...)
		if code != exitOK || !strings.Contains(stdout, "ok    read") {
			t.Errorf("%v: exit %d, stderr %q, stdout:\n%s", args, code, stderr, stdout)
		}
	}
}
