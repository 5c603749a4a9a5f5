package checks_test

import (
	"slices"
	"strings"
	"testing"
)

// shadow is what a symlink to /etc/shadow would show the loader.
const shadow = "root:$6$Zx9salt$H4shOfTheRootPassword0123456789abcdef:19000:0:99999:7:::\n" +
	"daemon:*:19000:0:99999:7:::\nalice:$6$pepper$AlicesHashAlicesHash:19100:0:99999:7:::\n"

// secretBits are pieces of the files below that must appear in no error.
var secretBits = []string{"root", "H4sh", "alice", "Alices", "daemon", "BEGIN", "MIIE", "hunter2", "postgres://", "db-pass"}

func noSecretBits(t *testing.T, what string, lines []string) {
	t.Helper()
	for _, l := range lines {
		for _, b := range secretBits {
			if strings.Contains(l, b) {
				t.Errorf("%s: %q quotes %q", what, l, b)
			}
		}
	}
}

// TestForeignFilesAreNotEchoed: a file that is not a check file (another
// tool's YAML, a JSON credentials file, /etc/shadow behind a symlink) is
// one error that quotes none of it, as is one that is not YAML at all;
// and the files a check names (schemas, specs, certificates) are never
// quoted: only their path and what is wrong.
func TestForeignFilesAreNotEchoed(t *testing.T) {
	for name, src := range map[string]string{
		"shadow":      shadow,
		"json":        `{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\nMIIE\n", "client_email": "alice@x"}`,
		"compose":     "services:\n  db:\n    image: postgres\n    environment: { DATABASE_URL: \"postgres://root:db-pass@db/x\" }\n",
		"k8s secret":  "apiVersion: v1\nkind: Secret\ndata: { password: aHVudGVyMg== }\nstringData: { hunter2: root }\n",
		"text":        "hunter2 is the root password of alice\n",
		"list":        "- root\n- alice\n",
		"two docs":    "checks: []\n---\nroot: alice\n",
		"bare scalar": "H4sh\n",
	} {
		writeTree(t, map[string]string{"x.yaml": src})
		got := errorLines(t, "x.yaml")
		want := []string{`x.yaml: not a check file (expected a mapping with "checks")`}
		if !slices.Equal(got, want) {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
		noSecretBits(t, name, got)
	}
	// Not YAML at all: one error, at where it stops being text or YAML.
	for name, tc := range map[string]struct{ src, want string }{
		"binary":       {"root\x00alice\xff", "x.yaml:1:5: control character U+0000 is not allowed in YAML"},
		"syntax":       {"root: hunter2: alice\n", "x.yaml:1:1: invalid YAML: mapping values are not allowed in this context"},
		"unknown tag":  {"!<tag:alice> root\n", ""},
		"tab indented": {"root:\n\talice: x\n", "x.yaml:2:1: invalid YAML: found character that cannot start any token"},
	} {
		writeTree(t, map[string]string{"x.yaml": tc.src})
		got := errorLines(t, "x.yaml")
		if len(got) != 1 || (tc.want != "" && got[0] != tc.want) {
			t.Errorf("%s: %q, want %q", name, got, tc.want)
		}
		noSecretBits(t, name, got)
	}
}

// TestReferencedFilesAreNotEchoed: a schema, spec or certificate path
// that points at someone else's file gets an error naming the path and
// what is wrong, quoting nothing of the file.
func TestReferencedFilesAreNotEchoed(t *testing.T) {
	files := map[string]string{
		"shadow":     shadow,
		"creds.json": `{"private_key": "-----BEGIN PRIVATE KEY-----\nMIIE\n", "user": "alice", "password": "hunter2"}`,
		"list.json":  `["root", "alice"]`,
		"bad.json":   "{\n  \"user\": \"alice\",\n  root\n}",
	}
	for field, value := range map[string]string{
		"json_schema shadow":   "expect: { json_schema: shadow }",
		"json_schema creds":    "expect: { json_schema: creds.json }",
		"json_schema list":     "expect: { json_schema: list.json }",
		"json_schema bad":      "expect: { json_schema: bad.json }",
		"openapi shadow":       "openapi: { spec: shadow }",
		"openapi creds":        "openapi: { spec: creds.json }",
		"ca_file":              `request: { url: "https://127.0.0.1:1/", tls: { ca_file: shadow } }`,
		"cert_file":            `request: { url: "https://127.0.0.1:1/", tls: { cert_file: shadow, key_file: creds.json } }`,
		"cert_file, key_file2": `request: { url: "https://127.0.0.1:1/", tls: { cert_file: creds.json, key_file: shadow } }`,
	} {
		fs := map[string]string{}
		for k, v := range files {
			fs[k] = v
		}
		step := "      - " + value + "\n"
		if !strings.HasPrefix(value, "request") {
			step = "      - request: { url: \"http://127.0.0.1:1/\" }\n        " + value + "\n"
		}
		fs["c.yaml"] = "checks:\n  - name: c1\n    steps:\n" + step
		writeTree(t, fs)
		got := errorLines(t, "c.yaml")
		noSecretBits(t, field, got)
		for _, l := range got {
			if len(l) > 300 {
				t.Errorf("%s: %d-byte message: %s", field, len(l), l)
			}
		}
	}
	// What each says, for the JSON Schema and OpenAPI cases.
	for _, tc := range []struct{ value, want string }{
		{"expect: { json_schema: shadow }", "/shadow: not valid JSON at line 1"},
		{"expect: { json_schema: bad.json }", "/bad.json: not valid JSON at line 3"},
		{"expect: { json_schema: creds.json }", `/creds.json: not a JSON Schema (expected an object with schema keywords such as "type" or "$ref")`},
		{"expect: { json_schema: list.json }", `/list.json: not a JSON Schema (expected an object with schema keywords such as "type" or "$ref")`},
		{"openapi: { spec: shadow }", `checks[0].steps[0].openapi.spec: shadow: not an OpenAPI document (expected a mapping with "openapi")`},
	} {
		fs := map[string]string{"c.yaml": "checks:\n  - name: c1\n    steps:\n      - request: { url: \"http://127.0.0.1:1/\" }\n        " + tc.value + "\n"}
		for k, v := range files {
			fs[k] = v
		}
		writeTree(t, fs)
		got := errorLines(t, "c.yaml")
		if len(got) != 1 || !strings.HasSuffix(got[0], tc.want) {
			t.Errorf("%s: %q\nwant one error ending %q", tc.value, got, tc.want)
		}
	}
}
