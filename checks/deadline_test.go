package checks

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// alternation is a regular expression of n random eight-letter words: a
// program of about 9n instructions that matches none of randomLetters.
func alternation(n int) string {
	rnd := rand.New(rand.NewPCG(1, 2))
	words := make([]string, n)
	for i := range words {
		b := make([]byte, 8)
		for j := range b {
			b[j] = byte('a' + rnd.IntN(26))
		}
		words[i] = string(b)
	}
	return "(?:" + strings.Join(words, "|") + ")[0-9]"
}

// randomLetters is n random lower-case letters.
func randomLetters(n int) string {
	rnd := rand.New(rand.NewPCG(3, 4))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + rnd.IntN(26))
	}
	return string(b)
}

// Rule: CPU-bound evaluation stops at the deadline. A pathological regular
// expression over a body, a header or a JSON string, as an assertion or a
// capture, and many expensive assertions one after another, end the step
// with timeout (interrupted when the caller cancels) within a small margin
// of the deadline; a JSONPath query whose worst case over the document is
// too large is refused before it runs.
func TestEvaluationStopsAtTheDeadline(t *testing.T) {
	alt := alternation(3000)
	big := randomLetters(200 << 10)
	// Each of many headers is matched without a look at the deadline
	// (see directMatchWork); the step looks between them.
	// 400 of them take seconds even on a fast machine: 100 took 0.85 s on
	// one, under the 1 s deadline, and the test could not see it stop.
	const manyHeaders = 400
	manyAlt := alternation(1000)
	small := randomLetters(directMatchWork/regexSize(regexp.MustCompile(manyAlt)) - 1)
	deep := strings.Repeat(`{"a":`, 400) + "1" + strings.Repeat("}", 400)
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/body":
			fmt.Fprint(w, big)
		case "/header":
			w.Header().Set("X-Big", big[:64<<10])
		case "/json":
			json.NewEncoder(w).Encode(map[string]string{"v": big})
		case "/headers":
			for i := range manyHeaders {
				w.Header().Set(fmt.Sprintf("X-H%d", i), small)
			}
		case "/deep":
			fmt.Fprint(w, deep)
		}
	})
	altYAML, _ := json.Marshal(alt) // a JSON string is a YAML string
	manyYAML, _ := json.Marshal(manyAlt)
	var many strings.Builder
	for i := range manyHeaders {
		fmt.Fprintf(&many, "X-H%d: { matches: %s }, ", i, manyYAML)
	}
	cases := []struct {
		name, path, step string
		cancel           bool // the caller cancels the run after 300ms
		reason           Reason
		msg              string
	}{
		{"body matches", "/body", `expect: { body: { matches: ` + string(altYAML) + ` } }`, false, ReasonTimeout,
			`step "probe": timeout: check timeout 1s exceeded (while evaluating the assertion body matches)`},
		{"header matches", "/header", `expect: { headers: { X-Big: { matches: ` + string(altYAML) + ` } } }`, false, ReasonTimeout,
			`step "probe": timeout: check timeout 1s exceeded (while evaluating the assertion header X-Big)`},
		{"JSON string matches", "/json", `expect: { json: { $.v: { matches: ` + string(altYAML) + ` } } }`, false, ReasonTimeout,
			`step "probe": timeout: check timeout 1s exceeded (while evaluating the assertion json $.v)`},
		{"capture regex", "/body", `capture: { x: { regex: ` + string(altYAML) + ` } }`, false, ReasonTimeout,
			`step "probe": timeout: check timeout 1s exceeded (while evaluating the capture x)`},
		{"many expensive assertions", "/headers", `expect: { headers: { ` + many.String() + ` } }`, false, ReasonTimeout,
			`^step "probe": timeout: check timeout 1s exceeded \(while evaluating the assertion header X-H\d+\)$`},
		{"interrupted while matching", "/body", `expect: { body: { matches: ` + string(altYAML) + ` } }`, true, ReasonInterrupted,
			`step "probe": interrupted: the run was cancelled before the step completed (while evaluating the assertion body matches)`},
		{"nested descendant queries over a deep document", "/deep", `expect: { json: { "$..[?@..[?@..a]]": { exists: true } } }`, false, ReasonAssertion,
			`step "probe": json $..[?@..[?@..a]]: expected a query the engine can afford, got not evaluated: a query with 3 descendant segments (..) over a document of 401 values nested 401 deep is too expensive; select a narrower part of the document`},
	}
	r := newTestRunner(t)
	const timeout = time.Second
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := loadCheck(t, `
checks:
  - name: expensive
    timeout: 1s
    steps:
      - name: probe
        request: { url: "${BASE}`+tc.path+`" }
        `+tc.step+`
`, "BASE", srv.URL)
			ctx := context.Background()
			if tc.cancel {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				defer time.AfterFunc(300*time.Millisecond, cancel).Stop()
			}
			start := time.Now()
			res := r.Run(ctx, c)
			elapsed := time.Since(start)
			t.Logf("%s in %v", res.Message, elapsed.Round(time.Millisecond))
			// A correctness bound, not a performance target.
			if elapsed > 3*timeout {
				t.Errorf("the run took %v with a timeout of %v", elapsed, timeout)
			}
			ok := res.Message == tc.msg
			if strings.HasPrefix(tc.msg, "^") {
				ok = regexp.MustCompile(tc.msg).MatchString(res.Message)
			}
			if res.Passed || res.Reason != tc.reason || !ok {
				t.Errorf("got %q %q, want %q %q", res.Reason, res.Message, tc.reason, tc.msg)
			}
		})
	}
}

