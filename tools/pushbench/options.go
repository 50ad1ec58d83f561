package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/pushfleet/pushfleet/internal/config"
	"github.com/pushfleet/pushfleet/pkg/provider/apns"
)

// defaultScenarios is the full run: every target of docs/BENCHMARKS.md.
const defaultScenarios = "s1:apns:0ms,s2:apns:0ms,s1:apns:20ms,s1:apns:20ms:half,s2:apns:20ms,s2:apns:20ms:half," +
	"s1:mixed:0ms,s2:mixed:0ms,tag:mixed:0ms"

// options are the driver's settings.
type options struct {
	NATSURL     string
	Fakes       string
	FakesFile   string
	Scenarios   []scenario
	Count       int
	Duration    time.Duration
	DrainWait   time.Duration
	Window      int
	Publishers  int
	TokenPool   int
	DeadPercent float64
	TagDevices  int
	Registrars  int

	CeilingCount    int
	CeilingDuration time.Duration
	APNs2Goroutines int
	NoCeilings      bool

	CPUProfile string
	MemProfile string
	// FleetGOGC and FleetGOMEMLIMIT are set in the fleet process's
	// environment only.
	FleetGOGC, FleetGOMEMLIMIT string
	RunDir                     string
	KeepData                   bool
	JSONOut                    string

	Fleet      fleetFlags
	fleetNames []string
	fs         *flag.FlagSet
}

const usageText = `pushbench: benchmark the pushfleet fleet end to end, side by side with its ceilings.

Usage:
  pushbench [flags]                run the scenarios (also: pushbench run [flags])
  pushbench fakes --out FILE       serve the five providers' fakes in their own process
  pushbench fleet ...              the fleet under test (started by pushbench itself)

How it runs. For every scenario pushbench starts a fresh fleet process
("pushbench fleet": the all-in-one, i.e. an embedded JetStream server with
file storage in a new temporary directory, plus the dispatcher, the five
senders and the feedback-sink; or the same services against --nats-url). The
providers are the repository's fakes (apnsfake, fcmfake, mifake, hmsfake,
webpushfake), by default
in a third process ("pushbench fakes") so that their CPU is not the fleet's.
This process is the load generator: it publishes intents asynchronously
with events.AsyncPublisher over loopback TCP (one goroutine, at most 1000
intents unacknowledged), follows PUSH_FEEDBACK with an ordered consumer,
decodes each message's per-token events (events.DecodeFeedbackEvents) and
counts each notification's final event (every outcome but "failed", which a
retry follows): feedback stored = notification done.

Scenarios (--scenarios, comma-separated SHAPE:MIX:LATENCY[:PACE][:gw[N]]):
  SHAPE    s1   one token per intent
           s2   100 tokens per intent
           tag  one intent to a tag carried by --tag-devices registered devices
                (registered through internal/tokens before the clock starts)
  MIX      apns   APNs only
           hms    HMS Push Kit only
           webpush Web Push only (the tokens are subscriptions the Web Push
                  fake created: 2000 live, 200 gone, taken round robin)
           mixed  40% APNs, 40% FCM, 20% MiPush (within every S2 intent; by
                  intent for S1)
  LATENCY  provider latency set on every fake (SetLatency), e.g. 0ms, 20ms
  PACE     empty: closed loop, at most --window notifications outstanding
                  (throughput: the fleet runs flat out)
           half:  open loop at half the sustained rate measured for the same
                  SHAPE:MIX:LATENCY earlier in this run (measured first if not)
           N:     open loop at N notifications/s
  gw[N]    through the HTTP push gateway (internal/gateway, run inside the
           fleet process as the all-in-one's --gateway-addr does, with a
           generated API key): the load generator POSTs /v1/intents, N
           intents per request (gw: one, as an object; gwN: an array of N),
           over one shared keep-alive http.Client, at most --publishers
           requests at once. The same scenario published straight to NATS
           is run first (unless already run; at the same rate when paced)
           and the difference in the fleet process's CPU per intent is
           reported as the gateway's cost. E.g. s1:apns:0ms:gw,
           s1:apns:0ms:gw100
  default: ` + defaultScenarios + `

What it reports per scenario (a table, then one "PUSHBENCH {json}" line):
  throughput  notifications/s, sustained = between 10% and 90% of the
              notifications done; overall = all of them over the whole run.
  latency     p50/p95/p99/max intent-to-provider, by timestamps: the
              feedback event's "at" (stamped by the sender right after the
              provider answered, the instant the fleet's own
              pushfleet_intent_to_provider_seconds observes) minus the time
              the intent's publish started here. Same host, same clock. The
              fleet's histogram estimate (bucketed) is printed beside it.
  CPU         fleet process CPU (getrusage: user+system, embedded JetStream
              included) per notification over the run; the fakes' and this
              load generator's CPU are separate processes and shown apart
              (with --fakes inproc the fakes are inside the fleet: flagged).
  peak RSS    the fleet process's getrusage maxrss (fresh process per scenario).
  ceilings    raw JetStream: async publish, then acked pull consume, of
              messages of the scenario's intent size on the fleet's server
              (file storage, work queue, no dedup ids) from inside the fleet
              process; bare apns2: one apns2 client, --apns2-goroutines
              goroutines, against the same APNs fake at the same latency,
              CPU of this process. Ratios are fleet/ceiling.
  A progress line goes to standard error every second.

Every loop is bounded: a scenario publishes at most --count notifications
and for at most --duration, then waits at most --drain-wait. Loopback only.`

