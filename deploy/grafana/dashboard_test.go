// Package grafana_test checks the Grafana dashboard against the code: every
// metric and label its queries use must be one the services export.
package grafana_test

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/internal/metrics/metricstest"
)

const dashboardFile = "pushfleet-dashboard.json"

// targetLabels are added by Prometheus at scrape time, not by the code.
var targetLabels = []string{"job", "instance", "namespace", "pod"}

type panel struct {
	ID      int     `json:"id"`
	Title   string  `json:"title"`
	Panels  []panel `json:"panels"` // a row's panels
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

type dashboard struct {
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Query      json.RawMessage `json:"query"` // a string, or {"query": …}
			IncludeAll bool            `json:"includeAll"`
			AllValue   string          `json:"allValue"`
		} `json:"list"`
	} `json:"templating"`
}

// exprs lists every PromQL expression of the dashboard, by where it is.
func (d *dashboard) exprs(t *testing.T) map[string]string {
	out := map[string]string{}
	ids := map[int]bool{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if ids[p.ID] {
				t.Errorf("panel %q: id %d is used twice", p.Title, p.ID)
			}
			ids[p.ID] = true
			for i, tg := range p.Targets {
				out[p.Title+"#"+string(rune('A'+i))] = tg.Expr
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q string
		if json.Unmarshal(v.Query, &q) != nil {
			var o struct{ Query string }
			_ = json.Unmarshal(v.Query, &o)
			q = o.Query
		}
		out["variable $"+v.Name] = q
	}
	return out
}

var (
	metricName = regexp.MustCompile(`\bpushfleet_[a-z0-9_]+\b`)
	selector   = regexp.MustCompile(`\b(pushfleet_[a-z0-9_]+)\{([^}]*)\}`)
	matcher    = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"`)
	grouping   = regexp.MustCompile(`\b(?:by|without)\s*\(([^)]*)\)`)
	labelValue = regexp.MustCompile(`label_values\(\s*[^,]*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)`)
)

func readDashboard(t *testing.T) *dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return &d
}

// scopeVariables are the dashboard variables every query must filter on, in
// the order they are defined: one Prometheus may scrape several pushfleet
// deployments (namespaces), through several jobs.
var scopeVariables = []string{"job", "namespace", "instance"}

// metricSelector is a pushfleet_ metric as written, with its matchers if any.
var metricSelector = regexp.MustCompile(`\b(pushfleet_[a-z0-9_]+)(\{[^}]*\})?`)

// TestDashboardScopedByVariables checks that the job, namespace and instance
// variables exist, match everything when "All" is selected (a series without
// a namespace label included), and filter every metric of every panel query;
// and that each variable's query filters on the scope variables defined
// before it.
func TestDashboardScopedByVariables(t *testing.T) {
	d := readDashboard(t)
	pos := map[string]int{}
	for i, v := range d.Templating.List {
		pos[v.Name] = i
	}
	for i, name := range scopeVariables {
		j, ok := pos[name]
		if !ok {
			t.Errorf("no template variable $%s", name)
			continue
		}
		v := d.Templating.List[j]
		if v.Type != "query" || !v.IncludeAll || v.AllValue != ".*" {
			t.Errorf("variable $%s: want a query variable with includeAll and allValue \".*\", got type %q includeAll %v allValue %q",
				name, v.Type, v.IncludeAll, v.AllValue)
		}
		if i > 0 && j < pos[scopeVariables[i-1]] {
			t.Errorf("variable $%s must come after $%s", name, scopeVariables[i-1])
		}
	}
	// need lists the matchers a query must hold: all scope variables for a
	// panel, those defined before it for a variable.
	need := func(before int) []string {
		var out []string
		for _, name := range scopeVariables {
			if j, ok := pos[name]; ok && j < before {
				out = append(out, name+`=~"$`+name+`"`)
			}
		}
		return out
	}
	check := func(where, expr string, matchers []string) {
		for _, m := range metricSelector.FindAllStringSubmatch(expr, -1) {
			for _, want := range matchers {
				if !strings.Contains(m[2], want) {
					t.Errorf("%s: %s%s does not filter on %s", where, m[1], m[2], want)
				}
			}
		}
	}
	all := need(len(d.Templating.List))
	if len(all) != len(scopeVariables) {
		return
	}
	for where, expr := range d.exprs(t) {
		if !strings.HasPrefix(where, "variable $") {
			check(where, expr, all)
		}
	}
	for i, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q string
		if json.Unmarshal(v.Query, &q) != nil {
			var o struct{ Query string }
			_ = json.Unmarshal(v.Query, &o)
			q = o.Query
		}
		check("variable $"+v.Name, q, need(i))
	}
}

