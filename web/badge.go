package web

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// Badge colours, as shields.io names them.
const (
	badgeGreen      = "#4c1"
	badgeGreenish   = "#97ca00"
	badgeYellow     = "#dfb317"
	badgeOrange     = "#fe7d37"
	badgeRed        = "#e05d44"
	badgeGrey       = "#9f9f9f"
	badgeLabelColor = "#555"
)

// maxBadgeText bounds each half of a badge, in runes.
const maxBadgeText = 48

// badge is a flat two-part badge: label on grey, message on colour.
type badge struct {
	Label, Message, Color string
}

// svg renders the badge. Widths are estimated from Verdana's advance
// widths at 11px (the font shields.io measures with), so no font is needed
// on the server; every text is XML-escaped.
func (b badge) svg() []byte {
	label := truncRunes(b.Label, maxBadgeText)
	msg := truncRunes(b.Message, maxBadgeText)
	lw := int(math.Ceil(textWidth(label))) + 10
	mw := int(math.Ceil(textWidth(msg))) + 10
	w := lw + mw
	l, m, title := xmlEscape(label), xmlEscape(msg), xmlEscape(label+": "+msg)
	var s strings.Builder
	fmt.Fprintf(&s, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="20" role="img" aria-label="%s">`, w, title)
	fmt.Fprintf(&s, `<title>%s</title>`, title)
	s.WriteString(`<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>`)
	fmt.Fprintf(&s, `<clipPath id="r"><rect width="%d" height="20" rx="3" fill="#fff"/></clipPath>`, w)
	fmt.Fprintf(&s, `<g clip-path="url(#r)"><rect width="%d" height="20" fill="%s"/><rect x="%d" width="%d" height="20" fill="%s"/><rect width="%d" height="20" fill="url(#s)"/></g>`,
		lw, badgeLabelColor, lw, mw, xmlEscape(b.Color), w)
	s.WriteString(`<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" text-rendering="geometricPrecision" font-size="11">`)
	for _, t := range []struct {
		x    float64
		text string
	}{{float64(lw) / 2, l}, {float64(lw) + float64(mw)/2, m}} {
		fmt.Fprintf(&s, `<text x="%.1f" y="15" fill="#010101" fill-opacity=".3">%s</text><text x="%.1f" y="14">%s</text>`, t.x, t.text, t.x, t.text)
	}
	s.WriteString(`</g></svg>`)
	return []byte(s.String())
}

// writeBadge sends a badge. Badges are cached briefly by whoever embeds
// them (a README, a wiki): 30 seconds is the page's own refresh.
func writeBadge(w http.ResponseWriter, code int, b badge) {
	h := w.Header()
	h.Set("Content-Type", "image/svg+xml")
	h.Set("Cache-Control", "public, max-age=30")
	h.Set("X-Content-Type-Options", "nosniff")
	// A badge opened on its own is a document: it may run nothing.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	w.WriteHeader(code)
	_, _ = w.Write(b.svg())
}

// unknownBadge answers for a check that is not configured. It does not
// echo the name asked for: a badge URL is not a place to print anything.
var unknownBadge = badge{Label: "assay", Message: "unknown", Color: badgeGrey}

func (p *pages) statusBadge(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	sum, latest, ok := p.status().Check(name)
	if !ok {
		writeBadge(w, http.StatusNotFound, unknownBadge)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), historyTimeout)
	defer cancel()
	st := p.stateOf(ctx, sum.Name, latest)
	b := badge{Label: sum.Name, Message: st.text(), Color: badgeGrey}
	switch st {
	case statePassing:
		b.Color = badgeGreen
	case stateFailing:
		b.Color = badgeRed
	}
	writeBadge(w, http.StatusOK, b)
}

func (p *pages) uptimeBadge(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	sum, _, ok := p.status().Check(name)
	if !ok {
		writeBadge(w, http.StatusNotFound, unknownBadge)
		return
	}
	window := 7 * 24 * time.Hour
	if q := r.URL.Query(); q.Has("window") {
		d, err := parseWindow(q.Get("window"))
		if err != nil {
			writeBadge(w, http.StatusBadRequest, badge{Label: "uptime", Message: "bad window", Color: badgeGrey})
			return
		}
		window = d
	}
	b := badge{Label: "uptime " + fmtWindow(window), Message: "no data", Color: badgeGrey}
	if p.o.History == nil {
		writeBadge(w, http.StatusOK, b)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), historyTimeout)
	defer cancel()
	now := p.now()
	c, err := p.o.History.Counts(ctx, sum.Name, now.Add(-window), now)
	if err != nil {
		b.Message = "unavailable"
		writeBadge(w, http.StatusServiceUnavailable, b)
		return
	}
	if a, ok := c.Availability(); ok {
		b.Message = fmtPercent(a, c.Failures > 0)
		b.Color = uptimeBadgeColor(a)
	}
	writeBadge(w, http.StatusOK, b)
}

// uptimeBadgeColor grades an availability the way status pages do.
func uptimeBadgeColor(a float64) string {
	switch {
	case a >= 0.999:
		return badgeGreen
	case a >= 0.99:
		return badgeGreenish
	case a >= 0.95:
		return badgeYellow
	case a >= 0.90:
		return badgeOrange
	default:
		return badgeRed
	}
}

// textWidth estimates the width of s in Verdana 11px.
func textWidth(s string) float64 {
	w := 0.0
	for _, r := range s {
		w += runeWidth(r)
	}
	return w
}

// runeWidth is Verdana's advance width at 11px, by class of glyph; wide
// enough that text never overflows its box.
func runeWidth(r rune) float64 {
	switch {
	case strings.ContainsRune("il.,:;!|'", r):
		return 3.4
	case strings.ContainsRune("fjrtI()[]{} -/\\", r):
		return 4.6
	case strings.ContainsRune("mw", r):
		return 10.7
	case strings.ContainsRune("MW%", r):
		return 11.8
	case r >= 'A' && r <= 'Z':
		return 7.6
	case r >= 'a' && r <= 'z':
		return 6.7
	case r >= '0' && r <= '9':
		return 7.0
	case r < 0x80:
		return 7.0
	default:
		return 9.0 // CJK and symbols run wide; better too wide than cut
	}
}

// truncRunes cuts s to n runes, marking the cut.
func truncRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	rs := []rune(s)
	return string(rs[:n-1]) + "…"
}

// xmlEscape escapes text for XML content and attribute values; control
// characters, which XML 1.0 cannot carry at all, become U+FFFD.
func xmlEscape(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' && r != '\n' || r == 0x7f {
			return utf8.RuneError
		}
		return r
	}, s)
	return xmlEscaper.Replace(s)
}

var xmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;")
