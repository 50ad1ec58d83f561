package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/config"
	"github.com/pushfleet/pushfleet/internal/embedded"
	"github.com/pushfleet/pushfleet/internal/fleet"
	"github.com/pushfleet/pushfleet/internal/gateway"
	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/apns"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm"
	"github.com/pushfleet/pushfleet/pkg/provider/hms"
	"github.com/pushfleet/pushfleet/pkg/provider/mi"
	"github.com/pushfleet/pushfleet/pkg/provider/webpush"
)

// fleetFlags are the fleet settings under test. The driver registers them
// too and hands their values to every fleet process it starts.
type fleetFlags struct {
	// Common holds the settings every component shares (--max-attempts,
	// --ack-wait, --drain-timeout, --stream-replicas…, registered as the
	// binaries register them) and the fleet's log level.
	Common     config.Common
	Dispatcher config.Dispatcher
	Sender     config.SenderOptions
	Sink       config.Sink
	// Provider pool settings.
	APNsConns, APNsStreams int
	FCMBatches, FCMConns   int
	MiInFlight             int
	HMSInFlight            int
	WebPushInFlight        int
	// TCP connects the services to the embedded server over loopback TCP
	// instead of in-process (as the all-in-one does).
	TCP bool
}

// register adds the fleet flags to fs and returns their names.
func (f *fleetFlags) register(fs *flag.FlagSet) []string {
	before := map[string]bool{}
	fs.VisitAll(func(fl *flag.Flag) { before[fl.Name] = true })
	f.Common.RegisterShared(fs, "fleet: ") // --max-attempts, --ack-wait, --drain-timeout, --stream-replicas, --dedup-window, retentions
	f.Dispatcher.Register(fs)              // --dispatcher-in-flight, --batch-apns/-fcm/-mi, --max-tokens, --max-intent-bytes
	f.Sender.RegisterLimits(fs, "fleet: ") // --sender-in-flight, --sender-tokens-in-flight, --request-timeout
	f.Sink.Register(fs)                    // --sink-in-flight, --success-flush
	fs.IntVar(&f.APNsConns, "apns-conns", apns.DefaultConnsPerPool, "fleet: APNs HTTP/2 connections per (credentials, environment)")
	fs.IntVar(&f.APNsStreams, "apns-streams-per-conn", apns.DefaultMaxStreamsPerConn, "fleet: APNs requests in flight per connection")
	fs.IntVar(&f.FCMBatches, "fcm-batches", fcm.DefaultMaxConcurrentBatches, "fleet: FCM SendEach calls in flight (each up to 50 requests at a time)")
	fs.IntVar(&f.FCMConns, "fcm-conns", fcm.DefaultMaxConnsPerHost, "fleet: FCM connections per host")
	fs.IntVar(&f.MiInFlight, "mi-in-flight", mi.DefaultMaxInFlightPerHost, "fleet: MiPush requests in flight per host")
	fs.IntVar(&f.HMSInFlight, "hms-in-flight", hms.DefaultMaxInFlight, "fleet: HMS Push Kit requests in flight")
	fs.IntVar(&f.WebPushInFlight, "webpush-in-flight", webpush.DefaultMaxInFlight, "fleet: Web Push requests in flight")
	fs.StringVar(&f.Common.LogLevel, "fleet-log-level", config.DefaultLogLevel, "fleet: log level (the fleet's log goes to a file in the run directory)")
	fs.BoolVar(&f.TCP, "fleet-tcp", false, "fleet: connect the services to the embedded server over loopback TCP instead of in-process (the all-in-one's way)")
	var names []string
	fs.VisitAll(func(fl *flag.Flag) {
		if !before[fl.Name] {
			names = append(names, fl.Name)
		}
	})
	return names
}

// childReady is the fleet process's first line on standard output.
type childReady struct {
	PID     int        `json:"pid"`
	NATSURL string     `json:"nats_url"`
	HTTP    string     `json:"http"`
	Fakes   *fakesInfo `json:"fakes,omitempty"`
	// Gateway is the HTTP push gateway's base URL (gateway scenarios).
	Gateway string `json:"gateway,omitempty"`
}

// childReq is one command from the driver, a JSON line on standard input.
type childReq struct {
	Op       string        `json:"op"` // stats, profile_start, profile_stop, heap_profile, jsceiling, quit
	Path     string        `json:"path,omitempty"`
	Size     int           `json:"size,omitempty"`
	Count    int           `json:"count,omitempty"`
	Duration time.Duration `json:"duration,omitempty"`
}

