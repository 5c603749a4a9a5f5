package browsertest_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/assay-monitor/assay/internal/browsertest"
)

// TestVisitReportsTextRequestsAndConsole serves a page that hides text,
// loads a stylesheet and tries an inline script its policy forbids.
func TestVisitReportsTextRequestsAndConsole(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'")
		_, _ = w.Write([]byte(`<!DOCTYPE html><html><head><link rel="stylesheet" href="/s.css"></head>` +
			`<body><h1>visible words</h1><p class="gone">hidden words</p><script>document.title="ran"</script></body></html>`))
	})
	mux.HandleFunc("/s.css", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/css")
		_, _ = w.Write([]byte(`.gone { display: none }`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	b := browsertest.New(t)
	if got := b.Text(t, srv.URL+"/"); got != "visible words" {
		t.Errorf("Text = %q, want only the visible words", got)
	}
	file := filepath.Join(t.TempDir(), "page.png")
	p := b.Screenshot(t, srv.URL+"/", file)
	png, err := os.ReadFile(file)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || !bytes.Equal(png, p.PNG) {
		t.Fatalf("screenshot file: %v, %d bytes", err, len(png))
	}
	if want := []string{srv.URL + "/", srv.URL + "/s.css"}; !slices.Equal(p.Requests, want) {
		t.Errorf("Requests = %q, want %q", p.Requests, want)
	}
	errs := browsertest.ErrorsIn(p.Console)
	if len(errs) == 0 || !strings.Contains(strings.Join(errs, "\n"), "Content Security Policy") {
		t.Errorf("the blocked inline script is not reported: %q", p.Console)
	}
}

func TestScreenshotCopiesIntoTheScreenshotDir(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("ASSAY_SCREENSHOT_DIR", dir)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`<p>x</p>`))
	}))
	defer srv.Close()
	b := browsertest.New(t)
	b.Screenshot(t, srv.URL, filepath.Join(t.TempDir(), "copy.png"))
	if fi, err := os.Stat(filepath.Join(dir, "copy.png")); err != nil || fi.Size() == 0 {
		t.Errorf("no copy in ASSAY_SCREENSHOT_DIR: %v", err)
	}
}