// parseOptions parses the driver's flags (with their PUSHFLEET_* twins).
func parseOptions(args []string, getenv func(string) string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("pushbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.fs = fs
	var scen string
	fs.StringVar(&o.NATSURL, "nats-url", "", "external NATS server (JetStream enabled, on this host: loopback addresses only) for the fleet; empty: the all-in-one's embedded server with file storage in a temporary directory")
	fs.StringVar(&o.Fakes, "fakes", "process", "where the provider fakes run: process (their own, started here) or inproc (inside the fleet process, as the all-in-one's sandbox; their CPU then counts as the fleet's)")
	fs.StringVar(&o.FakesFile, "fakes-file", "", "use fakes already served by `pushbench fakes --out FILE` (overrides --fakes)")
	fs.StringVar(&scen, "scenarios", defaultScenarios, "scenarios to run, comma-separated SHAPE:MIX:LATENCY[:PACE][:gw[N]] (see above)")
	fs.IntVar(&o.Count, "count", 100000, "notifications per scenario at most (a tag scenario sends ceil(count/tag-devices) intents)")
	fs.DurationVar(&o.Duration, "duration", 30*time.Second, "publishing time per scenario at most")
	fs.DurationVar(&o.DrainWait, "drain-wait", 2*time.Minute, "how long to wait for outstanding notifications after publishing stops")
	fs.IntVar(&o.Window, "window", 10000, "closed loop: most notifications published and not yet done")
	fs.IntVar(&o.Publishers, "publishers", 16, "gateway scenarios: requests in flight and keep-alive connections (intents published to NATS go asynchronously from one goroutine)")
	fs.IntVar(&o.TokenPool, "token-pool", 100000, "distinct device tokens per platform; intents take them round robin")
	fs.Float64Var(&o.DeadPercent, "dead-percent", 0, "percentage of tokens the fakes report dead (invalid_token feedback, KV writes by the sink)")
	fs.IntVar(&o.TagDevices, "tag-devices", 100000, "devices registered with the tag of a tag scenario")
	fs.IntVar(&o.Registrars, "registrars", 64, "goroutines registering devices for a tag scenario")
	fs.IntVar(&o.CeilingCount, "ceiling-count", 100000, "messages / pushes per ceiling measurement at most")
	fs.DurationVar(&o.CeilingDuration, "ceiling-duration", 10*time.Second, "time per ceiling phase at most")
	fs.IntVar(&o.APNs2Goroutines, "apns2-goroutines", apns.DefaultConnsPerPool*apns.DefaultMaxStreamsPerConn,
		fmt.Sprintf("goroutines sharing the bare apns2 client (default: the fleet's default APNs in-flight bound, %d conns x %d streams)",
			apns.DefaultConnsPerPool, apns.DefaultMaxStreamsPerConn))
	fs.BoolVar(&o.NoCeilings, "no-ceilings", false, "skip the ceiling measurements")
	fs.StringVar(&o.CPUProfile, "cpuprofile", "", "write a CPU profile of the fleet process per scenario to PREFIX-<scenario>.pprof (go tool pprof -top PREFIX-...)")
	fs.StringVar(&o.MemProfile, "memprofile", "", "write a heap profile of the fleet process per scenario, taken when half its notifications are done, to PREFIX-<scenario>.heap.pprof")
	fs.StringVar(&o.FleetGOGC, "fleet-gogc", "", "GOGC of the fleet process only (empty: inherited)")
	fs.StringVar(&o.FleetGOMEMLIMIT, "fleet-gomemlimit", "", "GOMEMLIMIT of the fleet process only, e.g. 120MiB (empty: inherited)")
	fs.StringVar(&o.RunDir, "run-dir", "", "directory for the fleet's stores and logs (default: a new temporary directory)")
	fs.BoolVar(&o.KeepData, "keep-data", false, "keep the run directory (JetStream stores, fleet logs) afterwards")
	fs.StringVar(&o.JSONOut, "json", "", "also append every scenario's JSON result line to this file")
	o.fleetNames = o.Fleet.register(fs)
	fs.Usage = config.Usage(fs, usageText)
	if err := config.Parse(fs, args, getenv); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q (see -h)", fs.Args())
	}
	if err := loopbackOnly(o.NATSURL); err != nil {
		return nil, err
	}
	var err error
	if o.Scenarios, err = parseScenarios(scen); err != nil {
		return nil, err
	}
	switch {
	case o.Fakes != "process" && o.Fakes != "inproc":
		return nil, fmt.Errorf("--fakes: want process or inproc, got %q", o.Fakes)
	case o.Count < 1 || o.Window < 1 || o.Publishers < 1 || o.TokenPool < 100 || o.TagDevices < 1 || o.Registrars < 1:
		return nil, errors.New("--count, --window, --publishers, --tag-devices and --registrars must be positive, --token-pool at least 100")
	case o.Duration <= 0 || o.DrainWait <= 0 || o.CeilingDuration <= 0:
		return nil, errors.New("--duration, --drain-wait and --ceiling-duration must be positive")
	case o.DeadPercent < 0 || o.DeadPercent > 100:
		return nil, errors.New("--dead-percent must be within 0..100")
	case o.CeilingCount < 1 || o.APNs2Goroutines < 1:
		return nil, errors.New("--ceiling-count and --apns2-goroutines must be positive")
	}
	return o, nil
}

