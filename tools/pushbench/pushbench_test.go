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
		{spec: "s1:hms:0ms", name: "s1:hms:0ms"},
		{spec: "s1:webpush:0ms", name: "s1:webpush:0ms"},
		{spec: "s2:hms:20ms:half", name: "s2:hms:20ms:half"},
		{spec: "s2:webpush:0ms:gw100", name: "s2:webpush:0ms:gw100"},
		{spec: "s1:apns:fast", wantErr: true},
		{spec: "s1:apns", wantErr: true},
		{spec: "s1:apns:0ms:-1", wantErr: true},
		{spec: "s1:apns:0ms:gw", name: "s1:apns:0ms:gw"},
		{spec: "s2:mixed:0ms:gw100", name: "s2:mixed:0ms:gw100"},
		{spec: "s1:apns:0ms:2000:gw100", name: "s1:apns:0ms:2000:gw100", rate: 2000},
		{spec: "s1:apns:0ms:half:gw", name: "s1:apns:0ms:half:gw"},
		{spec: "s1:apns:0ms:gw0", wantErr: true},
		{spec: "s1:apns:0ms:gw1001", wantErr: true},
		{spec: "s1:apns:0ms:gwx", wantErr: true},
		{spec: "s1:apns:gw", wantErr: true},
		{spec: "s1:apns:0ms:1:2:gw", wantErr: true},
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

