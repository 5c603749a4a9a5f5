package checks

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/assay-monitor/assay/internal/fuzzprop"
	"github.com/assay-monitor/assay/internal/yamlstrict"
	"github.com/theory/jsonpath"
	"go.yaml.in/yaml/v3"
)

// Fuzz targets of the package: the check loader, templates, JSONPath
// queries and predicates, and the redactor. Each asserts the rules of
// issue 13 (bounded time and output, positioned one-line errors, secrets
// that stay secret), not only that nothing panics. Seeds are the inputs
// of the tests and of the defects; `go test -fuzz` keeps what it
// finds under testdata/fuzz/FuzzXxx, which plain `go test` then runs.

// fuzzTimeLimit is how long one call may take: far more than any input
// within the package's limits needs, far less than a hang.
const fuzzTimeLimit = 10 * time.Second

// fuzzSecret is the value of the secret variables of the fuzz
// environment: characters every encoding escapes differently between two
// distinctive runs, which no error may show.
const fuzzSecret = `Zq7xW3vK/+ &<é>"\{{ .x }}Hm7TpLc9`

// fuzzHidden are what no message may show: the distinctive parts of
// fuzzSecret and the marker of the files checks may name.
var fuzzHidden = []string{"Zq7xW3vK", "Hm7TpLc9", plantedMarker}

// plantedMarker is in the files the fuzzed checks may name that are not
// what a field names (a shadow file, a PEM file of no certificate): no
// message may quote them. (A real JSON Schema may be quoted: its compile
// error shows a bad pattern.)
const plantedMarker = "PLANTEDxMARKERq42"

// fuzzEnv is the environment the fuzzed check files read.
var fuzzEnv = map[string]string{
	"HOST":        "api.example.com",
	"PORT":        "8080",
	"EMPTY":       "",
	"BASE":        "http://127.0.0.1:1",
	"API_TOKEN":   fuzzSecret,
	"DB_PASSWORD": fuzzSecret + "-db",
	"TEMPLATE":    "{{ .vars.base }}",
}

func fuzzLookup(name string) (string, bool) {
	v, ok := fuzzEnv[name]
	return v, ok
}

