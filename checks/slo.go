package checks

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/assay-monitor/assay/internal/yamlstrict"
	"go.yaml.in/yaml/v3"
)

// SLO is a service level objective over the check's runs: availability
// (passing runs over runs) of at least Objective over a rolling Window.
type SLO struct {
	Objective Ratio  `yaml:"objective"`
	Window    Window `yaml:"window"`

	Pos Position `yaml:"-"`
}

// Ratio is a fraction in (0, 1), written as a percentage (99.9%) or a
// fraction (0.999). String prints it as the percentage the user wrote.
type Ratio float64

// Window is a duration that also accepts days and weeks (30d, 4w, 7d12h).
type Window time.Duration

// D returns the window as a time.Duration.
func (w Window) D() time.Duration { return time.Duration(w) }

// Limits of an SLO window: below an hour the 1h burn rate says everything,
// and 400 days keeps a year-long objective with room while bounding how
// much history one SLO reads.
const (
	DefaultSLOWindow = 30 * 24 * time.Hour
	MinSLOWindow     = time.Hour
	MaxSLOWindow     = 400 * 24 * time.Hour
)

// EffectiveSLO returns the check's SLO, else def (the global default),
// else nil. A check's slo block replaces the default as a whole.
func (c *Check) EffectiveSLO(def *SLO) *SLO {
	if c.SLO != nil {
		return c.SLO
	}
	return def
}

type sloFields SLO

// UnmarshalStrict reads an slo mapping: objective is required, window
// defaults to 30d and must lie within [MinSLOWindow, MaxSLOWindow].
func (s *SLO) UnmarshalStrict(d *decoder, n *yaml.Node, path string) {
	if n.Kind != yaml.MappingNode && !yamlstrict.IsNull(n) {
		d.Errorf(n, path, "expected a mapping like { objective: 99.9%%, window: 30d }, got %s", yamlstrict.Describe(n))
		return
	}
	d.Into(n, (*sloFields)(s), path)
	s.Pos = d.Pos(n)
	if !hasKey(n, "objective") {
		d.Errorf(n, yamlstrict.JoinPath(path, "objective"), "an slo needs an objective, e.g. 99.9%%")
	}
	wp := yamlstrict.JoinPath(path, "window")
	switch {
	case !hasKey(n, "window"):
		s.Window = Window(DefaultSLOWindow)
	case reported(d, wp):
	case s.Window.D() < MinSLOWindow:
		d.ErrAt(d.ValuePos(wp, s.Pos), wp, "must be at least 1h, got %s", s.Window)
	case s.Window.D() > MaxSLOWindow:
		d.ErrAt(d.ValuePos(wp, s.Pos), wp, "must be at most 400d, got %s", s.Window)
	}
}

// hasKey reports whether mapping n has the key (null has none).
func hasKey(n *yaml.Node, key string) bool {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if yamlstrict.Resolve(n.Content[i]).Value == key {
			return true
		}
	}
	return false
}

// decimalText is the plain decimal a percentage or a quoted fraction is
// written in: no sign, exponent or space (99.95 % is refused, so that a
// value reads one way).
var decimalText = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)

const (
	ratioExpected = "expected a percentage like 99.9% or a fraction like 0.999"
	ratioRange    = "must be more than 0% and less than 100%"
	noBudget      = "must be less than 100%: a 100% objective leaves no error budget, so burn rates would divide by zero"
	// maxRatioText bounds what is parsed (and echoed in messages).
	maxRatioText = 32
)

// UnmarshalStrict reads an objective; see parseRatio for the forms.
func (r *Ratio) UnmarshalStrict(d *decoder, n *yaml.Node, path string) {
	tag := n.ShortTag()
	if n.Kind != yaml.ScalarNode || len(n.Value) > maxRatioText || (tag != "!!int" && tag != "!!float" && tag != "!!str") {
		d.Errorf(n, path, "%s, got %s", ratioExpected, yamlstrict.Describe(n))
		return
	}
	v, err := parseRatio(n.Value, tag)
	if err != nil {
		d.Errorf(n, path, "%v", err)
		return
	}
	*r = Ratio(v)
}

