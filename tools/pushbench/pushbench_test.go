package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/internal/config"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// TestMain lets the test binary stand in for pushbench's child processes
// (`pushbench fakes`, `pushbench fleet`), which the driver starts with
// os.Executable().
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		err := run(context.Background(), os.Args[1:], config.Getenv, os.Stdin, os.Stdout, os.Stderr)
		if err != nil {
			fmt.Fprintln(os.Stderr, "pushbench child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestParseScenario(t *testing.T) {
	for _, tc := range []struct {
		spec, name string
		rate       float64
		wantErr    bool
	}{
		{spec: "s1:apns:0ms", name: "s1:apns:0ms"},
		{spec: "s2:mixed:20ms", name: "s2:mixed:20ms"},
		{spec: "s2:apns:20ms:half", name: "s2:apns:20ms:half"},
		{spec: "s1:apns:0s:5000", name: "s1:apns:0ms:5000", rate: 5000},
		{spec: "tag:mixed:0ms", name: "tag:mixed:0ms"},
		{spec: "tag:mixed:0ms:half", wantErr: true},
		{spec: "s3:apns:0ms", wantErr: true},
		{spec: "s1:gcm:0ms", wantErr: true},
		{spec: "s1:apns:fast", wantErr: true},
		{spec: "s1:apns", wantErr: true},
		{spec: "s1:apns:0ms:-1", wantErr: true},
	} {
		s, err := parseScenario(tc.spec)
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: err %v, want error %v", tc.spec, err, tc.wantErr)
			continue
		}
		if err == nil && (s.Name != tc.name || s.Rate != tc.rate) {
			t.Errorf("%s: name %q rate %v, want %q %v", tc.spec, s.Name, s.Rate, tc.name, tc.rate)
		}
	}
}

func TestMixAndTokens(t *testing.T) {
	s, _ := parseScenario("s2:mixed:0ms")
	counts := map[string]int{}
	for i := range 100 {
		counts[string(s.platformAt(i))]++
	}
	if counts["apns"] != 40 || counts["fcm"] != 40 || counts["mi"] != 20 {
		t.Errorf("mix %v, want 40/40/20", counts)
	}
	g := &loadGen{sc: s, o: &options{TokenPool: 1000}, perIntent: 100}
	in := g.intent(3, "run-")
	if err := in.Validate(limitsForTest); err != nil {
		t.Fatalf("intent does not validate: %v", err)
	}
	seen := map[string]bool{}
	for _, tg := range in.Targets.Tokens {
		if seen[tg.Token] {
			t.Fatalf("token %s twice in one intent", tg.Token)
		}
		seen[tg.Token] = true
	}
	if n := 0; isDead(n, 0) {
		t.Error("no token is dead at 0%")
	}
	dead := 0
	for n := range 10000 {
		if isDead(n, 5) {
			dead++
		}
	}
	if dead < 400 || dead > 600 {
		t.Errorf("%d of 10000 dead at 5%%", dead)
	}
}

func TestPercentileAndSustained(t *testing.T) {
	var v []float64
	for i := 1; i <= 100; i++ {
		v = append(v, float64(i))
	}
	if p := percentile(v, .5); p != 50 {
		t.Errorf("p50 %v", p)
	}
	if p := percentile(v, .99); p != 99 {
		t.Errorf("p99 %v", p)
	}
	tr := newTracker("r", 1, 101)
	t0 := time.Unix(0, 0)
	for i := range 101 { // one per millisecond: 1000/s
		tr.doneAt = append(tr.doneAt, t0.Add(time.Duration(i)*time.Millisecond).UnixNano())
	}
	if r, _ := tr.sustained(101); math.Abs(r-1000) > 1 {
		t.Errorf("sustained %v, want 1000/s", r)
	}
}

func TestHistogramQuantile(t *testing.T) {
	h := histSnap{Bounds: []float64{.01, .02, .05}, Counts: []uint64{50, 90, 100}, Count: 100}
	if q := h.quantile(.5); math.Abs(q-.01) > 1e-9 {
		t.Errorf("p50 %v", q)
	}
	if q := h.quantile(.7); math.Abs(q-.015) > 1e-9 {
		t.Errorf("p70 %v, want .015 (linear within the bucket)", q)
	}
	old := histSnap{Bounds: h.Bounds, Counts: []uint64{50, 50, 50}, Count: 50}
	if d := h.sub(old); d.Count != 50 || d.Counts[0] != 0 || d.Counts[2] != 50 {
		t.Errorf("sub %+v", d)
	}
	if q := (histSnap{Bounds: []float64{1}, Counts: []uint64{0}, Count: 3}).quantile(.5); !math.IsInf(q, 1) {
		t.Errorf("beyond the last bound: %v", q)
	}
}

func TestLoopbackOnly(t *testing.T) {
	for _, ok := range []string{"", "nats://127.0.0.1:4222", "localhost:4222", "nats://[::1]:4222,nats://127.0.0.2:4223"} {
		if err := loopbackOnly(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"nats://10.0.0.1:4222", "nats://demo.nats.io:4222", "nats://127.0.0.1:4222,nats://192.168.1.1:4222"} {
		if err := loopbackOnly(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestHelpDocumentsEveryFlag(t *testing.T) {
	var out bytes.Buffer
	_, err := parseOptions([]string{"-h"}, func(string) string { return "" }, &out)
	if err == nil {
		t.Fatal("-h did not stop")
	}
	for _, want := range []string{"--scenarios", "[PUSHFLEET_SCENARIOS]", "--cpuprofile", "--sender-in-flight", "--fakes", "pushbench fakes", "intent-to-provider"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("-h lacks %q", want)
		}
	}
}

// A whole run, small: fakes in their own process, the fleet in another,
// one S1 scenario with its ceilings. It checks that every notification is
// accounted for and the machine-readable line is complete; no figure is
// asserted.
func TestSmallRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	var out bytes.Buffer
	args := []string{"--scenarios=s1:mixed:0ms", "--count=300", "--token-pool=500", "--dead-percent=10",
		"--ceiling-count=300", "--ceiling-duration=5s", "--success-flush=200ms", "--run-dir=" + t.TempDir()}
	o, err := parseOptions(args, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := runBench(context.Background(), o, &out, io.Discard); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	var r result
	for _, l := range strings.Split(out.String(), "\n") {
		if rest, ok := strings.CutPrefix(l, "PUSHBENCH "); ok {
			if err := json.Unmarshal([]byte(rest), &r); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !r.Complete || r.Done != 300 || r.Published != 300 {
		t.Fatalf("done %d of %d published, complete %v\n%s", r.Done, r.Published, r.Complete, out.String())
	}
	if r.Outcomes["invalid_token"] == 0 || r.Outcomes["delivered"] == 0 {
		t.Errorf("outcomes %v: want delivered and invalid_token", r.Outcomes)
	}
	if r.JS == nil || r.APNs2 == nil || r.FleetCPU <= 0 || r.PeakRSSMB <= 0 {
		t.Errorf("figures missing: %+v", r)
	}
}

var limitsForTest = events.DefaultLimits
