package deploy_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

const dashboardFile = "grafana/assay.json"

// grafanaVariables are what the dashboard's variables become for the
// check: values that make a valid query, as Grafana's would.
var grafanaVariables = map[string]string{
	"__rate_interval": "5m",
	"__interval":      "1m",
	"__range":         "1h",
	"check":           ".*",
}

var grafanaVar = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)(?::[a-z]+)?\}|\$([A-Za-z0-9_]+)|\[\[([A-Za-z0-9_]+)\]\]`)

// substituteVariables replaces the dashboard variables of a query; any
// other variable is an error (it would reach Prometheus as written).
func substituteVariables(expr string) (string, error) {
	var unknown []string
	out := grafanaVar.ReplaceAllStringFunc(expr, func(m string) string {
		sub := grafanaVar.FindStringSubmatch(m)
		name := sub[1] + sub[2] + sub[3]
		v, ok := grafanaVariables[name]
		if !ok {
			unknown = append(unknown, m)
		}
		return v
	})
	if len(unknown) > 0 {
		return "", fmt.Errorf("unknown variables %q", unknown)
	}
	return out, nil
}

type dashPanel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	GridPos struct{ H, W, X, Y int } `json:"gridPos"`
	Targets []struct {
		RefID      string `json:"refId"`
		Expr       string `json:"expr"`
		Datasource *struct {
			UID string `json:"uid"`
		} `json:"datasource"`
	} `json:"targets"`
	Panels []dashPanel `json:"panels"`
}

type dashboard struct {
	UID           string      `json:"uid"`
	Title         string      `json:"title"`
	SchemaVersion int         `json:"schemaVersion"`
	ID            *int        `json:"id"`
	Panels        []dashPanel `json:"panels"`
	Templating    struct {
		List []struct {
			Type       string `json:"type"`
			Name       string `json:"name"`
			Query      any    `json:"query"`
			Definition string `json:"definition"`
			Datasource *struct {
				Type string `json:"type"`
				UID  string `json:"uid"`
			} `json:"datasource"`
			IncludeAll bool `json:"includeAll"`
			Multi      bool `json:"multi"`
		} `json:"list"`
	} `json:"templating"`
}

func loadDashboard(t *testing.T) (dashboard, any) {
	t.Helper()
	data := readFile(t, dashboardFile)
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	var raw any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	return d, raw
}

// allPanels flattens rows (a collapsed row holds its panels).
func allPanels(ps []dashPanel) []dashPanel {
	var out []dashPanel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, allPanels(p.Panels)...)
	}
	return out
}

// exprs finds every "expr" in a JSON value, wherever it is, by path.
func exprs(v any, path string, out map[string]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && k == "expr" {
				out[path+".expr"] = s
				continue
			}
			exprs(x, path+"."+k, out)
		}
	case []any:
		for i, x := range v {
			exprs(x, fmt.Sprintf("%s[%d]", path, i), out)
		}
	}
}

func TestDashboardModel(t *testing.T) {
	d, _ := loadDashboard(t)
	if d.SchemaVersion < 36 || d.SchemaVersion > 41 {
		t.Errorf("schemaVersion %d, want about 39", d.SchemaVersion)
	}
	if d.ID != nil {
		t.Error("id must be null: Grafana assigns it on import")
	}
	if !regexp.MustCompile(`^[a-zA-Z0-9_-]{1,40}$`).MatchString(d.UID) || d.Title == "" {
		t.Errorf("uid %q title %q", d.UID, d.Title)
	}

	vars := map[string]int{}
	for i, v := range d.Templating.List {
		vars[v.Name] = i
	}
	ds, ok := vars["datasource"]
	if !ok || d.Templating.List[ds].Type != "datasource" || d.Templating.List[ds].Query != "prometheus" {
		t.Error("no datasource variable of type datasource and query prometheus")
	}
	ci, ok := vars["check"]
	if !ok {
		t.Fatal("no check variable")
	}
	check := d.Templating.List[ci]
	q, _ := check.Query.(map[string]any)
	const wantQuery = "label_values(assay_check_success, check)"
	if check.Type != "query" || q["query"] != wantQuery || check.Definition != wantQuery {
		t.Errorf("check variable: type %q query %v definition %q, want %s", check.Type, check.Query, check.Definition, wantQuery)
	}
	if check.Datasource == nil || check.Datasource.UID != "${datasource}" || !check.IncludeAll || !check.Multi {
		t.Errorf("check variable: datasource %+v, includeAll %v, multi %v", check.Datasource, check.IncludeAll, check.Multi)
	}

	ids := map[int]string{}
	type rect struct {
		title      string
		x, y, w, h int
	}
	var rects []rect
	for _, p := range allPanels(d.Panels) {
		if prev, dup := ids[p.ID]; dup || p.ID <= 0 {
			t.Errorf("panel %q: id %d (also %q)", p.Title, p.ID, prev)
		}
		ids[p.ID] = p.Title
		g := p.GridPos
		if g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0 || g.X+g.W > 24 {
			t.Errorf("panel %q: gridPos %+v outside the 24 columns", p.Title, g)
		}
		for _, r := range rects {
			if g.X < r.x+r.w && r.x < g.X+g.W && g.Y < r.y+r.h && r.y < g.Y+g.H {
				t.Errorf("panels %q and %q overlap", p.Title, r.title)
			}
		}
		rects = append(rects, rect{p.Title, g.X, g.Y, g.W, g.H})
		if p.Type == "row" {
			continue
		}
		if p.Datasource == nil || p.Datasource.UID != "${datasource}" || p.Datasource.Type != "prometheus" {
			t.Errorf("panel %q: datasource %+v, want the ${datasource} variable", p.Title, p.Datasource)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q: no query", p.Title)
		}
		refs := map[string]bool{}
		for _, tg := range p.Targets {
			if tg.Expr == "" || tg.RefID == "" || refs[tg.RefID] {
				t.Errorf("panel %q: target %q without expr or with a repeated refId", p.Title, tg.RefID)
			}
			refs[tg.RefID] = true
			if tg.Datasource != nil && tg.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q: target %s has its own datasource %q", p.Title, tg.RefID, tg.Datasource.UID)
			}
			// A per-check panel follows the check picker.
			if strings.Contains(tg.Expr, "assay_check_") || strings.Contains(tg.Expr, "assay_step_") {
				if !strings.Contains(tg.Expr, `check=~"$check"`) {
					t.Errorf("panel %q: %s ignores the check variable", p.Title, tg.Expr)
				}
			}
		}
	}
}

// Every expr is valid PromQL (promtool parses it as a recording rule,
// with the variables filled in) and selects only metrics assay exports;
// together they show what the README says the dashboard shows.
func TestDashboardQueries(t *testing.T) {
	d, raw := loadDashboard(t)
	found := map[string]string{}
	exprs(raw, "$", found)
	// The check variable's query is Grafana's label_values(SELECTOR, LABEL).
	for _, v := range d.Templating.List {
		q, _ := v.Query.(map[string]any)
		s, _ := q["query"].(string)
		if m := regexp.MustCompile(`^label_values\((.+), *([a-zA-Z_][a-zA-Z0-9_]*)\)$`).FindStringSubmatch(s); m != nil {
			found["templating."+v.Name] = m[1]
		} else if v.Type == "query" {
			t.Errorf("variable %s: query %q is not label_values(SELECTOR, LABEL)", v.Name, s)
		}
	}
	if len(found) < 20 {
		t.Fatalf("only %d expressions in %s", len(found), dashboardFile)
	}

	type recording struct {
		Record string `yaml:"record"`
		Expr   string `yaml:"expr"`
	}
	var rules []recording
	used := map[string]bool{}
	paths := slices.Sorted(func(yield func(string) bool) {
		for p := range found {
			if !yield(p) {
				return
			}
		}
	})
	for i, p := range paths {
		expr, err := substituteVariables(found[p])
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		for _, n := range checkMetricNames(t, p, expr) {
			used[n] = true
		}
		rules = append(rules, recording{Record: fmt.Sprintf("grafana:expr_%d", i), Expr: expr})
	}
	file := map[string]any{"groups": []any{map[string]any{"name": "grafana", "rules": rules}}}
	data, err := yaml.Marshal(file)
	if err != nil {
		t.Fatal(err)
	}
	out := runTool(t, "promtool", "check", "rules", writeTemp(t, "dashboard-rules.yaml", data))
	if want := fmt.Sprintf("SUCCESS: %d rules found", len(rules)); !strings.Contains(out, want) {
		t.Errorf("promtool check rules: want %q in\n%s", want, out)
	}

	for _, m := range []string{
		"assay_check_success", "assay_step_phase_duration_seconds", "assay_check_failures_total",
		"assay_check_duration_seconds_bucket", "assay_check_error_budget_remaining_ratio", "assay_check_slo_burn_rate",
		"assay_cluster_members", "assay_cluster_owned_checks", "assay_cluster_lease_renew_failures_total",
		"assay_cluster_config_mismatch", "assay_notifications_total", "assay_notification_failures_total",
	} {
		if !used[m] {
			t.Errorf("no panel shows %s", m)
		}
	}
}

func TestSubstituteVariables(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{`rate(x{check=~"$check"}[$__rate_interval])`, `rate(x{check=~".*"}[5m])`, ""},
		{`x{check=~"${check:regex}"}[${__range}]`, `x{check=~".*"}[1h]`, ""},
		{`x{a="[[check]]"}`, `x{a=".*"}`, ""},
		{`x{job="$job"}`, "", `unknown variables ["$job"]`},
	}
	for _, tt := range tests {
		got, err := substituteVariables(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("substituteVariables(%q) error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("substituteVariables(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}
