package checks

import (
	"path/filepath"
	"testing"
)

// TestReloadedChecksShareTheClientOfTheirTLSOptions: a runner keeps one
// client (one transport, one pool of connections) per distinct TLS
// configuration, not per loaded check. Every reload parses new options;
// keyed by them, the runner grew by a transport per check with a tls
// block at every reload, for as long as the daemon ran. A CA file whose
// content changed is a new configuration.
func TestReloadedChecksShareTheClientOfTheirTLSOptions(t *testing.T) {
	dir := t.TempDir()
	ca, _ := selfSigned(t, "first CA", nil, nil, true)
	writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", ca.Raw)
	const src = `checks:
  - name: a1
    steps:
      - request: { url: "https://a.invalid/", tls: { server_name: a, ca_file: ca.pem } }
  - name: a2
    steps:
      - request: { url: "https://a.invalid/", tls: { server_name: a, ca_file: ca.pem } }
  - name: b
    steps:
      - request: { url: "https://b.invalid/", tls: { server_name: b } }
  - name: plain
    steps:
      - request: { url: "http://c.invalid/" }
`
	load := func() []*Check {
		cs, err := LoadOptions{LookupEnv: func(string) (string, bool) { return "", false }}.parseFile(t, dir, src)
		if err != nil {
			t.Fatal(err)
		}
		return cs
	}
	r := NewRunner(RunnerOptions{})
	defer r.Close()
	clientOf := func(c *Check) any { return r.client(&c.Steps[0].Request, false).GetClient() }

	first := load()
	a, b, plain := clientOf(first[0]), clientOf(first[2]), clientOf(first[3])
	if clientOf(first[1]) != a {
		t.Error("two checks with the same TLS options have clients of their own")
	}
	if a == b || a == plain || b == plain {
		t.Error("different TLS options share a client")
	}
	for reload := range 5 {
		cs := load()
		if clientOf(cs[0]) != a || clientOf(cs[1]) != a || clientOf(cs[2]) != b || clientOf(cs[3]) != plain {
			t.Fatalf("reload %d: a check got a new client for the same TLS options", reload+1)
		}
	}
	if n := len(r.clients); n != 3 {
		t.Errorf("after 5 reloads the runner holds %d clients, want 3", n)
	}

	other, _ := selfSigned(t, "second CA", nil, nil, true)
	writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", other.Raw)
	cs := load()
	if clientOf(cs[0]) == a {
		t.Error("a changed CA file kept the client that trusts the old CA")
	}
	if clientOf(cs[2]) != b {
		t.Error("options that did not change got a new client")
	}
}
