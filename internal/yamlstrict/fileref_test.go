package yamlstrict

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// expandOne expands the document src (a mapping "v: ...") as the file
// file, with env as the environment, and returns its value node, the
// decoder and what seen was told.
func expandOne(t *testing.T, file, src string, env map[string]string, secret func(string) bool) (*yaml.Node, *Decoder, map[string]string) {
	t.Helper()
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	d := &Decoder{File: file, Secret: secret}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	seen := map[string]string{}
	d.ExpandEnv(doc.Content[0], lookup, func(name, value string) { seen[name] = value })
	return doc.Content[0].Content[1], d, seen
}

// ${file:PATH} is the file's content less one trailing newline, a secret
// whatever it holds; a relative PATH is relative to the directory of the
// file being read; a file that cannot be read is one error that names
// the reference and why, never the content.
func TestFileReference(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	abs := write("token", "s3cr3t-from-file\n")
	write("crlf", "two\r\n")
	write("two-newlines", "kept\n\n")
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "checks.yaml")
	for _, tc := range []struct {
		name, src, want, wantErr string
	}{
		{"absolute", "v: ${file:" + abs + "}\n", "s3cr3t-from-file", ""},
		{"relative to the check file", "v: ${file:token}\n", "s3cr3t-from-file", ""},
		{"relative with a dot", "v: \"Bearer ${file:./sub/../token}\"\n", "Bearer s3cr3t-from-file", ""},
		{"one CRLF trimmed", "v: ${file:crlf}\n", "two", ""},
		{"one newline trimmed only", "v: ${file:two-newlines}\n", "kept\n", ""},
		{"a default around it", "v: ${UNSET:-${file:token}}\n", "s3cr3t-from-file", ""},
		{"escaped", "v: $${file:token}\n", "${file:token}", ""},
		{"missing", "v: ${file:nope}\n", "", "c: v: cannot read ${file:nope}: no such file or directory"},
		{"a directory", "v: ${file:sub}\n", "", "cannot read ${file:sub}: not a regular file"},
		{"no path", "v: ${file:}\n", "", "v: ${file:} needs a path, e.g. ${file:/run/secrets/api_token}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			val, d, _ := expandOne(t, file, tc.src, nil, nil)
			if tc.wantErr != "" {
				if len(d.Errs) != 1 || !strings.Contains(d.Errs[0].Error(), strings.TrimPrefix(tc.wantErr, "c: ")) {
					t.Fatalf("errors %v, want one with %q", d.Errs, tc.wantErr)
				}
				if strings.Contains(d.Errs[0].Error(), "s3cr3t") {
					t.Fatalf("the error shows a file's content: %v", d.Errs[0])
				}
				return
			}
			if len(d.Errs) != 0 || val.Value != tc.want {
				t.Fatalf("value %q, errors %v; want %q", val.Value, d.Errs, tc.want)
			}
			if strings.HasPrefix(tc.name, "escaped") {
				return
			}
			if !d.secret[val] {
				t.Fatalf("a value read with ${file:...} is not marked secret")
			}
		})
	}
}

// A file is read once however often it is referenced, and at most
// maxFileRefs distinct files are read by one decoder.
func TestFileReferenceBounds(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("v: [")
	for i := 0; i <= maxFileRefs; i++ {
		p := filepath.Join(dir, "f"+strings.Repeat("x", i))
		if err := os.WriteFile(p, []byte("abc"), 0o600); err != nil {
			t.Fatal(err)
		}
		b.WriteString("\"${file:" + p + "}\", \"${file:" + p + "}\", ")
	}
	b.WriteString("]\n")
	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(b.String()), &doc); err != nil {
		t.Fatal(err)
	}
	d := &Decoder{File: filepath.Join(dir, "c.yaml")}
	d.ExpandEnv(doc.Content[0], func(string) (string, bool) { return "", false }, nil)
	if len(d.files) != maxFileRefs+1 {
		t.Fatalf("%d files remembered, want %d", len(d.files), maxFileRefs+1)
	}
	// The reference beyond the bound fails, twice (it is written twice),
	// with the same message; those within it do not.
	if len(d.Errs) != 2 || !strings.Contains(d.Errs[0].Msg, "more than 32 files are read with ${file:...} in one file") {
		t.Fatalf("errors %v, want two for the file beyond the bound", d.Errs)
	}
}