// childResp answers one command.
type childResp struct {
	Err     string        `json:"err,omitempty"`
	Stats   *fleetStats   `json:"stats,omitempty"`
	Ceiling *jsCeilingRes `json:"ceiling,omitempty"`
}

// fleetStats is the fleet process's own account of itself.
type fleetStats struct {
	CPUMicros  int64  `json:"cpu_us"`
	MaxRSSKB   int64  `json:"maxrss_kb"`
	RSSKB      int64  `json:"rss_kb"`
	HeapInuse  uint64 `json:"heap_inuse"`
	Goroutines int    `json:"goroutines"`
	// Peaks sampled every 100ms since the process started: Go heap in use,
	// goroutine stacks, memory obtained from the OS, goroutines.
	PeakHeapInuse  uint64 `json:"peak_heap_inuse"`
	PeakStackInuse uint64 `json:"peak_stack_inuse"`
	PeakSys        uint64 `json:"peak_sys"`
	PeakGoroutines int    `json:"peak_goroutines"`
	// Hist is pushfleet_intent_to_provider_seconds, merged over platforms.
	Hist histSnap `json:"hist"`
}

// runFleetChild is `pushbench fleet`, the process under test: the
// all-in-one's process life (fleet.Process: embedded JetStream with file
// storage, or an external server) with the providers pointed at the fakes.
// What is its own: the fakes, the readiness report on standard output and
// the steering by the driver over its standard input and output.
func runFleetChild(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	fset := flag.NewFlagSet("pushbench fleet", flag.ContinueOnError)
	fset.SetOutput(stderr)
	var ff fleetFlags
	ff.register(fset)
	natsURL := fset.String("nats-url", "", "external NATS server; empty runs an embedded JetStream server")
	store := fset.String("store", "", "embedded JetStream store directory (required without --nats-url)")
	fakesFile := fset.String("fakes-file", "", "fakes to use (JSON written by `pushbench fakes`); empty starts them in this process")
	gwKeys := fset.String("gateway-keys-file", "", "also run the HTTP push gateway on a loopback port, with this API keys file")
	gwBatch := fset.Int("gateway-max-batch", gateway.DefaultMaxBatch, "the gateway's --gateway-max-batch")
	fset.Usage = config.Usage(fset, "pushbench fleet: the fleet under test (started by pushbench; not meant to be run by hand)")
	if err := config.Parse(fset, args, getenv); err != nil {
		return err
	}
	p := fleet.Process{Name: "pushbench-fleet", Config: ff.Common, Stderr: stderr}
	p.Config.NATSURL, p.Config.HTTPAddr, p.Config.Provision = *natsURL, "127.0.0.1:0", true
	if *natsURL == "" {
		if *store == "" {
			return errors.New("--store is required with an embedded server")
		}
		p.Embedded = &embedded.Config{StoreDir: *store, Listen: "127.0.0.1:-1"}
		p.EmbeddedTCP = ff.TCP
	}

	// The fakes: another process's, or ours.
	var info fakesInfo
	ready := childReady{PID: os.Getpid()}
	if *fakesFile != "" {
		h, err := loadFakesFile(*fakesFile)
		if err != nil {
			return err
		}
		info = h.info
	} else {
		fs, err := startFakes(true)
		if err != nil {
			return err
		}
		defer fs.close()
		info = fs.info
		ready.Fakes = &info
	}

	var gw *gateway.Gateway
	p.Build = func(ctx context.Context, env *fleet.Env) (fleet.Service, error) {
		g, err := fleetServices(ctx, env, &ff, &info)
		if err != nil || *gwKeys == "" {
			return g, err
		}
		if gw, err = benchGateway(env, &ff, *gwKeys, *gwBatch); err != nil {
			return nil, err
		}
		return append(g, labelled{gw, "gateway"}), nil
	}
	p.Foreground = func(ctx context.Context, env *fleet.Env) error {
		ready.NATSURL, ready.HTTP = env.NATSURL, env.Health.URL()
		if gw != nil {
			ready.Gateway = gw.URL()
		}
		return steer(ctx, env, stdin, stdout, ready, ff.Common.Streams.Replicas)
	}
	return p.Run(ctx)
}

