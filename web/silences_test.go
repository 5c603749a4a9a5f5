package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/history"
	"github.com/assay-monitor/assay/internal/clocktest"
	"github.com/assay-monitor/assay/maintenance"
	"github.com/assay-monitor/assay/store"
	"github.com/assay-monitor/assay/web"
	"github.com/prometheus/client_golang/prometheus"
)

const silenceToken = "silence-token-0123456789abcdef"

var st0 = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)

type silenceEnv struct {
	h     http.Handler
	cal   *maintenance.Calendar
	clock *clocktest.Clock
}

func newSilenceEnv(t *testing.T, public bool) *silenceEnv {
	t.Helper()
	e, _ := newMaintEnv(t, public)
	return e
}

func newMaintEnv(t *testing.T, public bool) (*silenceEnv, *store.Store) {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "assay.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := clocktest.New(st0)
	cal := maintenance.New(maintenance.Options{Store: st, Clock: clock})
	cs, err := checks.Parse("c.yaml", []byte(`checks:
  - name: db-backup
    labels: { team: data }
    steps: [{ request: { url: "http://127.0.0.1:1/" } }]
  - name: api
    labels: { team: web }
    maintenance: [{ schedule: "0 3 * * *", duration: 1h, timezone: Europe/Berlin }]
    steps: [{ request: { url: "http://127.0.0.1:1/" } }]
`))
	if err != nil {
		t.Fatal(err)
	}
	cal.SetChecks(cs)
	status := web.NewStatus(nil)
	status.SetChecks(cs)
	h := web.Handler(web.Options{Gatherer: prometheus.NewRegistry(), Status: status, Maintenance: cal, Public: public,
		Now: clock.Now, Access: web.Access{Token: silenceToken}, History: st})
	return &silenceEnv{h: h, cal: cal, clock: clock}, st
}

func (e *silenceEnv) call(method, path, body string, token string) (int, map[string]any, string) {
	hdr := map[string]string{}
	if body != "" {
		hdr["Content-Type"] = "application/json"
	}
	if token != "" {
		hdr["Authorization"] = "Bearer " + token
	}
	w := req{method: method, path: path, body: body, header: hdr}.do(e.h)
	var out map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &out)
	return w.Code, out, w.Body.String()
}

func silenceBody(starts, ends time.Time, matchers string) string {
	s := ""
	if !starts.IsZero() {
		s = fmt.Sprintf(`"starts": %q, `, starts.Format(time.RFC3339))
	}
	return fmt.Sprintf(`{"matchers": %s, %s"ends": %q, "comment": "restore drill", "created_by": "ops"}`, matchers, s, ends.Format(time.RFC3339))
}

