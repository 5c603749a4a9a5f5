package checks

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// thingsAPI creates things (POST /things: 201 {"id": N}) and deletes them
// (DELETE /things/N: 204, 404 for an unknown one); GET /ok is 200, GET
// /fail is 500, GET /hang answers when the request ends.
type thingsAPI struct {
	mu      sync.Mutex
	next    int
	live    map[int]bool
	deleted []int
	// hanging is told of each /hang request when it arrives.
	hanging chan struct{}
}

func newThingsAPI(t *testing.T) (*thingsAPI, string) {
	api := &thingsAPI{next: 1, live: map[int]bool{}, hanging: make(chan struct{}, 16)}
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		api.mu.Lock()
		defer api.mu.Unlock()
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/things":
			id := api.next
			api.next++
			api.live[id] = true
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			fmt.Fprintf(w, `{"id":%d}`, id)
		case r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, "/things/"):
			id, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/things/"))
			if !api.live[id] {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			delete(api.live, id)
			api.deleted = append(api.deleted, id)
			w.WriteHeader(http.StatusNoContent)
		case r.URL.Path == "/ok":
		case r.URL.Path == "/fail":
			w.WriteHeader(http.StatusInternalServerError)
		case r.URL.Path == "/hang":
			api.mu.Unlock()
			api.hanging <- struct{}{}
			<-r.Context().Done()
			api.mu.Lock()
		default:
			http.NotFound(w, r)
		}
	})
	return api, srv.URL
}

func (a *thingsAPI) deletedIDs() []int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.deleted)
}

// stepLine is a step result in one line: name, finally, verdict, message.
func stepLine(s StepResult) string {
	v := "pass"
	switch {
	case s.Skipped:
		v = "skip"
	case !s.Passed:
		v = "FAIL " + string(s.Reason)
	}
	kind := "step"
	if s.Finally {
		kind = "finally"
	}
	line := kind + " " + s.Name + ": " + v
	if s.Message != "" && !s.Passed {
		line += ": " + s.Message
	}
	return line
}

func stepLines(r *Result) []string {
	var out []string
	for _, s := range r.Steps() {
		out = append(out, stepLine(s))
	}
	return out
}

// finallyCheck is a check that creates a thing, then runs middle (a step
// or "" for none), and deletes the thing in finally (expecting 204).
func finallyCheck(extra, middle string) string {
	src := `
checks:
  - name: create-then-clean-up
` + extra + `    steps:
      - name: create
        request: { method: POST, url: "${BASE}/things", json: { name: probe } }
        expect: { status: 201 }
        capture: { thing: { json: $.id } }
`
	if middle != "" {
		src += "      - name: use\n        request: { url: \"${BASE}" + middle + "\" }\n        expect: { status: 200 }\n"
	}
	return src + `    finally:
      - name: delete
        request: { method: DELETE, url: "${BASE}/things/{{ .thing }}" }
        expect: { status: 204 }
`
}