// steer reports the fleet ready on out, then answers the driver's
// commands until it says quit or goes away.
func steer(ctx context.Context, env *fleet.Env, stdin io.Reader, stdout io.Writer, ready childReady, replicas int) error {
	// A separate connection for the ceiling, so that it never queues behind
	// the services' traffic.
	cnc, cjs, err := env.Dial()
	if err != nil {
		return err
	}
	defer cnc.Close()

	out := json.NewEncoder(stdout)
	if err := out.Encode(ready); err != nil {
		return err
	}
	peaks := startMemSampler(ctx)
	var prof *os.File
	in := bufio.NewScanner(stdin)
	in.Buffer(make([]byte, 64*1024), 1<<20)
	for in.Scan() {
		var req childReq
		var resp childResp
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			resp.Err = err.Error()
			_ = out.Encode(resp)
			continue
		}
		switch req.Op {
		case "stats":
			s := takeFleetStats(env.Metrics)
			peaks.fill(&s)
			resp.Stats = &s
		case "goroutines":
			f, err := os.Create(req.Path)
			if err == nil {
				err = errors.Join(pprof.Lookup("goroutine").WriteTo(f, 2), f.Close())
			}
			resp.Err = errString(err)
		case "heap_profile":
			f, err := os.Create(req.Path)
			if err == nil {
				runtime.GC() // up-to-date statistics
				err = errors.Join(pprof.WriteHeapProfile(f), f.Close())
			}
			resp.Err = errString(err)
		case "profile_start":
			if prof != nil {
				resp.Err = "a profile is already running"
				break
			}
			f, err := os.Create(req.Path)
			if err == nil {
				err = pprof.StartCPUProfile(f)
			}
			if err != nil {
				resp.Err = err.Error()
				break
			}
			prof = f
		case "profile_stop":
			if prof != nil {
				pprof.StopCPUProfile()
				resp.Err = errString(prof.Close())
				prof = nil
			}
		case "jsceiling":
			r, err := runJSCeiling(ctx, cjs, req.Size, req.Count, req.Duration, replicas)
			resp.Ceiling = &r
			resp.Err = errString(err)
		case "quit":
			_ = out.Encode(resp)
			return nil
		default:
			resp.Err = "unknown op " + req.Op
		}
		if err := out.Encode(resp); err != nil {
			break
		}
	}
	// The driver went away: stop as well.
	return nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// fleetServices assembles the all-in-one's five services, as
// internal/allinone does, with each provider's sender pointed at its fake.
// The senders are closed when the process stops (env.Cleanup).
func fleetServices(ctx context.Context, env *fleet.Env, ff *fleetFlags, info *fakesInfo) (fleet.Group, error) {
	d, err := env.Dispatcher(ctx, ff.Dispatcher)
	if err != nil {
		return nil, err
	}
	sk, err := env.FeedbackSink(ctx, ff.Sink)
	if err != nil {
		return nil, err
	}
	g := fleet.Group{d, sk}
	senders, err := providerSenders(env, ff, info)
	for _, s := range senders {
		env.Cleanup(func() { _ = s.close() })
	}
	if err != nil {
		return nil, err
	}
	for _, p := range benchPlatforms {
		svc, err := env.SenderService(p, senders[p].sender, ff.Sender)
		if err != nil {
			return nil, err
		}
		g = append(g, svc)
	}
	return g, nil
}

// benchGateway is the HTTP push gateway as the all-in-one adds it
// (internal/allinone services()), on a loopback port, with keys from
// keysFile (never reloaded), bodies up to 64 MiB (a batch of S2 intents)
// and batches up to maxBatch intents.
func benchGateway(env *fleet.Env, ff *fleetFlags, keysFile string, maxBatch int) (*gateway.Gateway, error) {
	gc := gateway.Config{Addr: "127.0.0.1:0", KeysFile: keysFile, MaxBody: 64 << 20,
		MaxBatch: max(maxBatch, gateway.DefaultMaxBatch), Timeout: 30 * time.Second,
		Limits: ff.Dispatcher.Dispatch.Limits, Horizon: ff.Dispatcher.Dispatch.ScheduleHorizon}
	return gateway.NewService(gc, gateway.ProcessEnv{JS: env.JS, NC: env.NC, Metrics: env.Metrics,
		Health: env.Health, Logger: env.Logger.With("component", "gateway"), DrainTimeout: env.DrainTimeout})
}

type builtSender struct {
	sender provider.Sender
	close  func() error
}