func TestDashboardMetricsExist(t *testing.T) {
	d := readDashboard(t)
	m := metrics.New()
	metrics.NewConfirm(m) // the confirmation service's instruments
	reg := m.Registry
	families := metricstest.Declared(t)

	exprs := d.exprs(t)
	if len(exprs) == 0 {
		t.Fatal("no expressions found in the dashboard")
	}
	for where, expr := range exprs {
		names := metricName.FindAllString(expr, -1)
		if len(names) == 0 {
			t.Errorf("%s: %q names no pushfleet_ metric", where, expr)
			continue
		}
		allowed := map[string]bool{}
		for _, l := range targetLabels {
			allowed[l] = true
		}
		checkLabels := true
		base := map[string]string{} // as written → family name
		for _, n := range names {
			fam, ok := resolve(reg, n)
			if !ok {
				t.Errorf("%s: metric %s is not registered by metrics.New() or NewConfirm", where, n)
				checkLabels = false
				continue
			}
			base[n] = fam
			f, known := families[fam]
			if !known {
				checkLabels = false // registered, but its labels are not declared where declared() looks
				continue
			}
			if fam != n && !f.Histogram {
				t.Errorf("%s: %s: %s is not a histogram", where, n, fam)
			}
			for l := range f.Labels {
				allowed[l] = true
			}
			if strings.HasSuffix(n, "_bucket") {
				allowed["le"] = true
			}
		}
		if !checkLabels {
			continue
		}
		// Matchers belong to their own metric; grouping labels to any.
		for _, m := range selector.FindAllStringSubmatch(expr, -1) {
			f := families[base[m[1]]]
			for _, mm := range matcher.FindAllStringSubmatch(m[2], -1) {
				if !f.Labels[mm[1]] && !allowed[mm[1]] {
					t.Errorf("%s: %s has no label %q (it has %v)", where, m[1], mm[1], f.LabelNames())
				}
			}
		}
		var used []string
		for _, g := range grouping.FindAllStringSubmatch(expr, -1) {
			for _, l := range strings.Split(g[1], ",") {
				used = append(used, strings.TrimSpace(l))
			}
		}
		for _, lv := range labelValue.FindAllStringSubmatch(expr, -1) {
			used = append(used, lv[1])
		}
		for _, l := range used {
			if l != "" && !allowed[l] {
				t.Errorf("%s: label %q is on none of %v", where, l, names)
			}
		}
	}
}

// resolve finds the registered family behind a name as written in PromQL,
// where a histogram appears as its _bucket, _sum and _count series.
func resolve(reg *prometheus.Registry, name string) (string, bool) {
	if metricstest.Registered(reg, name) {
		return name, true
	}
	for _, s := range []string{"_bucket", "_sum", "_count"} {
		if b, ok := strings.CutSuffix(name, s); ok && metricstest.Registered(reg, b) {
			return b, true
		}
	}
	return "", false
}

// TestDashboardShowsAlertedMetrics checks that every metric the alert rules
// (deploy/prometheus/pushfleet-rules.yaml) fire on has a panel, so that an
// operator paged by one finds it on the dashboard.
func TestDashboardShowsAlertedMetrics(t *testing.T) {
	rules, err := os.ReadFile("../prometheus/pushfleet-rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	shown := map[string]bool{}
	for where, expr := range readDashboard(t).exprs(t) {
		if strings.HasPrefix(where, "variable $") {
			continue
		}
		for _, n := range metricName.FindAllString(expr, -1) {
			shown[n] = true
		}
	}
	want := metricName.FindAllString(string(rules), -1)
	if len(want) == 0 {
		t.Fatal("the alert rules name no pushfleet_ metric")
	}
	for _, n := range want {
		if !shown[n] {
			t.Errorf("alerts use %s, but no panel of %s shows it", n, dashboardFile)
			shown[n] = true // once
		}
	}
}