// parseRatio reads an objective: a YAML number (tag !!int or !!float) is a
// fraction, a string (any other tag) a percentage ("99.9%") or a fraction
// ("0.999").
func parseRatio(text, tag string) (float64, error) {
	var num string
	percent := false
	switch tag {
	case "!!int", "!!float":
		f, err := strconv.ParseFloat(text, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return 0, fmt.Errorf("%s, got number %s", ratioExpected, text)
		}
		num = strconv.FormatFloat(f, 'f', -1, 64)
	default:
		var spaced bool
		num, percent = strings.CutSuffix(text, "%")
		if trimmed := strings.TrimRight(num, " \t"); percent && trimmed != num {
			num, spaced = trimmed, true
		}
		if !decimalText.MatchString(num) {
			return 0, fmt.Errorf("%s, got string %q", ratioExpected, text)
		}
		if spaced {
			return 0, fmt.Errorf("%s, got string %q (write %s%% with no space)", ratioExpected, text, num)
		}
	}
	// Shifting the decimal point in the text, not dividing by 100, keeps
	// 99.9% at the float nearest 0.999 (which prints back as 99.9%).
	exp := ""
	if percent {
		exp = "e-2"
	}
	f, err := strconv.ParseFloat(num+exp, 64)
	if err != nil {
		return 0, fmt.Errorf("%s, got %q", ratioExpected, text)
	}
	if percent {
		switch {
		case f == 1:
			return 0, errors.New(noBudget)
		case f <= 0 || f > 1:
			return 0, fmt.Errorf("%s, got %s", ratioRange, text)
		}
		return f, nil
	}
	switch {
	case f == 1 || f == 100:
		return 0, errors.New(noBudget)
	case f > 1 && f < 100:
		frac, _ := strconv.ParseFloat(num+"e-2", 64)
		return 0, fmt.Errorf("%s is more than 1, and a bare number is a fraction: write %s%% or %s", num, num, strconv.FormatFloat(frac, 'f', -1, 64))
	case f <= 0 || f > 1:
		return 0, fmt.Errorf("%s, got %s", ratioRange, text)
	}
	return f, nil
}

// String renders the ratio as the shortest percentage that reads back as
// the same value: 0.999 is "99.9%", never "99.90000000000001%".
func (r Ratio) String() string {
	return percentText(float64(r)) + "%"
}

// percentText is 100*f in plain decimal notation, from the shortest
// decimal form of f with its point moved two places (no float arithmetic).
func percentText(f float64) string {
	if f <= 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return strconv.FormatFloat(f*100, 'f', -1, 64)
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX
	mant, expText, _ := strings.Cut(s, "e")
	exp, _ := strconv.Atoi(expText)
	digits := strings.Replace(mant, ".", "", 1)
	point := exp + 3 // digits before the point of f*100
	switch {
	case point <= 0:
		return "0." + strings.Repeat("0", -point) + digits
	case point >= len(digits):
		return digits + strings.Repeat("0", point-len(digits))
	}
	return digits[:point] + "." + digits[point:]
}

// UnmarshalStrict reads a window as ParseWindow does.
func (w *Window) UnmarshalStrict(d *decoder, n *yaml.Node, path string) {
	if n.Kind == yaml.ScalarNode && !yamlstrict.IsNull(n) {
		if v, err := ParseWindow(n.Value); err == nil {
			*w = Window(v)
			return
		}
	}
	hint := ""
	if t := n.ShortTag(); n.Kind == yaml.ScalarNode && (t == "!!int" || t == "!!float") {
		hint = fmt.Sprintf(" (add a unit: %sd)", n.Value)
	}
	d.Errorf(n, path, "expected a window like 30d, 4w or 7d12h, got %s%s", yamlstrict.Describe(n), hint)
}

// windowPart is one number and unit of a window; "ms" comes before "m"
// because alternation takes the first that matches.
var windowPart = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)(ns|us|µs|μs|ms|s|m|h|d|w)`)

// maxWindowText bounds the text ParseWindow reads.
const maxWindowText = 64

// ParseWindow reads a window: Go duration units (h, m, s, ms, us, ns) and
// d (24h) and w (7d), combinable as 1w2d or 7d12h, or a bare 0. There is no
// sign. Bounds (MinSLOWindow, MaxSLOWindow) are the caller's to apply.
func ParseWindow(s string) (time.Duration, error) {
	bad := func() error {
		return fmt.Errorf("invalid window %q: use a duration like 30d, 4w, 7d12h or 90m (units w, d, h, m, s, ms, us, ns)", truncate(s, maxWindowText))
	}
	if s == "0" {
		return 0, nil
	}
	if s == "" || len(s) > maxWindowText {
		return 0, bad()
	}
	var total time.Duration
	for rest := s; rest != ""; {
		m := windowPart.FindStringSubmatch(rest)
		if m == nil {
			return 0, bad()
		}
		rest = rest[len(m[0]):]
		num, unit := m[1], m[2]
		mult := time.Duration(1)
		switch unit {
		case "d":
			unit, mult = "h", 24
		case "w":
			unit, mult = "h", 7*24
		}
		v, err := time.ParseDuration(num + unit)
		if err != nil || v > math.MaxInt64/mult || v*mult > math.MaxInt64-total {
			return 0, fmt.Errorf("invalid window %q: too long", truncate(s, maxWindowText))
		}
		total += v * mult
	}
	return total, nil
}

// String renders the window with days, hours, minutes and the rest as Go
// writes it ("30d", "7d12h", "1h30m", "2m1.5s"); ParseWindow reads it back.
// Weeks are written as days, the unit SLO windows are usually given in.
func (w Window) String() string {
	d := time.Duration(w)
	if d <= 0 {
		return d.String()
	}
	var b strings.Builder
	for _, u := range []struct {
		unit string
		size time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}} {
		if n := d / u.size; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.unit)
			d -= n * u.size
		}
	}
	if d > 0 {
		b.WriteString(d.String())
	}
	return b.String()
}
