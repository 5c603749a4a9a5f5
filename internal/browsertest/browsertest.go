// Package browsertest drives a headless Chromium from tests: open a page,
// read its visible text, take a full-page screenshot, and see what the page
// asked the network for and wrote to its console.
//
// It uses Debian's chromium at /usr/bin/chromium. Without it a test is
// skipped on a workstation and fails when the environment variable CI is
// "true", so that CI never passes by skipping.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// ExecPath is the browser the harness starts.
const ExecPath = "/usr/bin/chromium"

// Timeouts: starting the browser, and any one page visit.
const (
	startTimeout = 60 * time.Second
	pageTimeout  = 30 * time.Second
)

// Viewport is the size of the page a visit renders, in CSS pixels.
type Viewport struct{ Width, Height int64 }

// Desktop is the default viewport.
var Desktop = Viewport{Width: 1280, Height: 600}

// Browser is a headless Chromium shared by the visits of one test.
type Browser struct {
	ctx context.Context // the browser's context: a visit opens a tab in it
}

// New starts Chromium for t and closes it when t ends.
func New(t testing.TB) *Browser {
	t.Helper()
	if _, err := os.Stat(ExecPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found (install the Debian package chromium): %v", ExecPath, err)
		}
		t.Skipf("%s not found (apt-get install -y chromium); skipping", ExecPath)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(ExecPath),
		chromedp.Flag("headless", "new"),
		chromedp.Flag("no-sandbox", true), // Chromium refuses to run as root otherwise
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.UserDataDir(t.TempDir()),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		// Close the browser gracefully, bounded; then make sure the
		// process is gone before t's temporary directories are removed.
		cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
		_ = chromedp.Cancel(cctx)
		ccancel()
		cancel()
		cancelAlloc()
	})
	// The first Run starts the browser; it must not carry a timeout, or
	// the timeout would end the browser too. Bound it from outside.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("starting %s: %v", ExecPath, err)
		}
	case <-time.After(startTimeout):
		cancel()
		t.Fatalf("starting %s: no answer in %s", ExecPath, startTimeout)
	}
	return &Browser{ctx: ctx}
}

// Options of a visit.
type Options struct {
	// Viewport defaults to Desktop.
	Viewport Viewport
	// Dark asks for prefers-color-scheme: dark.
	Dark bool
}

// Page is what one visit saw.
type Page struct {
	// Text is document.body.innerText: what a person can read.
	Text string
	// Requests lists every URL the page asked for, the page itself first.
	Requests []string
	// Console lists the console messages and browser log entries, such as
	// a Content-Security-Policy violation or a failed load.
	Console []string
	// PNG is a full-page screenshot, when the visit took one.
	PNG []byte
}

// Visit opens url in a new tab and waits for it to load.
func (b *Browser) Visit(t testing.TB, url string, o Options, screenshot bool) *Page {
	t.Helper()
	p, err := b.visit(url, o, screenshot)
	if err != nil {
		t.Fatalf("visiting %s: %v", url, err)
	}
	return p
}

func (b *Browser) visit(url string, o Options, screenshot bool) (*Page, error) {
	tab, closeTab := chromedp.NewContext(b.ctx)
	defer closeTab()
	// A first, unbounded Run opens the tab (a timeout on the call that
	// creates a target would close it early); every action after it has
	// a deadline.
	if err := chromedp.Do(tab); err != nil {
		return nil, fmt.Errorf("opening a tab: %w", err)
	}
	ctx, cancel := context.WithTimeout(tab, pageTimeout)
	defer cancel()

	vp := o.Viewport
	if vp.Width == 0 {
		vp = Desktop
	}
	scheme := "light"
	if o.Dark {
		scheme = "dark"
	}
	p := &Page{}
	var mu sync.Mutex
	// Both subscriptions end with collect: stopping it ends the loops.
	collect, stopCollect := context.WithCancel(ctx)
	requests := chromedp.Events(collect, network.RequestWillBeSent)
	console := chromedp.Console(collect)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for ev, err := range requests {
			if err != nil {
				return
			}
			mu.Lock()
			p.Requests = append(p.Requests, ev.Request.URL)
			mu.Unlock()
		}
	}()
	go func() {
		defer wg.Done()
		for m, err := range console {
			if err != nil {
				return
			}
			mu.Lock()
			p.Console = append(p.Console, m.String())
			mu.Unlock()
		}
	}()
	defer func() { stopCollect(); wg.Wait() }()

	err := chromedp.Do(ctx,
		chromedp.EmulateViewport(vp.Width, vp.Height),
		setColorScheme(scheme),
		chromedp.Navigate(url),
	)
	if err != nil {
		return nil, err
	}
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		return nil, fmt.Errorf("reading the text: %w", err)
	}
	p.Text = text
	if screenshot {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			return nil, fmt.Errorf("taking a screenshot: %w", err)
		}
		p.PNG = png
	}
	// Console and network events of the load arrive before the load
	// event; a round trip to the page flushes any still in flight.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`true`)); err != nil {
		return nil, err
	}
	stopCollect()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	out := *p
	out.Requests = append([]string(nil), p.Requests...)
	out.Console = append([]string(nil), p.Console...)
	return &out, nil
}

func setColorScheme(scheme string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return chromedp.Void{}, err
	}
}

// Text returns the visible text of the page at url.
func (b *Browser) Text(t testing.TB, url string) string {
	t.Helper()
	return b.Visit(t, url, Options{}, false).Text
}

// Screenshot writes a full-page PNG of url to file and returns the page.
func (b *Browser) Screenshot(t testing.TB, url, file string) *Page {
	t.Helper()
	return b.ScreenshotWith(t, url, file, Options{})
}

// ScreenshotWith is Screenshot with a viewport and colour scheme. The PNG
// is also copied into $ASSAY_SCREENSHOT_DIR when that is set, so that a
// person can look at it.
func (b *Browser) ScreenshotWith(t testing.TB, url, file string, o Options) *Page {
	t.Helper()
	p := b.Visit(t, url, o, true)
	if err := os.WriteFile(file, p.PNG, 0o644); err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("ASSAY_SCREENSHOT_DIR"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(file)), p.PNG, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// ErrorsIn returns the console lines that report an error (a blocked
// resource, a CSP violation, an exception).
func ErrorsIn(console []string) []string {
	var out []string
	for _, l := range console {
		if strings.HasPrefix(l, string(chromedp.ConsoleError)+":") || strings.HasPrefix(l, string(chromedp.ConsoleException)+":") {
			out = append(out, l)
		}
	}
	return out
}
