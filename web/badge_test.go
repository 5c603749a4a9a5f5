package web_test

import (
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/assay-monitor/assay/checks"
)

// badgeOf reads a badge: the status code, its two texts and the colour of
// its right half, after checking the headers and that it is well-formed XML.
func badgeOf(t *testing.T, url string) (code int, label, message, color string) {
	t.Helper()
	resp, body := get(t, url)
	if ct, cc, ns := resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"), resp.Header.Get("X-Content-Type-Options"); ct != "image/svg+xml" || cc != "public, max-age=30" || ns != "nosniff" {
		t.Errorf("%s: Content-Type %q, Cache-Control %q, X-Content-Type-Options %q", url, ct, cc, ns)
	}
	dec := xml.NewDecoder(strings.NewReader(body))
	var texts []string
	inText := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s is not well-formed XML: %v\n%s", url, err, body)
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			inText = tk.Name.Local == "text"
		case xml.CharData:
			if inText {
				texts = append(texts, string(tk))
			}
		case xml.EndElement:
			inText = false
		}
	}
	// Each text is drawn twice: its shadow, then itself.
	if len(texts) != 4 || texts[0] != texts[1] || texts[2] != texts[3] {
		t.Fatalf("%s: texts %q", url, texts)
	}
	m := regexp.MustCompile(`<rect x="\d+" width="\d+" height="20" fill="([^"]+)"/>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("%s: no message box in %s", url, body)
	}
	return resp.StatusCode, texts[0], texts[2], m[1]
}

func TestBadges(t *testing.T) {
	f := newFixture(t)
	srv := f.serve(t, false)
	for _, tc := range []struct {
		path                  string
		code                  int
		label, message, color string
	}{
		{"/badge/checkout/status.svg", 200, "checkout", "failing", "#e05d44"},
		{"/badge/api-health/status.svg", 200, "api-health", "passing", "#4c1"},
		{"/badge/never-ran/status.svg", 200, "never-ran", "unknown", "#9f9f9f"},
		{"/badge/nope/status.svg", 404, "assay", "unknown", "#9f9f9f"},
		{"/badge/nope/uptime.svg", 404, "assay", "unknown", "#9f9f9f"},
		{"/badge/api-health/uptime.svg", 200, "uptime 7d", "99.50%", "#97ca00"},
		{"/badge/api-health/uptime.svg?window=24h", 200, "uptime 24h", "100%", "#4c1"},
		{"/badge/api-health/uptime.svg?window=1d", 200, "uptime 24h", "100%", "#4c1"},
		{"/badge/api-health/uptime.svg?window=30d", 200, "uptime 30d", "96.6%", "#dfb317"},
		{"/badge/api-health/uptime.svg?window=1d12h", 200, "uptime 1d12h", "100%", "#4c1"},
		{"/badge/api-health/uptime.svg?window=90m", 200, "uptime 1h30m", "100%", "#4c1"},
		{"/badge/api-health/uptime.svg?window=1m", 200, "uptime 1m", "100%", "#4c1"}, // the run a minute ago
		{"/badge/api-health/uptime.svg?window=400d", 200, "uptime 400d", "96.6%", "#dfb317"},
		{"/badge/checkout/uptime.svg?window=7d", 200, "uptime 7d", "60.0%", "#e05d44"},
		{"/badge/never-ran/uptime.svg", 200, "uptime 7d", "no data", "#9f9f9f"},
		{"/badge/api-health/uptime.svg?window=", 400, "uptime", "bad window", "#9f9f9f"},
		{"/badge/api-health/uptime.svg?window=abc", 400, "uptime", "bad window", "#9f9f9f"},
		{"/badge/api-health/uptime.svg?window=30s", 400, "uptime", "bad window", "#9f9f9f"},
		{"/badge/api-health/uptime.svg?window=401d", 400, "uptime", "bad window", "#9f9f9f"},
		{"/badge/api-health/uptime.svg?window=-1h", 400, "uptime", "bad window", "#9f9f9f"},
		{"/badge/api-health/uptime.svg?window=7x", 400, "uptime", "bad window", "#9f9f9f"},
		{"/badge/api-health/uptime.svg?window=99999999999d", 400, "uptime", "bad window", "#9f9f9f"},
	} {
		code, label, message, color := badgeOf(t, srv.URL+tc.path)
		if code != tc.code || label != tc.label || message != tc.message || color != tc.color {
			t.Errorf("%s = %d %q %q %s, want %d %q %q %s", tc.path, code, label, message, color, tc.code, tc.label, tc.message, tc.color)
		}
	}
}

func TestBadgeEscapesAndSizesItsText(t *testing.T) {
	f := newFixture(t)
	name := `a<b>&"c'` + strings.Repeat("w", 80)
	f.status.SetChecks(append(currentChecks(f), &checks.Check{Name: name}))
	f.status.Record(context.Background(), &checks.Result{Check: name, Passed: true})
	srv := f.serve(t, false)
	path := "/badge/" + strings.NewReplacer("<", "%3C", ">", "%3E", "&", "%26", `"`, "%22", "'", "%27").Replace(name) + "/status.svg"
	_, body := get(t, srv.URL+path)
	if strings.Contains(body, "<b>") || !strings.Contains(body, "a&lt;b&gt;&amp;&quot;c&apos;") {
		t.Errorf("badge text is not escaped:\n%s", body)
	}
	code, label, message, _ := badgeOf(t, srv.URL+path)
	if code != 200 || message != "passing" || label != `a<b>&"c'`+strings.Repeat("w", 39)+"…" {
		t.Errorf("badge = %d %q %q: want the name cut at 48 characters", code, label, message)
	}
	// The box grows with the text: a long name makes a wide badge.
	wide := regexp.MustCompile(`^<svg xmlns="http://www.w3.org/2000/svg" width="(\d+)"`).FindStringSubmatch(body)
	_, short := get(t, srv.URL+"/badge/checkout/status.svg")
	narrow := regexp.MustCompile(`^<svg xmlns="http://www.w3.org/2000/svg" width="(\d+)"`).FindStringSubmatch(short)
	if wide == nil || narrow == nil || len(wide[1]) < 3 || len(narrow[1]) > 3 {
		t.Errorf("badge widths: long name %v, short name %v", wide, narrow)
	}
}

func TestBadgeAnswersHEAD(t *testing.T) {
	f := newFixture(t)
	srv := f.serve(t, true)
	req, _ := http.NewRequest(http.MethodHead, srv.URL+"/badge/checkout/uptime.svg?window=24h", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/svg+xml" {
		t.Errorf("HEAD badge = %d %v", resp.StatusCode, resp.Header)
	}
}