// Rule: a match that looks at the deadline as it goes finds what a plain
// match finds: the same verdict and the same submatches, for anchors, word
// boundaries, UTF-8 and invalid bytes, and an expression that matches at
// the very end.
func TestStoppableMatchAgreesWithRegexp(t *testing.T) {
	filler := randomLetters(4 << 10)
	inputs := []string{
		"", "abc", "x" + filler + "END", "é€😀 " + filler + " wörd", filler[:2000] + "\xff\xfe" + filler[:2000],
		filler + "\nline two\n", "key=value; token=abc123;",
	}
	exprs := []string{
		`END$`, `^x`, `\bwörd\b`, `(?m)^line (\w+)$`, `token=([a-z0-9]+)`, `[\x{FFFD}]{2}`,
		`([a-z]{3})END`, `nomatch\d`, `(?s).*`, `^$`, alternation(40) + `|(E)(N)D`,
	}
	ctx := context.Background()
	for _, e := range exprs {
		re := regexp.MustCompile(e)
		for _, in := range inputs {
			idx, err := stoppableIndex(ctx, re, in, nil, false)
			if want := re.MatchString(in); err != nil || (idx != nil) != want {
				t.Errorf("match %q over %d bytes of a string: %v, %v; want %v", e, len(in), idx != nil, err, want)
			}
			idx, err = stoppableIndex(ctx, re, "", []byte(in), true)
			if want := re.FindSubmatchIndex([]byte(in)); err != nil || fmt.Sprint(idx) != fmt.Sprint(want) {
				t.Errorf("submatches of %q over %d bytes: %v, %v; want %v", e, len(in), idx, err, want)
			}
		}
	}
	// What goes the stoppable way: large inputs times large programs.
	for _, tc := range []struct {
		expr   string
		n      int
		direct bool
	}{
		{`END$`, 500 << 10, true},
		{`END$`, 10 << 20, false},
		{alternation(3000), 100, true},
		{alternation(3000), 200 << 10, false},
		{alternation(40), 1 << 20, false},
		{alternation(40), 1 << 10, true},
	} {
		if got := direct(regexp.MustCompile(tc.expr), tc.n); got != tc.direct {
			t.Errorf("direct(%.20s…, %d) = %v", tc.expr, tc.n, got)
		}
	}
	// The response's helpers agree, the stoppable way too.
	r := &response{ctx: ctx}
	re := regexp.MustCompile(alternation(40) + `|(E)(N)D`)
	in := "x" + randomLetters(32<<10) + "END"
	if direct(re, len(in)) {
		t.Fatal("the helpers are not tested the stoppable way")
	}
	if ok, err := r.matchString(re, in); !ok || err != nil {
		t.Errorf("matchString: %v %v", ok, err)
	}
	if ok, err := r.matchBytes(re, []byte(in)); !ok || err != nil {
		t.Errorf("matchBytes: %v %v", ok, err)
	}
	if m, err := r.findSubmatch(re, []byte(in)); err != nil || fmt.Sprintf("%q", m) != `["END" "E" "N"]` {
		t.Errorf("findSubmatch: %q %v", m, err)
	}
	// And a done context stops them: at once, or after at most a look's
	// worth of input.
	done, cancel := context.WithCancel(ctx)
	cancel()
	every := checkWork / regexSize(re)
	for _, in := range inputs {
		if _, err := (&response{ctx: done}).matchString(regexp.MustCompile(`x`), in); err != errStopped {
			t.Errorf("with the context done: %v", err)
		}
		if _, err := stoppableIndex(done, re, in, nil, false); len(in) > every && err != errStopped {
			t.Errorf("a stoppable match of %d bytes with the context done: %v", len(in), err)
		}
	}
}
