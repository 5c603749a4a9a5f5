package web

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/assay-monitor/assay/history"
)

// The charts are inline SVG drawn by the templates from these models: the
// Go side computes coordinates, the templates escape every text, and the
// stylesheet colours them (classes, not inline styles, which the page's
// Content-Security-Policy forbids).

// svgPoint is a marked run on a chart.
type svgPoint struct {
	X, Y  string
	Title string
	Href  string // the run's evidence; empty when the page shows none
}

// svgTick is a labelled grid line of an axis.
type svgTick struct {
	Pos    string // x for the time axis, y for the duration axis
	Label  string
	Anchor string // text-anchor of a time label: the last one ends at the edge
}

// sparkline is the small latency line of a check on the overview.
type sparkline struct {
	W, H  int
	Line  string
	Fails []svgPoint
	Title string
}

// sparkW and sparkH are the size of a sparkline in CSS pixels.
const (
	sparkW = 120
	sparkH = 26
)

// newSparkline draws runs (newest first, as the reader returns them) from
// left (oldest) to right; nil when there is nothing to draw.
func newSparkline(runs []history.RunSummary) *sparkline {
	if len(runs) == 0 {
		return nil
	}
	maxS := 0.0
	for _, r := range runs {
		maxS = math.Max(maxS, r.DurationSeconds)
	}
	if maxS <= 0 {
		maxS = 1
	}
	const pad = 3.0
	n := len(runs)
	step := 0.0
	if n > 1 {
		step = (sparkW - 2*pad) / float64(n-1)
	}
	s := &sparkline{W: sparkW, H: sparkH}
	var line strings.Builder
	failed := 0
	for i := range n {
		r := runs[n-1-i]
		x := pad + step*float64(i)
		if n == 1 {
			x = sparkW / 2
		}
		y := sparkH - pad - r.DurationSeconds/maxS*(sparkH-2*pad)
		if i > 0 {
			line.WriteByte(' ')
		}
		line.WriteString(coord(x) + "," + coord(y))
		if !r.Passed {
			failed++
			s.Fails = append(s.Fails, svgPoint{X: coord(x), Y: coord(y)})
		}
	}
	s.Line = line.String()
	s.Title = fmt.Sprintf("last %d runs: max %s, %d failed", n,
		fmtDur(time.Duration(maxS*float64(time.Second))), failed)
	return s
}

// latencyChart is the duration of a check's runs over time, with axes.
type latencyChart struct {
	W, H                   int
	Left, Top, Right, Base string // the plot area
	Line                   string
	Fails                  []svgPoint
	YTicks, XTicks         []svgTick
	Summary                string
}

// Size of the latency chart's view box; CSS scales it to the page width.
const (
	chartW      = 900
	chartH      = 220
	chartLeft   = 56.0
	chartRight  = 12.0
	chartTop    = 10.0
	chartBottom = 24.0
)

// newLatencyChart draws runs (newest first) by start time; href gives the
// evidence link of a failed run ("" for none). nil when there are no runs.
func newLatencyChart(runs []history.RunSummary, href func(id int64) string) *latencyChart {
	if len(runs) == 0 {
		return nil
	}
	first, last := runs[len(runs)-1].Started, runs[0].Started
	maxS := 0.0
	for _, r := range runs {
		maxS = math.Max(maxS, r.DurationSeconds)
		if r.Started.Before(first) {
			first = r.Started
		}
		if r.Started.After(last) {
			last = r.Started
		}
	}
	stepS, ticks := niceScale(maxS)
	top := stepS * float64(ticks)
	pw := chartW - chartLeft - chartRight
	ph := chartH - chartTop - chartBottom
	span := last.Sub(first)
	xOf := func(t time.Time) float64 {
		if span <= 0 {
			return chartLeft + pw/2
		}
		return chartLeft + float64(t.Sub(first))/float64(span)*pw
	}
	yOf := func(s float64) float64 { return chartTop + ph - s/top*ph }

	c := &latencyChart{W: chartW, H: chartH, Left: coord(chartLeft), Top: coord(chartTop),
		Right: coord(chartW - chartRight), Base: coord(chartTop + ph)}
	for i := 0; i <= ticks; i++ {
		v := stepS * float64(i)
		c.YTicks = append(c.YTicks, svgTick{Pos: coord(yOf(v)), Label: fmtDur(time.Duration(v * float64(time.Second)))})
	}
	c.XTicks = timeTicks(first, last, xOf)
	var line strings.Builder
	failed := 0
	for i := len(runs) - 1; i >= 0; i-- {
		r := runs[i]
		x, y := coord(xOf(r.Started)), coord(yOf(r.DurationSeconds))
		if line.Len() > 0 {
			line.WriteByte(' ')
		}
		line.WriteString(x + "," + y)
		if !r.Passed {
			failed++
			title := fmt.Sprintf("run %d, %s: %s, %s", r.ID, fmtTime(r.Started),
				fmtDur(secs(r.DurationSeconds)), reasonText(string(r.Reason)))
			c.Fails = append(c.Fails, svgPoint{X: x, Y: y, Title: title, Href: href(r.ID)})
		}
	}
	c.Line = line.String()
	c.Summary = fmt.Sprintf("%d runs from %s to %s, %d failed; slowest %s", len(runs),
		fmtTime(first), fmtTime(last), failed, fmtDur(secs(maxS)))
	return c
}

