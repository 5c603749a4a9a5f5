package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/assay-monitor/assay/internal/smtptest"
)

// TestNotifyTestEachNewKind: assay notify test NAME sends the test event
// through an email, opsgenie, teams, discord and ntfy notifier and prints
// the receiver's answers; a refusal exits 1.
func TestNotifyTestEachNewKind(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	status := http.StatusAccepted
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.Method+" "+r.URL.RequestURI())
		st := status
		mu.Unlock()
		w.WriteHeader(st)
	}))
	defer srv.Close()
	smtp := smtptest.Start(t, smtptest.Options{Username: "assay", Password: "pa55word"})
	pem, err := os.ReadFile(smtp.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("ASSAY_TEST_SMTP_PASSWORD", "pa55word")
	cfg := writeFiles(t, map[string]string{
		"certs/smtp-ca.pem": string(pem),
		"assay.yaml": `notifiers:
  mail:
    type: email
    host: 127.0.0.1
    port: ` + strconv.Itoa(smtp.Port) + `
    ca_file: certs/smtp-ca.pem
    username: assay
    password: ${ASSAY_TEST_SMTP_PASSWORD}
    from: assay@example.com
    to: [oncall@example.com]
  og: { type: opsgenie, api_key: k, url: "` + srv.URL + `" }
  chat: { type: teams, url: "` + srv.URL + `/workflow" }
  dc: { type: discord, url: "` + srv.URL + `/api/webhooks/1/t" }
  push: { type: ntfy, url: "` + srv.URL + `/alerts" }
`})
	file := filepath.Join(cfg, "assay.yaml")
	for _, tc := range []struct {
		name, kind string
		lines      []string
		paths      []string
	}{
		{"mail", "email", []string{"  127.0.0.1:" + strconv.Itoa(smtp.Port) + ": message accepted for 1 recipient(s) over STARTTLS"}, nil},
		{"og", "opsgenie", []string{"  127.0.0.1:" + strings.Split(srv.URL, ":")[2] + ": HTTP 202", "  127.0.0.1:" + strings.Split(srv.URL, ":")[2] + ": HTTP 202"},
			[]string{"POST /v2/alerts", "POST /v2/alerts/"}}, // the create and its close
		{"chat", "teams", []string{"  teams: HTTP 202"}, []string{"POST /workflow"}},
		{"dc", "discord", []string{"  discord: HTTP 202"}, []string{"POST /api/webhooks/1/t?wait=true"}},
		{"push", "ntfy", []string{"  127.0.0.1:" + strings.Split(srv.URL, ":")[2] + ": HTTP 202"}, []string{"POST /"}},
	} {
		mu.Lock()
		paths = nil
		mu.Unlock()
		code, stdout, stderr := invoke(t, "notify", "test", tc.name, "--config", file)
		want := append(append([]string{`sending a test event through "` + tc.name + `" (` + tc.kind + `)`}, tc.lines...), "ok: the receiver accepted the test event")
		if code != exitOK || stdout != strings.Join(want, "\n")+"\n" || stderr != "" {
			t.Errorf("notify test %s: exit %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", tc.name, code, stdout, strings.Join(want, "\n"), stderr)
		}
		mu.Lock()
		got := paths
		mu.Unlock()
		if len(got) != len(tc.paths) {
			t.Errorf("%s: requests %v, want %v", tc.name, got, tc.paths)
			continue
		}
		for i, p := range tc.paths {
			if !strings.HasPrefix(got[i], p) {
				t.Errorf("%s: request %d is %s, want %s...", tc.name, i, got[i], p)
			}
		}
	}
	if msgs := smtp.Messages(); len(msgs) != 1 || !msgs[0].TLS || msgs[0].AuthUser != "assay" {
		t.Errorf("the SMTP server got %+v", msgs)
	}
	// A refusal is exit 1, saying a real event would not be retried.
	mu.Lock()
	status = http.StatusForbidden
	mu.Unlock()
	code, stdout, _ := invoke(t, "notify", "test", "dc", "--config", file)
	if code != exitFailed || !strings.Contains(stdout, "refused (a real event would not be retried): POST discord: HTTP 403") {
		t.Errorf("refused: exit %d\n%s", code, stdout)
	}
}
