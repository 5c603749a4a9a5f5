package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/history"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// historyTimeout bounds the reads of one page or badge from the history.
const historyTimeout = 5 * time.Second

// refreshSeconds is how often a page reloads itself unless ?refresh=0.
const refreshSeconds = 30

// pageCSP lets a page load its own stylesheet and icon and nothing else:
// no script at all, no inline style, no frame, no form elsewhere. Inline
// SVG is markup, not a resource, so the charts need nothing more.
const pageCSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// pages serves the status page, the check pages and the badges.
type pages struct {
	o     Options
	tmpl  map[string]*template.Template
	asset map[string]assetFile
	css   string // versioned name of the stylesheet, relative to the root
	icon  string
}

// assetFile is an embedded file served under /assets/.
type assetFile struct {
	body    []byte
	ctype   string
	version string
}

// registerPages adds the HTML pages, the badges and their assets to mux.
func registerPages(mux *http.ServeMux, o Options) {
	p := newPages(o)
	mux.HandleFunc("GET /{$}", p.overview)
	mux.HandleFunc("GET /checks/{name}", p.checkPage)
	mux.HandleFunc("GET /badge/{name}/status.svg", p.statusBadge)
	mux.HandleFunc("GET /badge/{name}/uptime.svg", p.uptimeBadge)
	mux.HandleFunc("GET /assets/{file}", p.serveAsset)
}

func newPages(o Options) *pages {
	p := &pages{o: o, tmpl: map[string]*template.Template{}, asset: map[string]assetFile{}}
	base := template.Must(template.New("").ParseFS(templateFS, "templates/layout.html", "templates/parts.html"))
	for _, page := range []string{"overview", "check", "error"} {
		t := template.Must(template.Must(base.Clone()).ParseFS(templateFS, "templates/"+page+".html"))
		p.tmpl[page] = t
	}
	entries, err := fs.ReadDir(assetFS, "assets")
	if err != nil {
		panic(err) // the embed directive guarantees the directory
	}
	for _, e := range entries {
		b, err := assetFS.ReadFile("assets/" + e.Name())
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(b)
		p.asset[e.Name()] = assetFile{body: b, ctype: assetType(e.Name()), version: hex.EncodeToString(sum[:6])}
	}
	p.css = "assets/style.css?v=" + p.asset["style.css"].version
	p.icon = "assets/favicon.svg?v=" + p.asset["favicon.svg"].version
	return p
}

func assetType(name string) string {
	switch path.Ext(name) {
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	}
	return "application/octet-stream"
}

func (p *pages) serveAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := p.asset[r.PathValue("file")]
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", a.ctype)
	// The pages name assets with their content hash, so a client may keep
	// one as long as it likes; an unversioned request gets a short life.
	if r.URL.Query().Get("v") == a.version {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "public, max-age=300")
	}
	_, _ = w.Write(a.body)
}

func (p *pages) now() time.Time { return p.o.now() }

// status never returns nil, so that a handler built without a Status
// shows an empty page rather than failing.
func (p *pages) status() *Status {
	if p.o.Status == nil {
		return NewStatus(nil)
	}
	return p.o.Status
}

// layout is what every page's frame needs.
type layout struct {
	Title   string
	Root    string // the way back to "/" from this page: "./" or "../"
	Home    string // the overview, keeping ?refresh=0
	CSS     string
	Icon    string
	Refresh int // seconds; 0 when off
	// RefreshHref turns auto-refresh off or back on for this page.
	RefreshHref string
	Public      bool
	Generated   string
	Body        any
}

// linker builds the page's relative links, keeping ?refresh=0 on every
// link once a reader turned refresh off.
type linker struct {
	root      string
	noRefresh bool
}

func newLinker(r *http.Request, root string) linker {
	return linker{root: root, noRefresh: r.URL.Query().Get("refresh") == "0"}
}