// timeSteps are the spacings a time axis may use: round to read.
var timeSteps = []time.Duration{time.Second, 5 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour, 12 * time.Hour,
	24 * time.Hour, 2 * 24 * time.Hour, 7 * 24 * time.Hour, 14 * 24 * time.Hour, 30 * 24 * time.Hour}

// timeTicks labels [first, last] at round UTC times (every 5 minutes, every
// 6 hours, every day), at most 7 of them; a single instant gets one label.
func timeTicks(first, last time.Time, xOf func(time.Time) float64) []svgTick {
	span := last.Sub(first)
	layout := "15:04"
	switch {
	case span > 2*24*time.Hour:
		layout = "01-02"
	case span > 12*time.Hour:
		layout = "01-02 15:04"
	case span > 0 && span < 2*time.Minute:
		layout = "15:04:05"
	}
	if span <= 0 {
		return []svgTick{{Pos: coord(xOf(first)), Label: first.UTC().Format(layout), Anchor: "middle"}}
	}
	step := timeSteps[len(timeSteps)-1]
	for _, s := range timeSteps {
		if span/s <= 6 {
			step = s
			break
		}
	}
	if step >= 24*time.Hour && layout == "01-02 15:04" {
		layout = "01-02"
	}
	var ticks []svgTick
	for t := first.UTC().Truncate(step); !t.After(last) && len(ticks) < 8; t = t.Add(step) {
		if t.Before(first) {
			continue
		}
		ticks = append(ticks, svgTick{Pos: coord(xOf(t)), Label: t.Format(layout), Anchor: "middle"})
	}
	if n := len(ticks); n > 0 && xOf(last)-mustFloat(ticks[n-1].Pos) < 20 {
		ticks[n-1].Anchor = "end" // a label at the right edge must not run off it
	}
	return ticks
}

func mustFloat(s string) float64 {
	f, _ := strconv.ParseFloat(s, 64)
	return f
}

// niceScale splits [0, maxS] into at most 5 steps of 1, 2 or 5 times a
// power of ten seconds, so that the axis labels are round.
func niceScale(maxS float64) (step float64, ticks int) {
	if maxS <= 0 || math.IsNaN(maxS) || math.IsInf(maxS, 0) {
		return 0.001, 1
	}
	mag := math.Pow(10, math.Floor(math.Log10(maxS/5)))
	for _, m := range []float64{1, 2, 5, 10} {
		step = m * mag
		if maxS/step <= 5 {
			break
		}
	}
	ticks = int(math.Ceil(maxS/step - 1e-9))
	if ticks < 1 {
		ticks = 1
	}
	return step, ticks
}

// coord formats an SVG coordinate with one decimal: enough for a screen,
// and it keeps the page small.
func coord(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

func secs(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// reasonText is a reason for people: "assertion", "timeout"; "failed" when
// a failed run carries none.
func reasonText(r string) string {
	if r == "" {
		return "failed"
	}
	return strings.ReplaceAll(r, "_", " ")
}