// benchPlatforms are the platforms pushbench has fakes and scenarios for;
// the fleet child runs a sender for each.
var benchPlatforms = []events.Platform{events.APNs, events.FCM, events.Mi, events.HMS, events.WebPush}

// providerSenders builds the APNs, FCM, MiPush, HMS and Web Push senders
// for the app benchApp at the fakes.
func providerSenders(env *fleet.Env, ff *fleetFlags, info *fakesInfo) (map[events.Platform]builtSender, error) {
	out := map[events.Platform]builtSender{}
	pm := env.Metrics.Provider
	log := env.Logger

	pool, err := certPool(info.APNs.CA)
	if err != nil {
		return out, fmt.Errorf("apns fake CA: %w", err)
	}
	as, err := apns.New(apns.Config{ProductionURL: info.APNs.URL, SandboxURL: info.APNs.URL, RootCAs: pool,
		ConnsPerPool: ff.APNsConns, MaxStreamsPerConn: ff.APNsStreams,
		Logger: log.With("component", "apns"), Metrics: pm}, map[string]apns.AppConfig{benchApp: info.APNs.App})
	if err != nil {
		return out, fmt.Errorf("apns sender: %w", err)
	}
	out[events.APNs] = builtSender{as, as.Close}

	if pool, err = certPool(info.FCM.CA); err != nil {
		return out, fmt.Errorf("fcm fake CA: %w", err)
	}
	fsn, err := fcm.New(fcm.Config{Endpoint: info.FCM.Endpoint, RootCAs: pool,
		MaxConcurrentBatches: ff.FCMBatches, MaxConnsPerHost: ff.FCMConns,
		Logger: log.With("component", "fcm"), Metrics: pm}, map[string]fcm.AppConfig{benchApp: info.FCM.App})
	if err != nil {
		return out, fmt.Errorf("fcm sender: %w", err)
	}
	out[events.FCM] = builtSender{fsn, fsn.Close}

	if pool, err = certPool(info.Mi.CA); err != nil {
		return out, fmt.Errorf("mi fake CA: %w", err)
	}
	ms, err := mi.New(mi.Config{BaseURL: info.Mi.URL, RootCAs: pool, MaxInFlightPerHost: ff.MiInFlight,
		Logger: log.With("component", "mi"), Metrics: pm}, map[string]mi.AppConfig{benchApp: info.Mi.App})
	if err != nil {
		return out, fmt.Errorf("mi sender: %w", err)
	}
	out[events.Mi] = builtSender{ms, ms.Close}

	if pool, err = certPool(info.HMS.CA); err != nil {
		return out, fmt.Errorf("hms fake CA: %w", err)
	}
	hs, err := hms.New(hms.Config{PushURL: info.HMS.URL, TokenURL: info.HMS.TokenURL, RootCAs: pool, MaxInFlight: ff.HMSInFlight,
		Logger: log.With("component", "hms"), Metrics: pm}, map[string]hms.AppConfig{benchApp: info.HMS.App})
	if err != nil {
		return out, fmt.Errorf("hms sender: %w", err)
	}
	out[events.HMS] = builtSender{hs, hs.Close}

	if pool, err = certPool(info.WebPush.CA); err != nil {
		return out, fmt.Errorf("webpush fake CA: %w", err)
	}
	ws, err := webpush.New(webpush.Config{RootCAs: pool, MaxInFlight: ff.WebPushInFlight,
		Logger: log.With("component", "webpush"), Metrics: pm}, map[string]webpush.AppConfig{benchApp: info.WebPush.App})
	if err != nil {
		return out, fmt.Errorf("webpush sender: %w", err)
	}
	out[events.WebPush] = builtSender{ws, ws.Close}
	return out, nil
}

// memPeaks tracks memory high-water marks.
type memPeaks struct {
	mu               sync.Mutex
	heap, stack, sys uint64
	goroutines       int
}

func startMemSampler(ctx context.Context) *memPeaks {
	p := &memPeaks{}
	go func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			g := runtime.NumGoroutine()
			p.mu.Lock()
			p.heap, p.stack, p.sys = max(p.heap, ms.HeapInuse), max(p.stack, ms.StackInuse), max(p.sys, ms.Sys)
			p.goroutines = max(p.goroutines, g)
			p.mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return p
}

func (p *memPeaks) fill(s *fleetStats) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s.PeakHeapInuse, s.PeakStackInuse, s.PeakSys, s.PeakGoroutines = p.heap, p.stack, p.sys, p.goroutines
}

