// Package metricstest reads what the fleet's code declares about its metric
// families (names, labels, kind), for tests that check dashboards and alert
// rules against the code.
package metricstest

import (
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

// Family is what the code declares about one metric family.
type Family struct {
	Labels    map[string]bool
	Histogram bool
}

// LabelNames are f's labels, sorted.
func (f Family) LabelNames() []string {
	out := make([]string, 0, len(f.Labels))
	for l := range f.Labels {
		out = append(out, l)
	}
	slices.Sort(out)
	return out
}

// descRe reads a descriptor's name and variable labels from its String():
// prometheus.Desc has no accessors.
var descRe = regexp.MustCompile(`fqName: "([^"]*)".*variableLabels: \{([^}]*)\}`)

// Declared reads the labels and kind of the fleet's metric families from
// their descriptors: the exported collectors of *metrics.Fleet, and the
// provider instruments registered through provider.NewMetrics.
func Declared(t testing.TB) map[string]Family {
	t.Helper()
	rec := &recorder{t: t, families: map[string]Family{}}
	fv := reflect.ValueOf(metrics.New()).Elem()
	for i := range fv.NumField() {
		if !fv.Type().Field(i).IsExported() {
			continue
		}
		if c, ok := fv.Field(i).Interface().(prometheus.Collector); ok {
			rec.MustRegister(c)
		}
	}
	provider.NewMetrics(rec)
	return rec.families
}

// Registered reports whether reg holds a metric family called name: reg
// refuses a probe gauge of that name with other help.
func Registered(reg *prometheus.Registry, name string) bool {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: "metricstest probe"})
	if err := reg.Register(g); err != nil {
		return true
	}
	reg.Unregister(g)
	return false
}

// recorder is a Registerer that only reads descriptors.
type recorder struct {
	t        testing.TB
	families map[string]Family
}

func (r *recorder) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	_, hist := c.(*prometheus.HistogramVec)
	if _, ok := c.(prometheus.Histogram); ok {
		hist = true
	}
	for d := range ch {
		m := descRe.FindStringSubmatch(d.String())
		if m == nil {
			r.t.Fatalf("cannot read descriptor %s", d)
		}
		f := Family{Labels: map[string]bool{}, Histogram: hist}
		for _, l := range strings.Split(m[2], ",") {
			if l = strings.TrimSuffix(strings.TrimPrefix(l, "c("), ")"); l != "" {
				f.Labels[l] = true
			}
		}
		r.families[m[1]] = f
	}
	return nil
}

func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		_ = r.Register(c)
	}
}

func (r *recorder) Unregister(prometheus.Collector) bool { return true }