// Rule: finally steps run after the steps, with their captures, whether
// the steps passed or failed; their results follow the steps' and say
// they are finally steps; after a failed step the verdict is that step's.
func TestFinallyRunsAfterTheSteps(t *testing.T) {
	for _, tc := range []struct {
		name, middle string
		passed       bool
		message      string
		lines        []string
	}{
		{"steps pass", "/ok", true, "", []string{"step create: pass", "step use: pass", "finally delete: pass"}},
		{"a step fails", "/fail", false, `step "use": status: expected 200, got 500`,
			[]string{"step create: pass", `step use: FAIL assertion: status: expected 200, got 500`, "finally delete: pass"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api, base := newThingsAPI(t)
			res := runCheck(t, loadCheck(t, finallyCheck("", tc.middle), "BASE", base))
			if res.Passed != tc.passed || res.Message != tc.message {
				t.Errorf("passed %v %q, want %v %q", res.Passed, res.Message, tc.passed, tc.message)
			}
			if got := stepLines(res); !slices.Equal(got, tc.lines) {
				t.Errorf("steps:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.lines, "\n"))
			}
			if got := api.deletedIDs(); !slices.Equal(got, []int{1}) {
				t.Errorf("deleted %v, want [1]", got)
			}
		})
	}
}

// Rule: a finally step that needs a capture no step took is skipped, not
// failed, and says which capture and which step; the check fails for its
// step, not for the teardown.
func TestFinallyNeedingAMissingCaptureIsSkipped(t *testing.T) {
	_, base := newThingsAPI(t)
	c := loadCheck(t, `
checks:
  - name: create-fails
    steps:
      - name: create
        request: { url: "${BASE}/fail" }
        expect: { status: 201 }
        capture: { thing: { json: $.id } }
    finally:
      - name: log
        request: { url: "${BASE}/ok" }
      - name: delete
        request: { method: DELETE, url: "${BASE}/things/{{ .thing }}" }
`, "BASE", base)
	res := runCheck(t, c)
	want := []string{
		"step create: FAIL assertion: status: expected 201, got 500",
		"finally log: pass",
		`finally delete: skip: skipped: needs the capture "thing" (step "create" did not capture it)`,
	}
	if got := stepLines(res); !slices.Equal(got, want) {
		t.Errorf("steps:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if res.Passed || res.Reason != ReasonAssertion || res.Message != `step "create": status: expected 201, got 500` {
		t.Errorf("verdict %v %s %q", res.Passed, res.Reason, res.Message)
	}
	if fs := res.FailedStep(); fs == nil || fs.Name != "create" {
		t.Errorf("failed step %v, want create", fs)
	}
}

// Rule: a failed finally step fails the check only when the steps
// passed, and the message says it failed in teardown; when a step failed
// too, the verdict stays that step's.
func TestFailingFinallyFailsOnlyPassingSteps(t *testing.T) {
	_, base := newThingsAPI(t)
	src := func(middle string) string {
		return `
checks:
  - name: teardown-fails
    steps:
      - name: use
        request: { url: "${BASE}` + middle + `" }
        expect: { status: 200 }
    finally:
      - name: delete
        request: { method: DELETE, url: "${BASE}/things/999" }
        expect: { status: 204 }
`
	}
	res := runCheck(t, loadCheck(t, src("/ok"), "BASE", base))
	if res.Passed || res.Reason != ReasonAssertion || res.Message != `finally step "delete": status: expected 204, got 404` {
		t.Errorf("steps passed, teardown failed: verdict %v %s %q", res.Passed, res.Reason, res.Message)
	}
	if fs := res.FailedStep(); fs == nil || fs.Name != "delete" || !fs.Finally {
		t.Errorf("failed step %+v, want the finally step delete", fs)
	}
	res = runCheck(t, loadCheck(t, src("/fail"), "BASE", base))
	if res.Passed || res.Message != `step "use": status: expected 200, got 500` {
		t.Errorf("both failed: verdict %v %q, want the step's", res.Passed, res.Message)
	}
	if got := stepLines(res)[1]; got != "finally delete: FAIL assertion: status: expected 204, got 404" {
		t.Errorf("finally result %q", got)
	}
}

// Rule: with retries, the teardown runs after each attempt, so that what
// each attempt created is deleted.
func TestFinallyRunsAfterEachAttempt(t *testing.T) {
	api, base := newThingsAPI(t)
	c := loadCheck(t, finallyCheck("    retries: { count: 2, backoff: 1ms, max_backoff: 1ms, on: any }\n", "/fail"), "BASE", base)
	res := runCheck(t, c)
	if res.Passed || len(res.Attempts) != 3 {
		t.Fatalf("passed %v after %d attempts, want a failure after 3", res.Passed, len(res.Attempts))
	}
	if got := api.deletedIDs(); !slices.Equal(got, []int{1, 2, 3}) {
		t.Errorf("deleted %v, want [1 2 3]: one thing per attempt", got)
	}
	for _, a := range res.Attempts {
		if n := len(a.Steps); n != 3 || !a.Steps[2].Finally || !a.Steps[2].Passed {
			t.Errorf("attempt %d: %d steps, last %+v", a.Number, n, a.Steps[n-1])
		}
	}
}

// Rule: the teardown has its own deadline, the check's timeout again: a
// step that ran out of time leaves the teardown its whole budget, and a
// teardown that runs out of its own says so. The attempt is bounded by
// twice the timeout.
func TestFinallyHasItsOwnBudget(t *testing.T) {
	api, base := newThingsAPI(t)
	c := loadCheck(t, finallyCheck("    timeout: 300ms\n", "/hang"), "BASE", base)
	if got := c.AttemptTimeout(); got != 600*time.Millisecond {
		t.Errorf("AttemptTimeout = %v, want 600ms", got)
	}
	start := time.Now()
	res := runCheck(t, c)
	if res.Reason != ReasonTimeout || res.Message != `step "use": timeout: check timeout 300ms exceeded` {
		t.Errorf("verdict %s %q", res.Reason, res.Message)
	}
	if got := stepLines(res)[2]; got != "finally delete: pass" {
		t.Errorf("the teardown after a timed-out step: %q", got)
	}
	if got := api.deletedIDs(); !slices.Equal(got, []int{1}) {
		t.Errorf("deleted %v, want [1]", got)
	}

	c = loadCheck(t, `
checks:
  - name: slow-teardown
    timeout: 300ms
    steps:
      - request: { url: "${BASE}/ok" }
    finally:
      - name: hang
        request: { url: "${BASE}/hang" }
`, "BASE", base)
	res = runCheck(t, c)
	if res.Reason != ReasonTimeout || res.Message != `finally step "hang": timeout: teardown timeout 300ms (the check's timeout) exceeded` {
		t.Errorf("verdict %s %q", res.Reason, res.Message)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the two runs took %v", d)
	}
}

// Rule: a run cancelled from outside runs no teardown: its finally steps
// are skipped and say why.
func TestInterruptedRunSkipsFinally(t *testing.T) {
	api, base := newThingsAPI(t)
	c := loadCheck(t, finallyCheck("", "/hang"), "BASE", base)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *Result)
	go func() { done <- newTestRunner(t).Run(ctx, c) }()
	// Cancel once the hanging request is in flight: the thing exists.
	select {
	case <-api.hanging:
	case <-time.After(10 * time.Second):
		t.Fatal("the step never reached the server")
	}
	cancel()
	res := <-done
	if res.Reason != ReasonInterrupted {
		t.Errorf("reason %s, want interrupted", res.Reason)
	}
	if got := stepLines(res)[2]; got != "finally delete: skip: "+finallyInterrupted {
		t.Errorf("finally after an interrupt: %q", got)
	}
}

// Rule: finally steps load like steps: they may use every capture of the
// steps; names are unique across steps and finally; a capture no step or
// earlier finally step takes is an error.
func TestFinallyLoads(t *testing.T) {
	for _, tc := range []struct{ name, finally, want string }{
		{"capture of a step", `{ request: { method: DELETE, url: "http://127.0.0.1:1/{{ .id }}" } }`, ""},
		{"unknown capture", `{ request: { url: "http://127.0.0.1:1/{{ .nope }}" } }`,
			`checks.yaml:9:27: checks[0].finally[0].request.url: template "http://127.0.0.1:1/{{ .nope }}": "nope" is not captured by an earlier step (captured so far: id)`},
		{"duplicate name", `{ name: create, request: { url: "http://127.0.0.1:1/" } }`,
			`checks.yaml:9:17: checks[0].finally[0].name: duplicate step name "create" (steps and finally steps share names)`},
		{"empty", `null`, `checks.yaml:9:9: checks[0].finally[0]: empty step`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := `
checks:
  - name: t
    steps:
      - name: create
        request: { method: POST, url: "http://127.0.0.1:1/" }
        capture: { id: { json: $.id } }
    finally:
      - ` + tc.finally + "\n"
			cs, errs := LoadOptions{LookupEnv: envMap()}.parse("checks.yaml", []byte(src))
			if tc.want == "" {
				if len(errs) > 0 || len(cs[0].Finally) != 1 || cs[0].Finally[0].Name != "finally 1" {
					t.Fatalf("errors %v", errs)
				}
				return
			}
			if len(errs) != 1 || errs[0].Error() != tc.want {
				t.Fatalf("errors:\n%v\nwant:\n%s", errs, tc.want)
			}
		})
	}
}

// Rule: assay explain prints the finally steps after the steps, and the
// output loads as a check file with the same finally steps.
func TestExplainShowsFinally(t *testing.T) {
	c := loadCheck(t, finallyCheck("", ""), "BASE", "http://127.0.0.1:8787")
	out, err := Explain(c)
	if err != nil {
		t.Fatal(err)
	}
	text := string(out)
	if !strings.Contains(text, "finally:\n      # finally 1: runs after the steps, whatever they did (checks.yaml:") ||
		!strings.Contains(text, `url: http://127.0.0.1:8787/things/{{ .thing }}`) {
		t.Fatalf("explain:\n%s", text)
	}
	again := loadCheck(t, text)
	if len(again.Finally) != 1 || again.Finally[0].Name != "delete" || again.Finally[0].Request.Method != "DELETE" {
		t.Fatalf("explain's output loads with finally %+v", again.Finally)
	}
}