func takeFleetStats(m *metrics.Fleet) fleetStats {
	cpu, maxRSS := selfRusage()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return fleetStats{
		CPUMicros: cpu.Microseconds(), MaxRSSKB: maxRSS, RSSKB: currentRSSKB(),
		HeapInuse: ms.HeapInuse, Goroutines: runtime.NumGoroutine(),
		Hist: gatherHist(m, "pushfleet_intent_to_provider_seconds"),
	}
}

// jsCeilingRes is raw JetStream: publish, then acked consume, of count
// messages of one size on the fleet's server, file storage.
type jsCeilingRes struct {
	Size            int     `json:"size"`
	Count           int     `json:"count"`
	PubPerSec       float64 `json:"publish_per_s"`
	ConsPerSec      float64 `json:"consume_per_s"`
	BothPerSec      float64 `json:"both_per_s"`
	CPUMicrosPerMsg float64 `json:"cpu_us_per_msg"`
}

const ceilingStream, ceilingSubject = "PUSHBENCH_CEILING", "pushbench.ceiling"

// runJSCeiling publishes count messages of size bytes asynchronously (at
// most 16384 unacknowledged, like the fleet), waits for every PubAck, then
// consumes them with a durable pull consumer, acking each, until the server
// has every ack. Each phase is bounded by maxDur. The stream is a file-backed
// work queue like PUSH_INTENTS, without dedup ids (raw).
func runJSCeiling(ctx context.Context, js jetstream.JetStream, size, count int, maxDur time.Duration, replicas int) (jsCeilingRes, error) {
	res := jsCeilingRes{Size: size}
	_ = js.DeleteStream(ctx, ceilingStream)
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: ceilingStream, Subjects: []string{ceilingSubject},
		Storage: jetstream.FileStorage, Retention: jetstream.WorkQueuePolicy, Replicas: max(replicas, 1)})
	if err != nil {
		return res, fmt.Errorf("ceiling stream: %w", err)
	}
	defer func() { _ = js.DeleteStream(context.WithoutCancel(ctx), ceilingStream) }()
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = 'a' + byte(i%26)
	}
	cpu0, _ := selfRusage()
	start := time.Now()
	deadline := start.Add(maxDur)
	n := 0
	for ; n < count && (n%1024 != 0 || time.Now().Before(deadline)); n++ {
		if _, err := js.PublishAsync(ceilingSubject, payload); err != nil {
			select { // stalled: let the acks catch up once, then fail
			case <-js.PublishAsyncComplete():
			case <-time.After(30 * time.Second):
			}
			if _, err := js.PublishAsync(ceilingSubject, payload); err != nil {
				return res, fmt.Errorf("ceiling publish: %w", err)
			}
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(60 * time.Second):
		return res, errors.New("ceiling publish: acks missing after 60s")
	}
	pubDur := time.Since(start)
	res.Count = n

	cons, err := st.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "ceiling", AckPolicy: jetstream.AckExplicitPolicy,
		MaxAckPending: 10000})
	if err != nil {
		return res, fmt.Errorf("ceiling consumer: %w", err)
	}
	start2 := time.Now()
	it, err := cons.Messages(jetstream.PullMaxMessages(500))
	if err != nil {
		return res, err
	}
	got := 0
	cdeadline := start2.Add(maxDur + 30*time.Second)
	for got < n && time.Now().Before(cdeadline) {
		msg, err := it.Next()
		if err != nil {
			it.Stop()
			return res, fmt.Errorf("ceiling consume: %w", err)
		}
		_ = msg.Ack()
		got++
	}
	it.Stop()
	// Done once the server has processed every ack.
	for time.Now().Before(cdeadline) {
		info, err := cons.Info(ctx)
		if err == nil && info.NumAckPending == 0 && info.NumPending == 0 {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	consDur := time.Since(start2)
	cpu1, _ := selfRusage()
	if got < n {
		return res, fmt.Errorf("ceiling consume: %d of %d", got, n)
	}
	res.PubPerSec = float64(n) / pubDur.Seconds()
	res.ConsPerSec = float64(n) / consDur.Seconds()
	res.BothPerSec = float64(n) / (pubDur + consDur).Seconds()
	res.CPUMicrosPerMsg = float64((cpu1 - cpu0).Microseconds()) / float64(n)
	return res, nil
}
