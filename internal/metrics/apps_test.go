package metrics_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

func TestAppLabels(t *testing.T) {
	tests := []struct {
		name  string
		known []string // nil: no list
		fill  int      // distinct names admitted first
		app   string
		want  string
	}{
		{name: "no list: own label", app: "demo", want: "demo"},
		{name: "empty app", app: "", want: metrics.AppNone},
		{name: "empty app with a list", known: []string{"demo"}, app: "", want: metrics.AppNone},
		{name: "known app", known: []string{"demo", "shop"}, app: "shop", want: "shop"},
		{name: "unknown app with a list", known: []string{"demo"}, app: "shop", want: metrics.AppOther},
		{name: "list of empty strings lifts it", known: []string{""}, app: "shop", want: "shop"},
		{name: "empty list lifts it", known: []string{}, app: "shop", want: "shop"},
		{name: "dots are no app name", app: "demo.x", want: metrics.AppOther},
		{name: "wildcard", app: "*", want: metrics.AppOther},
		{name: "invalid UTF-8", app: "d\xffemo", want: metrics.AppOther},
		{name: "too long", app: strings.Repeat("a", 65), want: metrics.AppOther},
		{name: "invalid name even when listed", known: []string{"a.b"}, app: "a.b", want: metrics.AppOther},
		{name: "below the cap", fill: metrics.DefaultMaxApps - 1, app: "late", want: "late"},
		{name: "past the cap", fill: metrics.DefaultMaxApps, app: "late", want: metrics.AppOther},
		{name: "admitted before the cap keeps its label", fill: metrics.DefaultMaxApps, app: "app-0", want: "app-0"},
		{name: "a list ignores the cap", known: []string{"late"}, fill: metrics.DefaultMaxApps, app: "late", want: "late"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := metrics.New()
			for i := range tc.fill {
				m.App(fmt.Sprintf("app-%d", i))
			}
			if tc.known != nil {
				m.SetKnownApps(tc.known)
			}
			if got := m.App(tc.app); got != tc.want {
				t.Fatalf("App(%q) = %q, want %q", tc.app, got, tc.want)
			}
		})
	}
}

// series counts the series of every family that has an app label.
func series(t *testing.T, m *metrics.Fleet) (total int, perFamily map[string]int) {
	t.Helper()
	fams, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	perFamily = map[string]int{}
	for _, f := range fams {
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "app" {
					perFamily[f.GetName()]++
					total++
				}
			}
		}
	}
	return total, perFamily
}

// 15,000 distinct app names (an attacker's, or typos) mint a bounded number
// of series: the cap plus AppOther without a known list, the known apps plus
// AppOther with one.
func TestUnknownAppsKeepSeriesBounded(t *testing.T) {
	for _, known := range [][]string{nil, {"demo"}} {
		t.Run(fmt.Sprintf("known=%v", known), func(t *testing.T) {
			m := metrics.New()
			m.SetKnownApps(known)
			names := []string{"demo"}
			for i := range 15_000 {
				names = append(names, fmt.Sprintf("app%05d", i), fmt.Sprintf("bad.%d\xff", i))
			}
			for _, app := range names {
				m.Notifications.WithLabelValues("apns", m.App(app), "delivered").Inc()
				m.Intents.WithLabelValues(m.App(app), "dispatched").Inc()
				m.Suppressed.WithLabelValues("fcm", m.App(app)).Inc()
				m.Provider.ObserveRequest("apns", app, provider.Delivered, time.Millisecond) // bounded by New
			}
			want := metrics.DefaultMaxApps + 1
			if known != nil {
				want = len(known) + 1
			}
			total, per := series(t, m)
			for fam, n := range per {
				if n != want {
					t.Errorf("%s: %d series, want %d", fam, n, want)
				}
			}
			if len(per) != 4 || total != 4*want {
				t.Fatalf("%d series with an app label in %d families, want %d in 4", total, len(per), 4*want)
			}
		})
	}
}

// App and SetKnownApps are safe for concurrent use (run with -race), and
// concurrent callers never admit more than the cap.
func TestAppLabelsConcurrent(t *testing.T) {
	m := metrics.New()
	var wg sync.WaitGroup
	labels := make([]map[string]bool, 8)
	for g := range labels {
		labels[g] = map[string]bool{}
		wg.Go(func() {
			for i := range 1000 {
				labels[g][m.App(fmt.Sprintf("g%d-%d", g, i))] = true
			}
		})
	}
	wg.Wait()
	all := map[string]bool{}
	for _, l := range labels {
		for k := range l {
			all[k] = true
		}
	}
	if len(all) != metrics.DefaultMaxApps+1 {
		t.Fatalf("%d distinct labels, want %d", len(all), metrics.DefaultMaxApps+1)
	}
	wg.Go(func() {
		for i := range 200 {
			m.SetKnownApps([]string{fmt.Sprintf("k%d", i)})
		}
	})
	for i := range 200 {
		m.App(fmt.Sprintf("k%d", i))
	}
	wg.Wait()
}
