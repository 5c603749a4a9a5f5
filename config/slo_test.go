package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assay-monitor/assay/checks"
	"github.com/assay-monitor/assay/internal/yamlstrict"
)

func TestDefaultsSLO(t *testing.T) {
	c, err := Parse("assay.yaml", []byte("defaults:\n  slo: { objective: 99.5%, window: 4w }\n"))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Defaults.SLO
	if s == nil || float64(s.Objective) != 0.995 || s.Window.D() != 28*24*time.Hour || s.Pos.String() != "assay.yaml:2:8" {
		t.Fatalf("defaults.slo = %+v", s)
	}
	c, err = Parse("assay.yaml", []byte("defaults:\n  slo:\n    objective: 0.999\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Defaults.SLO; s == nil || s.Window.D() != checks.DefaultSLOWindow || s.Objective.String() != "99.9%" {
		t.Errorf("defaults.slo without a window = %+v, want 99.9%% over 30d", s)
	}
	if c := Default(); c.Defaults.SLO != nil {
		t.Errorf("built-in defaults have an slo: %+v", c.Defaults.SLO)
	}
	// The global default applies to checks without their own.
	own := &checks.SLO{Objective: 0.9}
	if got := (&checks.Check{}).EffectiveSLO(c.Defaults.SLO); got != c.Defaults.SLO {
		t.Errorf("a check without slo gets %+v, want the default", got)
	}
	if got := (&checks.Check{SLO: own}).EffectiveSLO(c.Defaults.SLO); got != own {
		t.Errorf("a check with an slo gets %+v, want its own", got)
	}
}

func TestDefaultsSLOErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"bare percent number", "defaults:\n  slo: { objective: 99.9 }\n",
			[]string{`assay.yaml:2:21: defaults.slo.objective: 99.9 is more than 1, and a bare number is a fraction: write 99.9% or 0.999`}},
		{"100%", "defaults:\n  slo:\n    objective: 100%\n",
			[]string{`assay.yaml:3:16: defaults.slo.objective: must be less than 100%: a 100% objective leaves no error budget, so burn rates would divide by zero`}},
		{"no objective", "defaults:\n  slo:\n    window: 7d\n",
			[]string{`assay.yaml:3:5: defaults.slo.objective: an slo needs an objective, e.g. 99.9%`}},
		{"window too long", "defaults:\n  slo:\n    objective: 99%\n    window: 60w\n",
			[]string{`assay.yaml:4:13: defaults.slo.window: must be at most 400d, got 420d`}},
		{"window typo", "defaults:\n  slo:\n    objective: 99%\n    windows: 7d\n",
			[]string{`assay.yaml:4:5: defaults.slo.windows: unknown field "windows" (did you mean "window"?)`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("assay.yaml", []byte(tc.yaml))
			var es yamlstrict.Errors
			if !errors.As(err, &es) {
				t.Fatalf("err = %v, want yamlstrict.Errors", err)
			}
			var got []string
			for _, e := range es {
				got = append(got, e.Error())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