// fleetArgs are the fleet flags as given (or defaulted) here, for the
// fleet process.
func (o *options) fleetArgs() []string {
	var args []string
	for _, name := range o.fleetNames {
		args = append(args, "--"+name+"="+o.fs.Lookup(name).Value.String())
	}
	return args
}

// fleetSettings lists the fleet flags that differ from their defaults.
func (o *options) fleetSettings() string {
	var s []string
	for _, name := range o.fleetNames {
		f := o.fs.Lookup(name)
		if f.Value.String() != f.DefValue {
			s = append(s, "--"+name+"="+f.Value.String())
		}
	}
	if o.FleetGOGC != "" {
		s = append(s, "GOGC="+o.FleetGOGC)
	}
	if o.FleetGOMEMLIMIT != "" {
		s = append(s, "GOMEMLIMIT="+o.FleetGOMEMLIMIT)
	}
	if len(s) == 0 {
		return "fleet defaults"
	}
	return strings.Join(s, " ")
}

// loopbackOnly rejects NATS URLs that leave this host: the benchmark only
// ever talks to loopback addresses.
func loopbackOnly(urls string) error {
	if urls == "" {
		return nil
	}
	for _, raw := range strings.Split(urls, ",") {
		raw = strings.TrimSpace(raw)
		if !strings.Contains(raw, "://") {
			raw = "nats://" + raw
		}
		u, err := url.Parse(raw)
		if err != nil {
			return fmt.Errorf("--nats-url %q: %w", raw, err)
		}
		host := u.Hostname()
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("--nats-url %q: pushbench runs on loopback only (127.0.0.1, ::1 or localhost)", raw)
		}
	}
	return nil
}