func (l linker) query(q url.Values) string {
	if l.noRefresh {
		if q == nil {
			q = url.Values{}
		}
		q.Set("refresh", "0")
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// home links to the overview.
func (l linker) home() string { return l.root + l.query(nil) }

// check links to a check's page from anywhere.
func (l linker) check(name string, q url.Values) string {
	return l.root + "checks/" + url.PathEscape(name) + l.query(q)
}

// refreshToggle is the link that flips auto-refresh on the current page.
func (l linker) refreshToggle(r *http.Request) string {
	q := r.URL.Query()
	if l.noRefresh {
		q.Del("refresh")
	} else {
		q.Set("refresh", "0")
	}
	self := "./"
	if name := r.PathValue("name"); name != "" {
		self = "./" + url.PathEscape(name)
	}
	if len(q) == 0 {
		return self
	}
	return self + "?" + q.Encode()
}

// render executes a page into memory first, so that a template error
// becomes a clean 500 and not half a page.
func (p *pages) render(w http.ResponseWriter, r *http.Request, code int, page string, l linker, title string, body any) {
	lay := layout{Title: title, Root: l.root, Home: l.home(), CSS: l.root + p.css, Icon: l.root + p.icon,
		Public: p.o.Public, Generated: fmtTime(p.now()), Body: body, RefreshHref: l.refreshToggle(r)}
	if !l.noRefresh {
		lay.Refresh = refreshSeconds
	}
	var buf bytes.Buffer
	if err := p.tmpl[page].ExecuteTemplate(&buf, "layout", lay); err != nil {
		setPageHeaders(w)
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	setPageHeaders(w)
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

func setPageHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", pageCSP)
	h.Set("Referrer-Policy", "same-origin")
	// Evidence is a snapshot of requests and responses: no shared cache
	// should keep it.
	h.Set("Cache-Control", "no-store")
}

// errorView is the body of an error page.
type errorView struct {
	Code    int
	Title   string
	Message string
	Home    string
}

func (p *pages) renderError(w http.ResponseWriter, r *http.Request, code int, root, msg string) {
	l := newLinker(r, root)
	l.noRefresh = true // an error page need not come back every 30 seconds
	title := http.StatusText(code)
	p.render(w, r, code, "error", l, title, errorView{Code: code, Title: title, Message: msg, Home: l.home()})
}

// state is a check's verdict on the page.
type state int

const (
	stateUnknown state = iota
	stateFailing
	statePassing
)

// text is the word a badge and the API use.
func (s state) text() string {
	switch s {
	case stateFailing:
		return "failing"
	case statePassing:
		return "passing"
	}
	return "unknown"
}

// label is what the page says.
func (s state) label() string {
	if s == stateUnknown {
		return "no result yet"
	}
	return s.text()
}

// rank sorts failing checks first, then those without a result.
func (s state) rank() int {
	switch s {
	case stateFailing:
		return 0
	case stateUnknown:
		return 1
	}
	return 2
}

// stateFrom decides a check's verdict from its latest result in memory or,
// after a restart when there is none yet, from the newest stored run.
func stateFrom(latest *ResultSummary, newest *history.RunSummary) state {
	switch {
	case latest != nil && latest.Passed, latest == nil && newest != nil && newest.Passed:
		return statePassing
	case latest != nil, newest != nil:
		return stateFailing
	}
	return stateUnknown
}

// stateOf is stateFrom with the stored run read when needed.
func (p *pages) stateOf(ctx context.Context, name string, latest *checks.Result) state {
	if latest != nil {
		if latest.Passed {
			return statePassing
		}
		return stateFailing
	}
	if p.o.History == nil {
		return stateUnknown
	}
	runs, err := p.o.History.Results(ctx, name, history.ResultQuery{Limit: 1})
	if err != nil || len(runs) == 0 {
		return stateUnknown
	}
	return stateFrom(nil, &runs[0])
}

// labelChips lists labels sorted by name, bounded.
func labelChips(labels map[string]string) []kv {
	rows := headerRows(toMulti(labels))
	if len(rows) > maxLabels {
		rows = rows[:maxLabels]
	}
	for i := range rows {
		rows[i].V = short(rows[i].V, 80)
	}
	return rows
}

func toMulti(m map[string]string) map[string][]string {
	out := make(map[string][]string, len(m))
	for k, v := range m {
		out[k] = []string{v}
	}
	return out
}

// historyNote is what a page says when the history could not be read: the
// error for operators, a plain sentence for the public.
func (p *pages) historyNote(what string, err error) string {
	if p.o.Public {
		return "History is unavailable right now; figures may be incomplete."
	}
	return "Could not read " + what + " from the history: " + short(strings.TrimSpace(err.Error()), 300)
}