func TestSilenceCRUDThroughTheAPI(t *testing.T) {
	e := newSilenceEnv(t, false)
	body := silenceBody(time.Time{}, st0.Add(2*time.Hour), `[{"name": "check", "value": "db-.*", "isRegex": true}]`)

	// No token, a wrong one: 401 and nothing stored.
	for _, tok := range []string{"", "wrong-token-0123456789abcdef"} {
		if code, _, b := e.call("POST", "/api/v1/silences", body, tok); code != http.StatusUnauthorized {
			t.Fatalf("POST with token %q = %d %s, want 401", tok, code, b)
		}
	}
	if _, out, _ := e.call("GET", "/api/v1/silences", "", ""); len(out["silences"].([]any)) != 0 {
		t.Fatalf("silences after refused writes = %v", out)
	}

	code, s, b := e.call("POST", "/api/v1/silences", body, silenceToken)
	if code != http.StatusCreated || s["id"] == "" || s["status"].(map[string]any)["state"] != "active" || s["created_by"] != "ops" {
		t.Fatalf("POST = %d %s", code, b)
	}
	id := s["id"].(string)
	m := s["matchers"].([]any)[0].(map[string]any)
	if m["isEqual"] != true || m["isRegex"] != true {
		t.Errorf("matcher = %v, want isEqual defaulting to true", m)
	}
	if !e.cal.Active("db-backup", st0) || e.cal.Active("api", st0) {
		t.Error("the silence does not cover db-backup alone")
	}
	_, chk, _ := e.call("GET", "/api/v1/checks/db-backup", "", "")
	if mt := chk["maintenance"].(map[string]any); mt["in_maintenance"] != true || mt["active"].([]any)[0].(map[string]any)["comment"] != "restore drill" {
		t.Errorf("check maintenance = %v", chk["maintenance"])
	}

	// A pending one, for api, from tomorrow.
	code, p, b := e.call("POST", "/api/v1/silences", silenceBody(st0.Add(24*time.Hour), st0.Add(25*time.Hour), `[{"name": "team", "value": "web"}]`), silenceToken)
	if code != http.StatusCreated || p["status"].(map[string]any)["state"] != "pending" {
		t.Fatalf("pending POST = %d %s", code, b)
	}
	if e.cal.Active("api", st0) || !e.cal.Active("api", st0.Add(24*time.Hour)) {
		t.Error("the pending silence is active now or not tomorrow")
	}

	// DELETE needs the token too, then expires the silence at once.
	if code, _, _ := e.call("DELETE", "/api/v1/silences/"+id, "", ""); code != http.StatusUnauthorized {
		t.Fatalf("DELETE without a token = %d", code)
	}
	e.clock.Advance(time.Minute)
	code, x, b := e.call("DELETE", "/api/v1/silences/"+id, "", silenceToken)
	if code != http.StatusOK || x["status"].(map[string]any)["state"] != "expired" || x["ends"] != st0.Add(time.Minute).Format(time.RFC3339) {
		t.Fatalf("DELETE = %d %s", code, b)
	}
	if e.cal.Active("db-backup", e.clock.Now()) {
		t.Error("an expired silence still covers the check")
	}
	if code, _, _ := e.call("DELETE", "/api/v1/silences/"+id, "", silenceToken); code != http.StatusOK {
		t.Errorf("expiring again = %d, want 200 (idempotent)", code)
	}
	for _, bad := range []string{"00000000-0000-4000-8000-000000000000", "nope", "..%2f"} {
		if code, _, _ := e.call("DELETE", "/api/v1/silences/"+bad, "", silenceToken); code != http.StatusNotFound {
			t.Errorf("DELETE %s = %d, want 404", bad, code)
		}
	}

	// The list: active first, then pending, then expired.
	_, list, _ := e.call("GET", "/api/v1/silences", "", "")
	var states []string
	for _, s := range list["silences"].([]any) {
		states = append(states, s.(map[string]any)["status"].(map[string]any)["state"].(string))
	}
	if strings.Join(states, " ") != "pending expired" {
		t.Errorf("states = %v, want pending expired", states)
	}
	// An expired silence is listed for a day, then no more.
	e.clock.Advance(24*time.Hour + time.Minute)
	_, list, _ = e.call("GET", "/api/v1/silences", "", "")
	if n := len(list["silences"].([]any)); n != 1 {
		t.Errorf("a day later: %d silences listed, want only the (now active) one", n)
	}
}

func TestSilenceBounds(t *testing.T) {
	e := newSilenceEnv(t, false)
	many := "[" + strings.Repeat(`{"name": "team", "value": "x"},`, maintenance.MaxMatchers) + `{"name": "team", "value": "x"}]`
	one := `[{"name": "check", "value": "api"}]`
	for _, tc := range []struct {
		name, body string
		code       int
		want       string
	}{
		{"ends before starts", silenceBody(st0.Add(time.Hour), st0.Add(time.Minute), one), 400, "ends: must be after starts"},
		{"ended", silenceBody(st0.Add(-2*time.Hour), st0.Add(-time.Hour), one), 400, "ends: must be in the future"},
		{"too long", silenceBody(time.Time{}, st0.Add(32*24*time.Hour), one), 400, "at most 31d"},
		{"no matchers", silenceBody(time.Time{}, st0.Add(time.Hour), `[]`), 400, "at least one matcher"},
		{"too many matchers", silenceBody(time.Time{}, st0.Add(time.Hour), many), 400, "matchers: at most 32"},
		{"bad regex", silenceBody(time.Time{}, st0.Add(time.Hour), `[{"name": "check", "value": "(", "isRegex": true}]`), 400, "matchers[0]: value of check is not a regular expression"},
		{"bad name", silenceBody(time.Time{}, st0.Add(time.Hour), `[{"name": "a-b", "value": "x"}]`), 400, "matchers[0]: name"},
		{"no comment", `{"matchers": ` + one + `, "ends": "2026-06-01T13:00:00Z"}`, 400, "comment:"},
		{"long comment", `{"matchers": ` + one + `, "ends": "2026-06-01T13:00:00Z", "comment": "` + strings.Repeat("x", maintenance.MaxComment+1) + `"}`, 400, "comment: at most 1024"},
		{"unknown field", `{"matchers": ` + one + `, "endsAt": "2026-06-01T13:00:00Z", "comment": "x"}`, 400, "unknown field"},
		{"two objects", silenceBody(time.Time{}, st0.Add(time.Hour), one) + "{}", 400, "one JSON object"},
		{"huge body", `{"comment": "` + strings.Repeat("x", 70<<10) + `"}`, 413, "64 KiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, b := e.call("POST", "/api/v1/silences", tc.body, silenceToken)
			if code != tc.code || !strings.Contains(b, tc.want) {
				t.Errorf("= %d %s, want %d with %q", code, b, tc.code, tc.want)
			}
			if strings.Count(strings.TrimSpace(b), "\n") > 2 {
				t.Errorf("the error is not one line: %s", b)
			}
		})
	}
	if _, list, _ := e.call("GET", "/api/v1/silences", "", ""); len(list["silences"].([]any)) != 0 {
		t.Errorf("refused silences were stored: %v", list)
	}
}

