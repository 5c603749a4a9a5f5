package checks_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
)

// sloCheck is a check file whose slo block has the given lines (each
// indented by six spaces, starting on line 4).
func sloCheck(lines ...string) string {
	src := "checks:\n  - name: c1\n    slo:\n"
	for _, l := range lines {
		src += "      " + l + "\n"
	}
	return src + "    steps:\n      - request: { url: \"http://example.com/\" }\n"
}

func TestSLOAccepts(t *testing.T) {
	const day = 24 * time.Hour
	for _, tc := range []struct {
		name      string
		lines     []string
		objective float64
		text      string // Objective.String()
		window    time.Duration
		wtext     string // Window.String()
	}{
		{"percent", []string{"objective: 99.9%", "window: 30d"}, 0.999, "99.9%", 30 * day, "30d"},
		{"quoted percent", []string{`objective: "99.95%"`, "window: 4w"}, 0.9995, "99.95%", 28 * day, "28d"},
		{"fraction", []string{"objective: 0.999"}, 0.999, "99.9%", checks.DefaultSLOWindow, "30d"},
		{"quoted fraction", []string{`objective: "0.995"`, "window: 7d12h"}, 0.995, "99.5%", 7*day + 12*time.Hour, "7d12h"},
		{"whole percent", []string{"objective: 99%", "window: 1w2d"}, 0.99, "99%", 9 * day, "9d"},
		{"many nines", []string{"objective: 99.999%", "window: 1h"}, 0.99999, "99.999%", time.Hour, "1h"},
		{"small percent", []string{"objective: 0.5%", "window: 90m"}, 0.005, "0.5%", 90 * time.Minute, "1h30m"},
		{"exponent fraction", []string{"objective: 9.5e-1", "window: 400d"}, 0.95, "95%", 400 * day, "400d"},
		{"go units", []string{"objective: 50%", "window: 36h30m15.5s"}, 0.5, "50%", 36*time.Hour + 30*time.Minute + 15500*time.Millisecond, "1d12h30m15.5s"},
		{"fractional days", []string{"objective: 90%", "window: 1.5d"}, 0.9, "90%", 36 * time.Hour, "1d12h"},
		{"environment", []string{"objective: ${SLO_OBJECTIVE:-99.5%}", "window: ${SLO_WINDOW:-14d}"}, 0.995, "99.5%", 14 * day, "14d"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			writeTree(t, map[string]string{"c.yaml": sloCheck(tc.lines...)})
			c := loadOK(t, "c.yaml")[0]
			s := c.SLO
			if s == nil {
				t.Fatal("no slo")
			}
			if float64(s.Objective) != tc.objective || s.Objective.String() != tc.text {
				t.Errorf("objective = %v (%s), want %v (%s)", float64(s.Objective), s.Objective, tc.objective, tc.text)
			}
			if s.Window.D() != tc.window || s.Window.String() != tc.wtext {
				t.Errorf("window = %v (%s), want %v (%s)", s.Window.D(), s.Window, tc.window, tc.wtext)
			}
			if s.Pos.String() != "c.yaml:4:7" {
				t.Errorf("pos = %s, want c.yaml:4:7", s.Pos)
			}
		})
	}
}

func TestSLOErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines []string
		want  []string
	}{
		{"bare number above 1", []string{"objective: 99.9"},
			[]string{`c.yaml:4:18: checks[0].slo.objective: 99.9 is more than 1, and a bare number is a fraction: write 99.9% or 0.999`}},
		{"bare whole number above 1", []string{"objective: 99"},
			[]string{`c.yaml:4:18: checks[0].slo.objective: 99 is more than 1, and a bare number is a fraction: write 99% or 0.99`}},
		{"quoted number above 1", []string{`objective: "99.95"`},
			[]string{`c.yaml:4:18: checks[0].slo.objective: 99.95 is more than 1, and a bare number is a fraction: write 99.95% or 0.9995`}},
		{"100%", []string{"objective: 100%"},
			[]string{`c.yaml:4:18: checks[0].slo.objective: must be less than 100%: a 100% objective leaves no error budget, so burn rates would divide by zero`}},
		{"100.0%", []string{"objective: 100.0%"},
			[]string{`c.yaml:4:18: checks[0].slo.objective: must be less than 100%: a 100% objective leaves no error budget, so burn rates would divide by zero`}},
		{"fraction 1", []string{"objective: 1"},
			[]string{`c.yaml:4:18: checks[0].slo.objective: must be less than 100%: a 100% objective leaves no error budget, so burn rates would divide by zero`}},
		{"bare 100", []string{"objective: 100"},
			[]string{`c.yaml:4:18: checks[0].slo.objective: must be less than 100%: a 100% objective leaves no error budget, so burn rates would divide by zero`}},
		{"0%", []string{"objective: 0%"},
			[]string{`c.yaml:4:18: checks[0].slo.objective: must be more than 0% and less than 100%, got 0%`}},
		{"fraction 0", []string{"objective: 0.0"},
			[]string{`c.yaml:4:18: checks[0].slo.objective: must be more than 0% and less than 100%, got 0.0`}},
		{"negative fraction", []string{"objective: -0.5"},
			[]string{`c.yaml:4:18: checks[0].slo.objective: must be more than 0% and less than 100%, got -0.5`}},
		{"over 100%", []string{"objective: 150%"},
			[]string{`c.yaml:4:18: checks[0].slo.objective: must be more than 0% and less than 100%, got 150%`}},
		{"bare number over 100", []string{"objective: 250"},
			[]string{`c.yaml:4:18: checks[0].slo.objective: must be more than 0% and less than 100%, got 250`}},
		{"space before percent", []string{"objective: 99.95 %"},
			[]string{`c.yaml:4:18: checks[0].slo.objective: expected a percentage like 99.9% or a fraction like 0.999, got string "99.95 %" (write 99.95% with no space)`}},
		{"negative percent", []string{"objective: -1%"},
			[]string{`c.yaml:4:18: checks[0].slo.objective: expected a percentage like 99.9% or a fraction like 0.999, got string "-1%"`}},
		{"words", []string{"objective: three nines"},
			[]string{`c.yaml:4:18: checks[0].slo.objective: expected a percentage like 99.9% or a fraction like 0.999, got string "three nines"`}},
		{"boolean", []string{"objective: true"},
			[]string{`c.yaml:4:18: checks[0].slo.objective: expected a percentage like 99.9% or a fraction like 0.999, got boolean true`}},
		{"list", []string{"objective: [99.9%]"},
			[]string{`c.yaml:4:18: checks[0].slo.objective: expected a percentage like 99.9% or a fraction like 0.999, got a list`}},
		{"null objective", []string{"objective:"},
			[]string{`c.yaml:4:17: checks[0].slo.objective: expected a percentage like 99.9% or a fraction like 0.999, got nothing (null)`}},
		{"infinite", []string{"objective: .inf"},
			[]string{`c.yaml:4:18: checks[0].slo.objective: expected a percentage like 99.9% or a fraction like 0.999, got number .inf`}},
		{"too long", []string{"objective: 99.99999999999999999999999999999999%"},
			[]string{`c.yaml:4:18: checks[0].slo.objective: expected a percentage like 99.9% or a fraction like 0.999, got string "99.99999999999999999999999999999999%"`}},
		{"missing objective", []string{"window: 7d"},
			[]string{`c.yaml:4:7: checks[0].slo.objective: an slo needs an objective, e.g. 99.9%`}},
		{"typo in a field", []string{"objective: 99%", "windw: 7d"},
			[]string{`c.yaml:5:7: checks[0].slo.windw: unknown field "windw" (did you mean "window"?)`}},
		{"typo in objective", []string{"objectve: 99%"}, []string{
			`c.yaml:4:7: checks[0].slo.objectve: unknown field "objectve" (did you mean "objective"?)`,
			`c.yaml:4:7: checks[0].slo.objective: an slo needs an objective, e.g. 99.9%`,
		}},
		{"unknown field", []string{"objective: 99%", "target: 5"},
			[]string{`c.yaml:5:7: checks[0].slo.target: unknown field "target" (valid: objective, window)`}},
		{"window without unit", []string{"objective: 99%", "window: 30"},
			[]string{`c.yaml:5:15: checks[0].slo.window: expected a window like 30d, 4w or 7d12h, got number 30 (add a unit: 30d)`}},
		{"window unit unknown", []string{"objective: 99%", "window: 1mo"},
			[]string{`c.yaml:5:15: checks[0].slo.window: expected a window like 30d, 4w or 7d12h, got string "1mo"`}},
		{"negative window", []string{"objective: 99%", "window: -7d"},
			[]string{`c.yaml:5:15: checks[0].slo.window: expected a window like 30d, 4w or 7d12h, got string "-7d"`}},
		{"window with spaces", []string{"objective: 99%", "window: 7d 12h"},
			[]string{`c.yaml:5:15: checks[0].slo.window: expected a window like 30d, 4w or 7d12h, got string "7d 12h"`}},
		{"window too short", []string{"objective: 99%", "window: 59m59s"},
			[]string{`c.yaml:5:15: checks[0].slo.window: must be at least 1h, got 59m59s`}},
		{"window zero", []string{"objective: 99%", "window: 0"},
			[]string{`c.yaml:5:15: checks[0].slo.window: must be at least 1h, got 0s`}},
		{"window too long", []string{"objective: 99%", "window: 400d1s"},
			[]string{`c.yaml:5:15: checks[0].slo.window: must be at most 400d, got 400d1s`}},
		{"window in weeks too long", []string{"objective: 99%", "window: 58w"},
			[]string{`c.yaml:5:15: checks[0].slo.window: must be at most 400d, got 406d`}},
		{"window overflows", []string{"objective: 99%", "window: 99999999999w"},
			[]string{`c.yaml:5:15: checks[0].slo.window: expected a window like 30d, 4w or 7d12h, got string "99999999999w"`}},
		{"both wrong", []string{"objective: 99.9", "window: 1y"}, []string{
			`c.yaml:4:18: checks[0].slo.objective: 99.9 is more than 1, and a bare number is a fraction: write 99.9% or 0.999`,
			`c.yaml:5:15: checks[0].slo.window: expected a window like 30d, 4w or 7d12h, got string "1y"`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			writeTree(t, map[string]string{"c.yaml": sloCheck(tc.lines...)})
			got := errorLines(t, "c.yaml")
			if !slices.Equal(got, tc.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

func TestSLOBlockShapes(t *testing.T) {
	for _, tc := range []struct{ name, slo, want string }{
		{"empty slo", "    slo:\n", `c.yaml:3:9: checks[0].slo.objective: an slo needs an objective, e.g. 99.9%`},
		{"empty mapping", "    slo: {}\n", `c.yaml:3:10: checks[0].slo.objective: an slo needs an objective, e.g. 99.9%`},
		{"a scalar", "    slo: 99.9%\n", `c.yaml:3:10: checks[0].slo: expected a mapping like { objective: 99.9%, window: 30d }, got string "99.9%"`},
		{"flow position", "    slo: { objective: 99.9%, window: 1y }\n", `c.yaml:3:38: checks[0].slo.window: expected a window like 30d, 4w or 7d12h, got string "1y"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "checks:\n  - name: c1\n" + tc.slo + "    steps:\n      - request: { url: \"http://example.com/\" }\n"
			writeTree(t, map[string]string{"c.yaml": src})
			if got := errorLines(t, "c.yaml"); !slices.Equal(got, []string{tc.want}) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), tc.want)
			}
		})
	}
}

func TestParseWindow(t *testing.T) {
	const day = 24 * time.Hour
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"0", 0},
		{"7d", 7 * day},
		{"4w", 28 * day},
		{"1w2d", 9 * day},
		{"7d12h", 7*day + 12*time.Hour},
		{"1h30m", 90 * time.Minute},
		{"1.5w", 252 * time.Hour},
		{"2d1h1m1s1ms1us1µs1ns", 2*day + time.Hour + time.Minute + time.Second + time.Millisecond + 2*time.Microsecond + 1},
		{"1d1d", 2 * day},
	} {
		got, err := checks.ParseWindow(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseWindow(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
		if tc.want > 0 {
			// String reads back as the same window.
			if again, err := checks.ParseWindow(checks.Window(got).String()); err != nil || again != got {
				t.Errorf("ParseWindow(%q.String() = %q) = %v, %v", tc.in, checks.Window(got), again, err)
			}
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"", `invalid window "": use a duration like 30d, 4w, 7d12h or 90m (units w, d, h, m, s, ms, us, ns)`},
		{"7", `invalid window "7": use a duration like 30d, 4w, 7d12h or 90m (units w, d, h, m, s, ms, us, ns)`},
		{"d", `invalid window "d": use a duration like 30d, 4w, 7d12h or 90m (units w, d, h, m, s, ms, us, ns)`},
		{"+7d", `invalid window "+7d": use a duration like 30d, 4w, 7d12h or 90m (units w, d, h, m, s, ms, us, ns)`},
		{"7D", `invalid window "7D": use a duration like 30d, 4w, 7d12h or 90m (units w, d, h, m, s, ms, us, ns)`},
		{"1.d", `invalid window "1.d": use a duration like 30d, 4w, 7d12h or 90m (units w, d, h, m, s, ms, us, ns)`},
		{"7d ", `invalid window "7d ": use a duration like 30d, 4w, 7d12h or 90m (units w, d, h, m, s, ms, us, ns)`},
		{"15251w", `invalid window "15251w": too long`},
		{"106751d1d", `invalid window "106751d1d": too long`},
		{strings.Repeat("1d", 33), `invalid window "` + strings.Repeat("1d", 32) + `…(2 more bytes)": use a duration like 30d, 4w, 7d12h or 90m (units w, d, h, m, s, ms, us, ns)`},
	} {
		if got, err := checks.ParseWindow(tc.in); err == nil || err.Error() != tc.want {
			t.Errorf("ParseWindow(%q) = %v, %v; want error %s", tc.in, got, err, tc.want)
		}
	}
}

func TestRatioString(t *testing.T) {
	for _, tc := range []struct {
		r    checks.Ratio
		want string
	}{
		{0.999, "99.9%"},
		{0.9995, "99.95%"},
		{0.99999, "99.999%"},
		{0.5, "50%"},
		{0.9, "90%"},
		{0.00001, "0.001%"},
		{0.123456789, "12.3456789%"},
	} {
		if got := tc.r.String(); got != tc.want {
			t.Errorf("Ratio(%v).String() = %q, want %q", float64(tc.r), got, tc.want)
		}
	}
}

func TestEffectiveSLO(t *testing.T) {
	def := &checks.SLO{Objective: 0.99, Window: checks.Window(7 * 24 * time.Hour)}
	own := &checks.SLO{Objective: 0.999, Window: checks.Window(checks.DefaultSLOWindow)}
	for _, tc := range []struct {
		name     string
		check    *checks.SLO
		def      *checks.SLO
		want     *checks.SLO
		wantText string
	}{
		{"the check's own wins", own, def, own, "99.9% over 30d"},
		{"the check's own without a default", own, nil, own, "99.9% over 30d"},
		{"the default when the check has none", nil, def, def, "99% over 7d"},
		{"none at all", nil, nil, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &checks.Check{Name: "c", SLO: tc.check}
			got := c.EffectiveSLO(tc.def)
			if got != tc.want {
				t.Fatalf("EffectiveSLO = %+v, want %+v", got, tc.want)
			}
			if got != nil {
				if text := got.Objective.String() + " over " + got.Window.String(); text != tc.wantText {
					t.Errorf("got %s, want %s", text, tc.wantText)
				}
			}
		})
	}
}

func TestExplainWithoutSLO(t *testing.T) {
	writeTree(t, map[string]string{"c.yaml": "checks:\n  - name: c1\n    steps:\n      - request: { url: \"http://example.com/\" }\n"})
	c := loadOK(t, "c.yaml")[0]
	if c.SLO != nil {
		t.Fatalf("slo = %+v, want none", c.SLO)
	}
	out, err := checks.Explain(c)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "slo") {
		t.Errorf("explain invents an slo:\n%s", out)
	}
}
