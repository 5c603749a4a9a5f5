package web_test

import (
	"html"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// get fetches url and returns the response with its body read.
func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// getPage fetches an HTML page and wants the status code.
func getPage(t *testing.T, url string, wantCode int) string {
	t.Helper()
	resp, body := get(t, url)
	if resp.StatusCode != wantCode {
		t.Fatalf("GET %s = %d, want %d\n%s", url, resp.StatusCode, wantCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("GET %s: Content-Type %q", url, ct)
	}
	return body
}

var (
	inlineRE = regexp.MustCompile(`(?s)</?(?:span|b|a|code|time|del|ins)(?:\s[^>]*)?>`)
	tagRE    = regexp.MustCompile(`(?s)<[^>]*>`)
	spaceRE  = regexp.MustCompile(`\s+`)
)

// textOf is the text of an HTML fragment as a reader sees it: inline tags
// removed, other tags a space, entities decoded and white space folded.
func textOf(fragment string) string {
	s := inlineRE.ReplaceAllString(fragment, "")
	s = tagRE.ReplaceAllString(s, " ")
	return strings.TrimSpace(spaceRE.ReplaceAllString(html.UnescapeString(s), " "))
}

// rows returns the text of every <tr> whose opening tag has class cls.
func rows(page, cls string) []string {
	re := regexp.MustCompile(`(?s)<tr class="` + regexp.QuoteMeta(cls) + `[^"]*">(.*?)</tr>`)
	var out []string
	for _, m := range re.FindAllStringSubmatch(page, -1) {
		out = append(out, textOf(m[1]))
	}
	return out
}

// section returns the HTML of the first <section class="cls">.
func section(t *testing.T, page, cls string) string {
	t.Helper()
	re := regexp.MustCompile(`(?s)<section[^>]*class="` + regexp.QuoteMeta(cls) + `"[^>]*>(.*?)</section>`)
	m := re.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no section %q in:\n%s", cls, page)
	}
	return m[1]
}

// runIDs lists the run ids of the run history table, in order.
func runIDs(page string) []string {
	re := regexp.MustCompile(`<td><a href="[^"]*">#(\d+)</a></td>`)
	var out []string
	for _, m := range re.FindAllStringSubmatch(page, -1) {
		out = append(out, m[1])
	}
	return out
}

// hrefs lists the href and src values of a page, decoded.
func hrefs(page string) []string {
	re := regexp.MustCompile(`(?i)\s(?:href|src)\s*=\s*"([^"]*)"`)
	var out []string
	for _, m := range re.FindAllStringSubmatch(page, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}