// On a public page the silences (comments, matchers) are not listed;
// the windows of a check are, without the comments.
func TestSilencesOnAPublicPage(t *testing.T) {
	e := newSilenceEnv(t, true)
	if code, _, b := e.call("POST", "/api/v1/silences", silenceBody(time.Time{}, st0.Add(time.Hour), `[{"name": "check", "value": "api"}]`), silenceToken); code != 201 {
		t.Fatalf("POST = %d %s", code, b)
	}
	if code, _, _ := e.call("GET", "/api/v1/silences", "", ""); code != http.StatusForbidden {
		t.Errorf("GET silences on a public page = %d, want 403", code)
	}
	_, chk, b := e.call("GET", "/api/v1/checks/api", "", "")
	if mt, _ := chk["maintenance"].(map[string]any); mt["in_maintenance"] != true || strings.Contains(b, "restore drill") {
		t.Errorf("public check = %s", b)
	}
	for _, path := range []string{"/checks/api", "/"} {
		w := req{method: "GET", path: path}.do(e.h)
		if p := w.Body.String(); w.Code != 200 || !strings.Contains(p, `id="maintenance"`) && path != "/" || strings.Contains(p, "restore drill") || strings.Contains(p, "c.yaml") {
			t.Errorf("public %s = %d: the windows without comments or sources, got\n%s", path, w.Code, p)
		}
	}
}

// The pages show a check's windows and silences (escaped), the overview
// marks a check in maintenance, and the run history marks its runs.
func TestPagesShowMaintenance(t *testing.T) {
	e, st := newMaintEnv(t, false)
	body := `{"matchers": [{"name": "check", "value": "db-backup"}], "ends": "2026-06-01T14:00:00Z", "comment": "<script>alert(1)</script> disk swap"}`
	if code, _, b := e.call("POST", "/api/v1/silences", body, silenceToken); code != 201 {
		t.Fatalf("POST = %d %s", code, b)
	}
	run := history.StoredRun{RunSummary: history.RunSummary{ID: 1, Check: "db-backup", Started: st0, DurationSeconds: 0.1, InMaintenance: true,
		Reason: checks.ReasonTimeout, Message: "timeout"}, Data: []byte(`{"check":"db-backup","in_maintenance":true}`)}
	if err := st.WriteBatch(context.Background(), history.Batch{Runs: []history.StoredRun{run}}); err != nil {
		t.Fatal(err)
	}
	page := func(path string) string {
		w := req{method: "GET", path: path}.do(e.h)
		if w.Code != 200 {
			t.Fatalf("GET %s = %d %s", path, w.Code, w.Body)
		}
		return w.Body.String()
	}
	p := page("/checks/db-backup")
	for _, want := range []string{`id="maintenance"`, "In maintenance", "&lt;script&gt;alert(1)&lt;/script&gt; disk swap", `chip chip-maint`} {
		if !strings.Contains(p, want) {
			t.Errorf("check page lacks %q", want)
		}
	}
	if strings.Contains(p, "<script>alert(1)") {
		t.Error("the comment is not escaped")
	}
	// api's own window: the next occurrence, 03:00 in Berlin (01:00 UTC).
	if p := page("/checks/api"); !strings.Contains(p, "2026-06-02 01:00:00 UTC") || !strings.Contains(p, "Europe/Berlin") {
		t.Errorf("api's page does not show its next window:\n%s", p)
	}
	o := page("/")
	if !strings.Contains(o, "maintenance, ends in 2h") || !strings.Contains(o, `id="maintenance"`) {
		t.Errorf("overview does not mark db-backup in maintenance")
	}
}
