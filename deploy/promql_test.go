package deploy_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// promqlKeywords are the identifiers of PromQL that are neither metric nor
// function names (compared in lower case, as PromQL does).
var promqlKeywords = map[string]bool{
	"and": true, "or": true, "unless": true, "bool": true, "offset": true,
	"atan2": true, "inf": true, "nan": true,
}

// promqlAggregations may take their grouping before the parenthesis:
// sum by (check) (x).
var promqlAggregations = map[string]bool{
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true,
	"stdvar": true, "count": true, "count_values": true, "bottomk": true, "topk": true,
	"quantile": true, "limitk": true, "limit_ratio": true,
}

// promqlGrouping are the keywords followed by a parenthesised label list.
var promqlGrouping = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true,
	"group_left": true, "group_right": true,
}

// metricNames returns the metric names a PromQL expression selects, in
// order, without duplicates. It does not validate the expression (promtool
// does); it only tells metric names apart from functions, keywords, label
// names, strings, numbers and durations, so that a typo in a name is caught
// even when the expression is valid.
func metricNames(expr string) ([]string, error) {
	var names []string
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			end, err := skipString(expr, i)
			if err != nil {
				return nil, err
			}
			i = end
		case c == '{':
			// Label matchers: label names and quoted values, no metrics
			// (a {__name__=...} selector is refused: name the metric).
			end := i + 1
			for end < len(expr) && expr[end] != '}' {
				if q := expr[end]; q == '"' || q == '\'' || q == '`' {
					e, err := skipString(expr, end)
					if err != nil {
						return nil, err
					}
					end = e
					continue
				}
				end++
			}
			if end == len(expr) {
				return nil, fmt.Errorf("unclosed { at %d", i)
			}
			if strings.Contains(expr[i:end], "__name__") {
				return nil, fmt.Errorf("a __name__ matcher at %d: select the metric by name", i)
			}
			i = end + 1
		case c == '[':
			end := strings.IndexByte(expr[i:], ']')
			if end < 0 {
				return nil, fmt.Errorf("unclosed [ at %d", i)
			}
			i += end + 1
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(expr) && expr[i+1] >= '0' && expr[i+1] <= '9':
			// Numbers (1e3, 0x1f) and durations (5m, 1h30m).
			for i < len(expr) && (isIdentChar(expr[i]) || expr[i] == '.') {
				i++
			}
		case isIdentStart(c):
			start := i
			for i < len(expr) && isIdentChar(expr[i]) {
				i++
			}
			word := expr[start:i]
			next := i
			for next < len(expr) && strings.ContainsRune(" \t\r\n", rune(expr[next])) {
				next++
			}
			lower := strings.ToLower(word)
			switch {
			case promqlGrouping[lower]:
				if next < len(expr) && expr[next] == '(' {
					end := strings.IndexByte(expr[next:], ')')
					if end < 0 {
						return nil, fmt.Errorf("unclosed ( after %s at %d", word, start)
					}
					i = next + end + 1
				}
			case promqlKeywords[lower]:
			case promqlAggregations[lower] && startsWord(expr[next:], "by", "without"):
			case next < len(expr) && expr[next] == '(':
				// A function or an aggregation.
			default:
				if !slices.Contains(names, word) {
					names = append(names, word)
				}
			}
		default:
			i++
		}
	}
	return names, nil
}

// startsWord reports whether s begins with one of words, as a whole word.
func startsWord(s string, words ...string) bool {
	for _, w := range words {
		if len(s) >= len(w) && strings.EqualFold(s[:len(w)], w) && (len(s) == len(w) || !isIdentChar(s[len(w)])) {
			return true
		}
	}
	return false
}

func skipString(s string, i int) (int, error) {
	q := s[i]
	for j := i + 1; j < len(s); j++ {
		switch {
		case s[j] == '\\' && q != '`':
			j++
		case s[j] == q:
			return j + 1, nil
		}
	}
	return 0, fmt.Errorf("unclosed string at %d", i)
}

func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isIdentChar(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

func TestMetricNames(t *testing.T) {
	tests := []struct {
		expr string
		want []string
	}{
		{`assay_check_success`, []string{"assay_check_success"}},
		{`max by (check) (assay_check_success) == 0`, []string{"assay_check_success"}},
		{`sum(rate(assay_check_runs_total{check=~"a|b", job!="x"}[5m])) by (check)`, []string{"assay_check_runs_total"}},
		{`histogram_quantile(0.95, sum by (le, check) (rate(assay_check_duration_seconds_bucket[$__rate_interval])))`, []string{"assay_check_duration_seconds_bucket"}},
		{`a > on (job, instance) group_left (version) b offset 5m`, []string{"a", "b"}},
		{`x AND BY_name unless y`, []string{"x", "BY_name", "y"}},
		{`min by (check) (expiry - time()) < 14 * 86400 and 1e3 > .5`, []string{"expiry"}},
		{`label_replace(up, "dst", "$1 and rate(", "src", "(.*)")`, []string{"up"}},
		{`count(up{x="}"} == 1) or vector(0)`, []string{"up"}},
		{`avg_over_time(m[1h:5m]) / ignoring(window) n`, []string{"m", "n"}},
		{`up and on (job, instance) last_over_time(assay_build_info[1h])`, []string{"up", "assay_build_info"}},
		{`increase(assay_notifications_total{outcome="dropped"}[1h]) + increase(assay_notifications_total[1h])`, []string{"assay_notifications_total"}},
		{`recording:rule:name > bool 1`, []string{"recording:rule:name"}},
	}
	for _, tt := range tests {
		got, err := metricNames(tt.expr)
		if err != nil {
			t.Errorf("metricNames(%q): %v", tt.expr, err)
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("metricNames(%q) = %q, want %q", tt.expr, got, tt.want)
		}
	}
	for _, bad := range []string{`up{job="x"`, `rate(up[5m)`, `{__name__="up"}`, `up{a="b}`} {
		if got, err := metricNames(bad); err == nil {
			t.Errorf("metricNames(%q) = %q, want an error", bad, got)
		}
	}
}