// plantFiles writes the files fuzzed checks may name into dir.
func plantFiles(f *testing.F, dir string) {
	f.Helper()
	for name, content := range map[string]string{
		"schema.json":      `{"type": "object", "properties": {"id": {"type": "integer"}}}`,
		"shadow":           "root:" + plantedMarker + ":19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n",
		"ca.pem":           "-----BEGIN CERTIFICATE-----\n" + plantedMarker + "\n-----END CERTIFICATE-----\n",
		"spec.yaml":        "openapi: 3.0.3\ninfo: { title: t, version: \"1\" }\npaths: {}\n",
		"bad-pattern.json": `{"type": "string", "pattern": "a("}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			f.Fatal(err)
		}
	}
}

// FuzzLoadChecks parses check files as the loader does, with a fixed
// environment holding secrets and files to name beside them. Properties:
// parsing returns in bounded time (LoadOptions.MaxNodes of 100,000);
// every error is one printable line naming the file, at a line and
// column inside it; no error shows a secret's value or the content of a
// file the check names; parsing is deterministic; and what loads without
// errors keeps the rules of issue 13: a schedule that fires within five
// years, bounded durations and retries, numbers to compare with.
func FuzzLoadChecks(f *testing.F) {
	dir := f.TempDir()
	plantFiles(f, dir)
	for _, s := range loaderSeeds() {
		f.Add([]byte(s))
	}
	file := filepath.Join(dir, "fuzz.yaml")
	o := LoadOptions{LookupEnv: fuzzLookup, MaxFileSize: 1 << 20, MaxNodes: 100_000}
	f.Fuzz(func(t *testing.T, data []byte) {
		var cs []*Check
		var errs LoadErrors
		fuzzprop.Within(t, fuzzTimeLimit, "parsing a check file", func() { cs, errs = o.parse(file, data) })
		fuzzprop.CheckErrors(t, file, data, errs, fuzzHidden...)
		if len(errs) > 0 {
			// Deterministic: the same file, the same errors.
			_, again := o.parse(file, data)
			if a, b := errs.Error(), again.Error(); a != b {
				t.Errorf("errors differ between two parses:\n%s\n---\n%s", a, b)
			}
			return
		}
		now := time.Now()
		for _, c := range cs {
			checkLoadedCheck(t, c, now)
		}
	})
}

// checkLoadedCheck fails t when a check that loaded breaks a rule the
// loader promises.
func checkLoadedCheck(t *testing.T, c *Check, now time.Time) {
	t.Helper()
	if c.Name == "" || len(c.Name) > 128 {
		t.Errorf("check loaded with name %q", c.Name)
	}
	sched, err := CronParser.Parse(c.Schedule)
	if err != nil {
		t.Errorf("%s: schedule %q loaded but does not parse: %v", c.Name, c.Schedule, err)
	} else if next := sched.Next(now); next.IsZero() || !next.After(now) || next.Sub(now) > scheduleHorizon+time.Hour {
		t.Errorf("%s: schedule %q loaded but its next run is %v", c.Name, c.Schedule, next)
	}
	if c.Timeout.D() <= 0 || c.Timeout.D() > MaxTimeout {
		t.Errorf("%s: timeout %v loaded", c.Name, c.Timeout.D())
	}
	if r := c.Retries; r.Count < 0 || r.Count > MaxRetries || r.Backoff.D() > MaxBackoff || r.MaxBackoff.D() > MaxBackoff {
		t.Errorf("%s: retries %+v loaded", c.Name, r)
	}
	if len(c.Steps) == 0 && c.Contract == nil {
		t.Errorf("%s: loaded without steps", c.Name)
	}
	if c.Fingerprint == "" {
		t.Errorf("%s: no fingerprint", c.Name)
	}
	for _, s := range c.Steps {
		if s == nil {
			t.Errorf("%s: a nil step loaded", c.Name)
			continue
		}
		if s.Request.Timeout.D() > MaxTimeout || s.Expect.ResponseTime.D() > MaxTimeout {
			t.Errorf("%s/%s: request timeout %v, response_time %v loaded", c.Name, s.Name, s.Request.Timeout.D(), s.Expect.ResponseTime.D())
		}
		for _, m := range []map[string]*Predicate{s.Expect.Headers, s.Expect.JSON} {
			for k, p := range m {
				checkComparable(t, c.Name+"/"+s.Name+" "+k, p)
			}
		}
		if b := s.Expect.Body; b != nil {
			checkComparable(t, c.Name+"/"+s.Name+" body size", b.Size)
		}
	}
}

// checkComparable fails t when a comparison of p that loaded holds a
// value the engine cannot read as a number when the step runs.
func checkComparable(t *testing.T, where string, p *Predicate) {
	t.Helper()
	if p == nil {
		return
	}
	for key, v := range map[string]*Value{"gt": p.Gt, "gte": p.Gte, "lt": p.Lt, "lte": p.Lte} {
		if v == nil || len(v.tmpls) > 0 {
			continue
		}
		if _, ok := toNumber(v.V); !ok {
			t.Errorf("%s: %s %#v loaded but is no number", where, key, v.V)
		}
	}
	checkComparable(t, where+" length", p.Length)
}

// templateData is what fuzzed templates render with: vars, captures of
// each JSON type, and value (the fuzzed text) as a var and a capture.
func templateData(value string) map[string]any {
	return map[string]any{
		"vars":  map[string]any{"base": "http://127.0.0.1:1", "n": "3", "v": value},
		"etag":  `W/"abc"`,
		"id":    42.0,
		"ok":    true,
		"none":  nil,
		"list":  []any{"a", 1.5, map[string]any{"k": "v"}},
		"obj":   map[string]any{"a": 1.0, "b": []any{"x"}},
		"value": value,
	}
}

// fuzzRenderDeadline is the step deadline fuzzed renderings run under.
const fuzzRenderDeadline = 200 * time.Millisecond

// FuzzTemplate parses and renders templates, and the same text after a
// ${VAR} whose value is the fuzzed text. Properties: parse errors and
// render errors are one printable line; rendering returns soon after its
// deadline; its output is at most MaxTemplateOutput; the fast form
// renders what text/template renders; and a ${VAR}'s value is literal
// text in a template, whatever it holds ("{{", "}}", "$$").
func FuzzTemplate(f *testing.F) {
	for _, s := range templateSeeds() {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, src, value string) {
		if !utf8.ValidString(src) {
			return // the loader refuses such a file before any template
		}
		tm, err := NewTemplate(src)
		if err != nil {
			if why := fuzzprop.NotOneLine(err.Error()); why != "" {
				t.Errorf("parse error with %s: %q", why, err)
			}
			return
		}
		data := templateData(value)
		out, rerr := renderWithin(t, tm, data)
		if rerr != nil {
			if why := fuzzprop.NotOneLine(rerr.Error()); why != "" {
				t.Errorf("render error with %s: %q", why, rerr)
			}
			if !strings.HasPrefix(rerr.Error(), "cannot render ") {
				t.Errorf("render error %q does not say what failed", rerr)
			}
		} else if len(out) > MaxTemplateOutput {
			t.Errorf("rendered %d bytes, more than MaxTemplateOutput", len(out))
		}
		// The fast form and text/template agree.
		if tm.fast != nil && rerr == nil {
			if pt, counted := tm.tmpl(); pt != nil {
				ctx, cancel := context.WithTimeout(context.Background(), fuzzRenderDeadline)
				slow, err := execute(ctx, pt, counted, data)
				cancel()
				if err == nil && slow != out {
					t.Errorf("fast form renders %q, text/template %q", out, slow)
				}
			}
		}
		checkEnvIsLiteral(t, src, value, out, rerr)
	})
}

// renderWithin renders tm under fuzzRenderDeadline, failing t when it
// does not return soon after it.
func renderWithin(t *testing.T, tm Template, data map[string]any) (out string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), fuzzRenderDeadline)
	defer cancel()
	fuzzprop.Within(t, fuzzRenderDeadline+fuzzTimeLimit, "rendering a template", func() { out, err = tm.RenderContext(ctx, data) })
	return out, err
}

// checkEnvIsLiteral loads "<${FUZZ_VALUE}>"+src as a check file's
// scalar would be, with value as the variable's value: it renders as
// "<"+value+">" followed by what src renders (out, or the error rerr).
func checkEnvIsLiteral(t *testing.T, src, value, out string, rerr error) {
	t.Helper()
	if strings.Contains(src, "$") || !utf8.ValidString(value) {
		return // src would refer to the variable itself
	}
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "<${FUZZ_VALUE}>" + src, Line: 1, Column: 1}
	d := &decoder{File: "fuzz.yaml"}
	d.ExpandEnv(n, func(name string) (string, bool) { return value, name == "FUZZ_VALUE" }, nil)
	tm, err := templateFromNode(d, n)
	if err != nil {
		t.Fatalf("src parses alone but not after a ${VAR}: %v", err)
	}
	got, gerr := renderWithin(t, tm, templateData(value))
	for _, err := range []error{rerr, gerr} {
		if err != nil && strings.Contains(err.Error(), "stopped: ") {
			return // at the deadline, which a busy machine may reach once and not twice
		}
	}
	switch {
	case (gerr == nil) != (rerr == nil):
		t.Errorf("after a ${VAR}: %q, %v; alone: %q, %v", got, gerr, out, rerr)
	case gerr == nil && got != "<"+value+">"+out:
		t.Errorf("after a ${VAR} of %q: %q, want %q", value, got, "<"+value+">"+out)
	}
}

// FuzzJSONPath parses JSONPath queries as the loader does and runs them
// over a JSON body as an assertion does. Properties: a parse error is
// one printable line; a query that parses prints as text that parses to
// the same query (the loader and reports show it); evaluation returns in
// bounded time (jsonWorkBudget) even without a deadline; and every result
// is one line, its actual cut at actualLimit.
func FuzzJSONPath(f *testing.F) {
	for _, s := range jsonPathSeeds() {
		f.Add(s[0], []byte(s[1]))
	}
	exists := true
	f.Fuzz(func(t *testing.T, query string, body []byte) {
		if !utf8.ValidString(query) {
			return // the loader refuses such a file before any query
		}
		jp, err := jsonpath.Parse(query)
		if err != nil {
			if why := fuzzprop.NotOneLine(oneLine(err.Error())); why != "" {
				t.Errorf("parse error with %s: %q", why, oneLine(err.Error()))
			}
			return
		}
		again, err := jsonpath.Parse(jp.String())
		if err != nil {
			t.Fatalf("%q prints as %q, which does not parse: %v", query, jp.String(), err)
		}
		if again.String() != jp.String() {
			t.Errorf("%q prints as %q, which prints as %q", query, jp.String(), again.String())
		}
		a := jsonAssertion(query, jp, &Predicate{Exists: &exists})
		r := &response{status: 200, body: body}
		var res []AssertionResult
		fuzzprop.Within(t, fuzzTimeLimit, "a JSONPath query", func() { res = a.eval(r, nil) })
		checkResults(t, res)
		if doc, err := r.JSON(); err == nil && len(body) < 1<<16 {
			checkJSONCut(t, doc)
			if nodes, err := r.selectJSON(jp); err == nil {
				checkJSONCut(t, []any(nodes))
			}
		}
	})
}

// checkJSONCut fails t when jsonLen and jsonPrefix, which format values
// without encoding them whole, disagree with json.Marshal.
func checkJSONCut(t *testing.T, x any) {
	t.Helper()
	n, ok := jsonLen(x)
	if n > 1<<20 {
		return // the node list of a query can encode to gigabytes
	}
	b, err := json.Marshal(x)
	if ok != (err == nil) || ok && n != len(b) {
		t.Fatalf("jsonLen = %d, %v; json.Marshal: %d bytes, %v", n, ok, len(b), err)
	}
	for _, k := range []int{0, 1, actualLimit, len(b)} {
		if p := jsonPrefix(x, k); len(p) < min(k, len(b)) || !strings.HasPrefix(string(b), p) {
			t.Fatalf("jsonPrefix(%d) = %.300q, not a prefix of %.300q of at least %d bytes", k, p, b, k)
		}
	}
}

// checkResults fails t for an assertion result that is not one line or
// whose actual is longer than actualLimit and its cut mark. (Control
// characters of a response may stay: the reports escape them.)
func checkResults(t *testing.T, res []AssertionResult) {
	t.Helper()
	for _, ar := range res {
		for what, s := range map[string]string{"expected": ar.Expected, "actual": ar.Actual, "message": ar.Message} {
			if strings.ContainsAny(s, "\n\r") {
				t.Errorf("%s of %s with a line break: %q", what, ar.Name, s)
			}
		}
		if limit := actualLimit + len(Redacted) + len(moreBytes(1<<30)); len(ar.Actual) > limit && !strings.HasPrefix(ar.Actual, "not evaluated") {
			t.Errorf("actual of %s is %d bytes, more than %d: %.300s", ar.Name, len(ar.Actual), limit, ar.Actual)
		}
	}
}

// FuzzPredicate decodes a predicate (the right-hand side of an
// assertion, in YAML) as the loader does, and evaluates it on a JSON
// value and on a header's text. Properties: errors are one printable
// line at a position inside the predicate's text; a comparison that
// loads compares numbers (gt: abc is a load error, issue 13); evaluation
// returns soon after the step's deadline (regular expressions included);
// results are one line, their actual cut at actualLimit.
func FuzzPredicate(f *testing.F) {
	for _, s := range predicateSeeds() {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, src, actual []byte) {
		const file = "predicate.yaml"
		if e := yamlstrict.CheckText(file, src); e != nil {
			return
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(src, &doc); err != nil || len(doc.Content) == 0 {
			return
		}
		d := &decoder{File: file}
		root := doc.Content[0]
		if !d.LimitNodes(root, "", 10_000) {
			fuzzprop.CheckErrors(t, file, src, d.Errs, fuzzHidden...)
			return
		}
		d.ExpandEnv(root, fuzzLookup, nil)
		var p Predicate
		fuzzprop.Within(t, fuzzTimeLimit, "decoding a predicate", func() { d.Into(root, &p, "expect.json.$.a") })
		fuzzprop.CheckErrors(t, file, src, d.Errs, fuzzHidden...)
		if len(d.Errs) > 0 {
			return
		}
		checkComparable(t, "predicate", &p)
		var value any
		if json.Unmarshal(actual, &value) != nil {
			value = string(actual)
		}
		ctx, cancel := context.WithTimeout(context.Background(), fuzzRenderDeadline)
		defer cancel()
		r := &response{status: 200, body: actual, ctx: ctx}
		data := templateData(string(actual))
		var res []AssertionResult
		fuzzprop.Within(t, fuzzRenderDeadline+fuzzTimeLimit, "evaluating a predicate", func() {
			res = p.eval(r, "json $.a", value, true, false, data)
			res = append(res, p.eval(r, "header X", string(actual), utf8.Valid(actual), true, data)...)
		})
		checkResults(t, res)
	})
}

// FuzzRedact registers secrets with the redactor as a run does (a
// value, URL userinfo, an Authorization header) and hides them in text.
// Properties: a secret (of at least 3 bytes) appears in none of the forms
// the redactor knows for it in what it returns (the text, a URL, a
// header, a cut); redaction is idempotent; a cut value is at most its
// limit, Redacted and the cut mark long, and leaves no beginning of a
// secret before the mark.
func FuzzRedact(f *testing.F) {
	for _, s := range redactSeeds() {
		f.Add(s.secret, s.other, s.text, s.cut)
	}
	f.Fuzz(func(t *testing.T, secret, other, text string, cut uint16) {
		rd := &redactor{}
		rd.addSecret(secretValue{value: secret, ref: "${API_TOKEN}"}, outside)
		rd.add(other)
		rd.addHeaderSecret("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("user:"+other)), Redacted, 0)
		rd.addUserinfo("https://user:" + url.PathEscape(secret) + "@127.0.0.1:1/")
		var secrets []string
		for _, v := range rd.values {
			if checkable(v.value) {
				secrets = append(secrets, v.value)
			}
		}
		var hidden string
		fuzzprop.Within(t, fuzzTimeLimit, "redacting", func() { hidden = rd.str(text) })
		if again := rd.str(hidden); again != hidden {
			t.Errorf("not idempotent: %q, then %q", hidden, again)
		}
		n := int(cut)
		cutText := rd.cut(text, n)
		if limit := n + len(Redacted) + len(moreBytes(len(text))); len(text) > n && len(cutText) > limit {
			t.Errorf("cut at %d is %d bytes: %q", n, len(cutText), cutText)
		}
		for what, out := range map[string]string{
			"text":    hidden,
			"cut":     rd.str(cutText),
			"url":     rd.url("https://127.0.0.1:1/"+text+"?q="+text, outside),
			"request": rd.url("https://127.0.0.1:1/"+text+"?q="+text, 0),
			"header":  strings.Join(rd.headers(map[string][]string{"X-Echo": {text}}, outside)["X-Echo"], ""),
			"cookie":  strings.Join(rd.headers(map[string][]string{"Set-Cookie": {text}}, outside)["Set-Cookie"], ""),
		} {
			for _, s := range secrets {
				for _, form := range formsOf(s) {
					if checkable(form) && strings.Contains(out, form) {
						t.Errorf("%s shows secret %q as %q: %q", what, s, form, out)
					}
				}
			}
		}
		// No beginning of a secret left before a cut mark.
		out := rd.str(cutText)
		if i := strings.LastIndex(out, cutMark); i >= 0 {
			for _, s := range secrets {
				for _, form := range formsOf(s) {
					if l := rd.cutSecretLen(out[:i], form); l > 0 && checkable(form[:l]) {
						t.Errorf("cut %q ends with %q, the beginning of %q", out, out[i-l:i], form)
					}
				}
			}
		}
	})
}

// checkable reports whether the redactor can be held to hiding s: at
// least 3 bytes, and no text the redactor writes (Redacted, REDACTED, a
// reference, the cut mark) can complete it, which it could if s began or
// ended with a character of such text, or held one whole.
func checkable(s string) bool {
	if len(s) < 3 {
		return false
	}
	const written = "[REDACTED]${API_TOKEN}…(0123456789 morebytes)"
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	return !strings.ContainsRune(written, first) && !strings.ContainsRune(written, last) &&
		!strings.Contains(s, "REDACTED") && !strings.Contains(s, "API_TOKEN") && !strings.Contains(s, cutMark)
}
