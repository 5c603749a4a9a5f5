package web_test

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/assay-monitor/assay/internal/browsertest"
)

// TestPagesInChromium renders the pages in a real browser: what a person
// reads, that the page loads nothing from elsewhere and breaks no rule of
// its own Content-Security-Policy, light and dark, wide and narrow.
func TestPagesInChromium(t *testing.T) {
	b := browsertest.New(t)
	f := newFixture(t)
	srv := f.serve(t, false)
	pub := f.serve(t, true)
	dir := t.TempDir()
	shot := func(name, url string, o browsertest.Options) *browsertest.Page {
		t.Helper()
		p := b.ScreenshotWith(t, url, filepath.Join(dir, name+".png"), o)
		assertSameOrigin(t, name, p, url)
		return p
	}

	t.Run("overview", func(t *testing.T) {
		p := shot("overview", srv.URL+"/?refresh=0", browsertest.Options{})
		for _, want := range []string{"api-health", "checkout", "never-ran", "Open incidents", "3 checks"} {
			if !strings.Contains(p.Text, want) {
				t.Errorf("overview text lacks %q:\n%s", want, p.Text)
			}
		}
		assertLineHas(t, p.Text, "checkout", "failing")
		assertLineHas(t, p.Text, "api-health", "passing")
		assertLineHas(t, p.Text, "never-ran", "no result yet")
		if i, j := strings.Index(p.Text, "Open incidents"), strings.Index(p.Text, "\nChecks"); i < 0 || j < i {
			t.Errorf("open incidents are not above the checks:\n%s", p.Text)
		}
		shot("overview-dark", srv.URL+"/?refresh=0", browsertest.Options{Dark: true})
		shot("overview-narrow", srv.URL+"/?refresh=0", browsertest.Options{Viewport: browsertest.Viewport{Width: 420, Height: 800}})
	})

	t.Run("failing check", func(t *testing.T) {
		p := shot("check-failing", srv.URL+"/checks/checkout?refresh=0", browsertest.Options{})
		for _, want := range []string{
			"Evidence of run #" + fmt.Sprint(f.failedID),
			secretAssertion, `"A-1"`, "absent", // expected and actual
			"HTTP/1.1 500 Internal Server Error", secretRespBody, secretReqHeader, secretURL,
			"Diff against the last good run", secretBaseline, secretRespHeader, secretJSONBefore, secretDiffText,
		} {
			if !strings.Contains(p.Text, want) {
				t.Errorf("check page text lacks %q:\n%s", want, p.Text)
			}
		}
		shot("check-failing-dark", srv.URL+"/checks/checkout?refresh=0", browsertest.Options{Dark: true})
		shot("check-failing-narrow", srv.URL+"/checks/checkout?refresh=0", browsertest.Options{Viewport: browsertest.Viewport{Width: 420, Height: 800}})
		shot("check-passing", srv.URL+"/checks/api-health?refresh=0", browsertest.Options{})
	})

	t.Run("public", func(t *testing.T) {
		for _, u := range []string{"/", "/checks/checkout", "/checks/checkout?run=" + fmt.Sprint(f.failedID)} {
			name := "public" + strings.NewReplacer("/", "-", "?", "-", "=", "-").Replace(u)
			p := shot(strings.TrimSuffix(name, "-"), pub.URL+u, browsertest.Options{})
			if !strings.Contains(p.Text, "checkout") || !strings.Contains(p.Text, "failing") {
				t.Errorf("public %s does not say checkout is failing:\n%s", u, p.Text)
			}
			for _, secret := range []string{secretURL, secretReqHeader, secretReqBody, secretRespHeader, secretRespBody,
				"Request", "Response", "Evidence", secretMessage} {
				if strings.Contains(p.Text, secret) {
					t.Errorf("public %s shows %q:\n%s", u, secret, p.Text)
				}
			}
		}
	})
}

// assertSameOrigin fails when the page asked for anything but its own
// server, or when the console reports an error (a CSP violation, a
// missing asset).
func assertSameOrigin(t *testing.T, name string, p *browsertest.Page, pageURL string) {
	t.Helper()
	base, err := url.Parse(pageURL)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range p.Requests {
		u, err := url.Parse(r)
		if err != nil || u.Host != base.Host {
			t.Errorf("%s: the page requested %s, which is not its own server", name, r)
		}
	}
	if len(p.Requests) < 2 {
		t.Errorf("%s: requests %v: want the page and its stylesheet at least", name, p.Requests)
	}
	if errs := browsertest.ErrorsIn(p.Console); len(errs) > 0 {
		t.Errorf("%s: console errors:\n%s", name, strings.Join(errs, "\n"))
	}
}

// assertLineHas finds the line that starts with name (a table row in
// innerText) and wants it to contain want.
func assertLineHas(t *testing.T, text, name, want string) {
	t.Helper()
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, name) && strings.Contains(line, want) {
			return
		}
	}
	t.Errorf("no line of the page has both %q and %q:\n%s", name, want, text)
}