func TestGatewayScenarioAndItsDirectTwin(t *testing.T) {
	s, err := parseScenario("s1:apns:0ms:half:gw100")
	if err != nil {
		t.Fatal(err)
	}
	if !s.gateway() || s.Batch != 100 || s.Base() != "s1:apns:0ms:gw100" {
		t.Fatalf("%+v base %q", s, s.Base())
	}
	if b, err := parseScenario(s.Base()); err != nil || b.Name != "s1:apns:0ms:gw100" || b.paced() {
		t.Fatalf("base %+v %v", b, err)
	}
	if d := s.direct(0); d.gateway() || d.Name != "s1:apns:0ms:half" {
		t.Errorf("direct twin %q", d.Name)
	}
	if d := s.direct(1234.4); d.Name != "s1:apns:0ms:1234" || d.Rate != 1234 {
		t.Errorf("paced direct twin %q at %v", d.Name, d.Rate)
	}
	if d, _ := parseScenario("s2:mixed:20ms:gw"); d.direct(0).Name != "s2:mixed:20ms" {
		t.Errorf("direct twin %q", d.direct(0).Name)
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

// runScenarios runs pushbench with args (its own fakes and fleet
// processes, a fresh run directory) and returns each scenario's
// machine-readable result and the whole report.
func runScenarios(t *testing.T, args ...string) (map[string]result, *bytes.Buffer) {
	t.Helper()
	var out bytes.Buffer
	o, err := parseOptions(append(args, "--run-dir="+t.TempDir()), func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := runBench(context.Background(), o, &out, io.Discard); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	rs := map[string]result{}
	for _, l := range strings.Split(out.String(), "\n") {
		if rest, ok := strings.CutPrefix(l, "PUSHBENCH "); ok {
			var r result
			if err := json.Unmarshal([]byte(rest), &r); err != nil {
				t.Fatal(err)
			}
			rs[r.Scenario] = r
		}
	}
	return rs, &out
}

// checkOutcomes requires n outcomes in r, delivered and invalid_token among them.
func checkOutcomes(t *testing.T, name string, r result, n int64) {
	t.Helper()
	var sum int64
	for _, c := range r.Outcomes {
		sum += c
	}
	if sum != n || r.Outcomes["invalid_token"] == 0 || r.Outcomes["delivered"] == 0 {
		t.Errorf("%s: outcomes %v: want %d, delivered and invalid_token", name, r.Outcomes, n)
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
	rs, out := runScenarios(t, "--scenarios=s1:mixed:0ms", "--count=300", "--token-pool=500", "--dead-percent=10",
		"--ceiling-count=300", "--ceiling-duration=5s", "--success-flush=200ms")
	r := rs["s1:mixed:0ms"]
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

// A small run through the HTTP push gateway: the fleet process runs the
// gateway, the load generator POSTs /v1/intents one intent per request and
// 100 per request (each after its direct-NATS yardstick, run first on its
// own); every notification must be accounted for and the gateway's figures
// must be there. No figure is asserted.
func TestGatewayRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	rs, out := runScenarios(t, "--scenarios=s1:mixed:0ms:gw,s1:mixed:0ms:gw100", "--count=200", "--token-pool=500", "--dead-percent=10",
		"--no-ceilings", "--success-flush=200ms", "--drain-wait=60s")
	if len(rs) != 3 {
		t.Fatalf("results %v, want the direct yardstick and two gateway scenarios\n%s", len(rs), out.String())
	}
	for name, want := range map[string]struct {
		via            string
		batch          int
		requests       int64
		providerAtMost int64
	}{
		"s1:mixed:0ms":       {"nats", 0, 200, 200},
		"s1:mixed:0ms:gw":    {"gateway", 1, 200, 200},
		"s1:mixed:0ms:gw100": {"gateway", 100, 2, 200},
	} {
		r, ok := rs[name]
		if !ok {
			t.Errorf("%s: no result", name)
			continue
		}
		if !r.Complete || r.Done != 200 || r.Published != 200 || r.Intents != 200 || r.PublishErrs != 0 {
			t.Errorf("%s: done %d of %d published (%d intents, %d errors), complete %v", name, r.Done, r.Published, r.Intents, r.PublishErrs, r.Complete)
		}
		checkOutcomes(t, name, r, 200)
		if r.Via != want.via || r.Batch != want.batch || r.Requests != want.requests {
			t.Errorf("%s: via %q batch %d requests %d, want %q %d %d", name, r.Via, r.Batch, r.Requests, want.via, want.batch, want.requests)
		}
		if r.ProviderRecv <= 0 || r.ProviderRecv > want.providerAtMost {
			t.Errorf("%s: %d provider deliveries", name, r.ProviderRecv)
		}
		if r.FleetCPUIntent <= 0 || r.AnswerLat.P50 <= 0 {
			t.Errorf("%s: figures missing: CPU/intent %v, answer p50 %v", name, r.FleetCPUIntent, r.AnswerLat.P50)
		}
		if want.via == "gateway" && (r.Direct != "s1:mixed:0ms" || r.DirectFleetCPUIntent <= 0 ||
			r.GatewayCPUIntent != r.FleetCPUIntent-r.DirectFleetCPUIntent) {
			t.Errorf("%s: yardstick %q %v, gateway %v", name, r.Direct, r.DirectFleetCPUIntent, r.GatewayCPUIntent)
		}
		// 200 intents are a few profile samples: the share may be 0, never all.
		if r.GatewayShare < 0 || r.GatewayShare >= 1 || (want.via == "nats" && r.GatewayShare != 0) {
			t.Errorf("%s: gateway share of the fleet's CPU %v", name, r.GatewayShare)
		}
	}
	if !strings.Contains(out.String(), "gateway (fleet process CPU per intent") {
		t.Errorf("no gateway summary\n%s", out.String())
	}
}

var limitsForTest = events.DefaultLimits

// Small runs of the two platforms added last, each on its own: HMS Push
// Kit (OAuth token, batched send) and Web Push (the fake's subscriptions,
// encrypted and VAPID-signed, dead ones 410 Gone). Every notification must
// be accounted for, and the fakes must have taken the delivered ones.
func TestHMSAndWebPushRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	rs, out := runScenarios(t, "--scenarios=s1:hms:0ms,s1:webpush:0ms,s2:webpush:0ms", "--count=200", "--token-pool=500", "--dead-percent=10",
		"--no-ceilings", "--success-flush=200ms", "--drain-wait=60s")
	for _, name := range []string{"s1:hms:0ms", "s1:webpush:0ms", "s2:webpush:0ms"} {
		r, ok := rs[name]
		if !ok {
			t.Errorf("%s: no result\n%s", name, out.String())
			continue
		}
		if !r.Complete || r.Done != 200 || r.Published != 200 || r.PublishErrs != 0 || r.Err != "" {
			t.Errorf("%s: done %d of %d published (%d errors), complete %v, err %q", name, r.Done, r.Published, r.PublishErrs, r.Complete, r.Err)
		}
		checkOutcomes(t, name, r, 200)
		if r.ProviderRecv != r.Outcomes["delivered"] {
			t.Errorf("%s: the fakes took %d, the fleet reports %d delivered", name, r.ProviderRecv, r.Outcomes["delivered"])
		}
	}
}