// seen is told of the default a variable takes, so that the default of a
// secret variable is a secret; the default of another variable is not.
func TestDefaultOfSecretVariable(t *testing.T) {
	secret := func(name string) bool { return strings.Contains(name, "PASSWORD") }
	for _, tc := range []struct {
		src, name, want string
		secret          bool
	}{
		{"v: ${DB_PASSWORD:-hunter2}\n", "DB_PASSWORD", "hunter2", true},
		{"v: \"${DB_PASSWORD:-}\"\n", "DB_PASSWORD", "", false},
		{"v: ${TIMEOUT:-5s}\n", "TIMEOUT", "5s", false},
		{"v: ${DB_PASSWORD:-${OTHER:-nested}}\n", "DB_PASSWORD", "nested", true},
	} {
		val, d, seen := expandOne(t, "c.yaml", tc.src, nil, secret)
		if len(d.Errs) != 0 || val.Value != tc.want {
			t.Fatalf("%s: value %q, errors %v", tc.src, val.Value, d.Errs)
		}
		if got, ok := seen[tc.name]; !ok || got != tc.want {
			t.Errorf("%s: seen told %q of %s (told: %v), want %q", tc.src, got, tc.name, seen, tc.want)
		}
		if d.secret[val] != tc.secret {
			t.Errorf("%s: secret %v, want %v", tc.src, d.secret[val], tc.secret)
		}
	}
}

// SecretRef: a file reference, a VAR_FILE read and a name Secret marks
// are secrets; another variable is not.
func TestSecretRef(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "pw")
	if err := os.WriteFile(p, []byte("pw-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, d, seen := expandOne(t, "c.yaml", "v: \"${file:"+p+"} ${FROM_DISK} ${LISTED} ${PLAIN}\"\n",
		map[string]string{"FROM_DISK_FILE": p, "LISTED": "l-value", "PLAIN": "p-value"}, func(n string) bool { return n == "LISTED" })
	want := map[string]bool{"file:" + p: true, "FROM_DISK": true, "LISTED": true, "PLAIN": false}
	for name, secret := range want {
		if _, ok := seen[name]; !ok {
			t.Errorf("seen was not told of %s (told: %v)", name, seen)
		}
		if d.SecretRef(name) != secret {
			t.Errorf("SecretRef(%q) = %v, want %v", name, !secret, secret)
		}
	}
}

// SecretNames reads the names of a top-level secrets: list as written;
// CheckSecretNames reports what is not a name, once.
func TestSecretNames(t *testing.T) {
	var doc yaml.Node
	src := "secrets: [SESSION_ID, \"not a name\", \"${X}\", [nested]]\nchecks: []\n"
	if err := yaml.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	root := doc.Content[0]
	if got := SecretNames(root); len(got) != 1 || got[0] != "SESSION_ID" {
		t.Fatalf("SecretNames = %q, want [SESSION_ID]", got)
	}
	d := &Decoder{File: "c.yaml"}
	d.CheckSecretNames(root)
	want := []string{
		`c.yaml:1:23: secrets[1]: expected an environment variable name like API_TOKEN (letters, digits and '_'), got string "not a name"`,
		`c.yaml:1:37: secrets[2]: expected an environment variable name like API_TOKEN (letters, digits and '_'), got string "${X}"`,
	}
	if len(d.Errs) != len(want) {
		t.Fatalf("errors:\n%v\nwant:\n%s", d.Errs, strings.Join(want, "\n"))
	}
	for i, e := range d.Errs {
		if e.Error() != want[i] {
			t.Errorf("error %d:\n got %s\nwant %s", i, e, want[i])
		}
	}
}
