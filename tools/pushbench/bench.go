package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// result is one scenario's figures; its JSON is the machine-readable line.
type result struct {
	Scenario       string           `json:"scenario"`
	Shape          string           `json:"shape"`
	Mix            string           `json:"mix"`
	LatencyMS      float64          `json:"provider_latency_ms"`
	Pace           string           `json:"pace,omitempty"`
	TargetRate     float64          `json:"target_rate,omitempty"`
	Intents        int64            `json:"intents"`
	Published      int64            `json:"notifications_published"`
	Done           int64            `json:"notifications_done"`
	Complete       bool             `json:"complete"`
	Outcomes       map[string]int64 `json:"outcomes"`
	Retries        int64            `json:"retries"`
	ProviderRecv   int64            `json:"provider_deliveries"`
	PublishErrs    int64            `json:"publish_errors"`
	IntentBytes    int              `json:"intent_bytes"`
	WallS          float64          `json:"wall_s"`
	Sustained      float64          `json:"sustained_per_s"`
	Overall        float64          `json:"overall_per_s"`
	P50, P95       float64          `json:"-"`
	Lat            latencies        `json:"intent_to_provider_ms"`
	HistLat        latencies        `json:"histogram_ms"`
	FleetCPU       float64          `json:"fleet_cpu_us_per_notification"`
	FleetCPUSec    float64          `json:"fleet_cpu_s"`
	FakesInFleet   bool             `json:"fakes_in_fleet_process"`
	FakesCPU       float64          `json:"fakes_cpu_us_per_notification"`
	DriverCPU      float64          `json:"loadgen_cpu_us_per_notification"`
	PeakRSSMB      float64          `json:"fleet_peak_rss_mb"`
	PeakHeapMB     float64          `json:"fleet_peak_heap_inuse_mb"`
	PeakStackMB    float64          `json:"fleet_peak_stack_inuse_mb"`
	PeakGoSysMB    float64          `json:"fleet_peak_go_sys_mb"`
	PeakGoroutines int              `json:"fleet_peak_goroutines"`
	SettleS        float64          `json:"settle_s"`
	RegisterS      float64          `json:"register_s,omitempty"`
	Embedded       bool             `json:"embedded_jetstream"`
	Redelivered    map[string]int   `json:"redelivered,omitempty"`
	Stalls         int64            `json:"stalls"`
	StalledS       int64            `json:"stalled_s"`
	JS             *jsCeilingRes    `json:"jetstream_ceiling,omitempty"`
	APNs2          *apns2Res        `json:"apns2_ceiling,omitempty"`
	RatioJS        float64          `json:"ratio_jetstream"`
	RatioAPNs2     float64          `json:"ratio_apns2"`
	CPURatio       float64          `json:"cpu_ratio_apns2"`
	LoadStart      string           `json:"load_start"`
	LoadEnd        string           `json:"load_end"`
	Settings       string           `json:"settings"`
	Err            string           `json:"error,omitempty"`

	// Through the HTTP push gateway, or published to NATS.
	Via            string    `json:"via"`                     // nats or gateway
	Batch          int       `json:"batch,omitempty"`         // intents per gateway request
	Requests       int64     `json:"requests"`                // NATS publishes or gateway POSTs answered
	AnswerLat      latencies `json:"request_to_answer_ms"`    // publish→PubAck, or POST→HTTP response
	FleetCPUIntent float64   `json:"fleet_cpu_us_per_intent"` // FleetCPU × notifications per intent
	DriverCPUInt   float64   `json:"loadgen_cpu_us_per_intent"`
	// A gateway scenario's yardstick: the same scenario published straight
	// to NATS, run just before it in a fresh fleet process.
	Direct               string  `json:"direct,omitempty"`
	DirectFleetCPUIntent float64 `json:"direct_fleet_cpu_us_per_intent,omitempty"`
	DirectDriverCPUInt   float64 `json:"direct_loadgen_cpu_us_per_intent,omitempty"`
	DirectSustained      float64 `json:"direct_sustained_per_s,omitempty"`
	GatewayCPUIntent     float64 `json:"gateway_cpu_us_per_intent,omitempty"` // fleet CPU/intent minus the direct one's
	// The gateway's own share of the fleet process's CPU, from a CPU
	// profile: samples of goroutines labelled as the gateway's (HTTP
	// serving, decoding, checking, publishing), not the JetStream server's
	// work nor the NATS connection's read loop.
	GatewayShare        float64 `json:"gateway_cpu_share,omitempty"`
	GatewayOwnCPUIntent float64 `json:"gateway_own_cpu_us_per_intent,omitempty"`
}

type latencies struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max,omitempty"`
}

// bench is one pushbench run.
type bench struct {
	o       *options
	self    string
	dir     string
	fakes   *fakesHandle // nil with --fakes inproc
	stdout  io.Writer
	stderr  io.Writer
	peaks   map[string]float64
	apns2   map[time.Duration]*apns2Res
	results []*result
	// profileAll: some scenario goes through the gateway, so every one
	// profiles the fleet process (the same overhead on both sides of the
	// comparison).
	profileAll bool
}

func runBench(ctx context.Context, o *options, stdout, stderr io.Writer) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	dir := o.RunDir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "pushbench-"); err != nil {
			return err
		}
		if !o.KeepData {
			defer os.RemoveAll(dir)
		}
	} else if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	b := &bench{o: o, self: self, dir: dir, stdout: stdout, stderr: stderr,
		peaks: map[string]float64{}, apns2: map[time.Duration]*apns2Res{}}
	for _, sc := range o.Scenarios {
		b.profileAll = b.profileAll || sc.gateway()
	}
	server := "embedded JetStream (file storage under " + dir + ")"
	if o.NATSURL != "" {
		server = "external NATS " + o.NATSURL
	}
	fakesWhere := map[string]string{"process": "own process", "inproc": "inside the fleet process"}[o.Fakes]
	switch {
	case o.FakesFile != "":
		if b.fakes, err = loadFakesFile(o.FakesFile); err != nil {
			return err
		}
		fakesWhere = "external process (" + o.FakesFile + ")"
	case o.Fakes == "process":
		if b.fakes, err = spawnFakes(self); err != nil {
			return err
		}
		defer b.fakes.stop()
	}
	fmt.Fprintf(stdout, "pushbench %s\n  machine:   %s\n  load avg:  %s\n  server:    %s\n  fakes:     %s\n  fleet:     %s\n  scenarios: %d, at most %d notifications / %v each\n\n",
		time.Now().Format(time.RFC3339), machine(), loadAvg(), server, fakesWhere, o.fleetSettings(), len(o.Scenarios), o.Count, o.Duration)

	for _, sc := range o.Scenarios {
		if ctx.Err() != nil {
			break
		}
		b.runScenario(ctx, sc)
	}
	b.summary()
	for _, r := range b.results {
		if r.Err != "" {
			return errors.New("some scenarios failed")
		}
	}
	return ctx.Err()
}

// runScenario runs sc, after what it needs: the peak of its base for a
// "half" pace, and for a gateway scenario the same scenario published
// straight to NATS (at the same rate when paced), unless run already.
func (b *bench) runScenario(ctx context.Context, sc scenario) {
	if sc.Pace == "half" {
		if _, ok := b.peaks[sc.Base()]; !ok {
			base, _ := parseScenario(sc.Base())
			fmt.Fprintf(b.stderr, "[%s] measuring the peak of %s first\n", sc.Name, base.Name)
			b.runOne(ctx, base)
		}
		peak := b.peaks[sc.Base()]
		if peak <= 0 {
			b.fail(sc, errors.New("no peak measured for "+sc.Base()))
			return
		}
		sc.Rate = peak / 2
	}
	if sc.gateway() {
		d := sc.direct(sc.Rate)
		if b.result(d.Name) == nil && ctx.Err() == nil {
			fmt.Fprintf(b.stderr, "[%s] measuring %s first (published to NATS: the yardstick)\n", sc.Name, d.Name)
			b.runOne(ctx, d)
		}
	}
	if ctx.Err() == nil {
		b.runOne(ctx, sc)
	}
}

// result is the last result of the scenario named name, if any.
func (b *bench) result(name string) *result {
	for i := len(b.results) - 1; i >= 0; i-- {
		if b.results[i].Scenario == name {
			return b.results[i]
		}
	}
	return nil
}

func (b *bench) fail(sc scenario, err error) {
	r := &result{Scenario: sc.Name, Shape: sc.Shape, Mix: sc.Mix, Err: err.Error(), LoadEnd: loadAvg()}
	fmt.Fprintf(b.stdout, "== %s: FAILED: %v\n\n", sc.Name, err)
	b.emit(r)
}

func (b *bench) emit(r *result) {
	b.results = append(b.results, r)
	line, _ := json.Marshal(r)
	fmt.Fprintf(b.stdout, "PUSHBENCH %s\n\n", line)
	if b.o.JSONOut != "" {
		if f, err := os.OpenFile(b.o.JSONOut, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
			fmt.Fprintf(f, "%s\n", line)
			f.Close()
		}
	}
}

// runOne runs one scenario in a fresh fleet process.
func (b *bench) runOne(ctx context.Context, sc scenario) {
	r, err := b.scenario(ctx, sc)
	if err != nil {
		if r == nil {
			b.fail(sc, err)
			return
		}
		r.Err = err.Error()
	}
	if r.Complete && !sc.paced() && r.Err == "" {
		b.peaks[sc.Base()] = r.Sustained
	}
	if sc.gateway() {
		if d := b.result(sc.direct(sc.Rate).Name); d != nil && d.Err == "" && d.Done > 0 {
			r.Direct, r.DirectFleetCPUIntent, r.DirectDriverCPUInt = d.Scenario, d.FleetCPUIntent, d.DriverCPUInt
			r.DirectSustained = d.Sustained
			if r.FleetCPUIntent > 0 {
				r.GatewayCPUIntent = r.FleetCPUIntent - d.FleetCPUIntent
			}
		}
	}
	b.report(sc, r)
	b.emit(r)
}

func (b *bench) scenario(ctx context.Context, sc scenario) (*result, error) {
	o := b.o
	run := randomRun()
	dir := filepath.Join(b.dir, strings.NewReplacer(":", "-").Replace(sc.Name)+"-"+run)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	var fakesFile string
	if b.fakes != nil {
		fakesFile = filepath.Join(dir, "fakes.json")
		fb, _ := json.Marshal(b.fakes.info)
		if err := os.WriteFile(fakesFile, fb, 0o600); err != nil {
			return nil, err
		}
	}
	var gwKey string
	var extra []string
	if sc.gateway() {
		key, keysFile, err := writeGatewayKeys(dir)
		if err != nil {
			return nil, err
		}
		gwKey = key
		extra = []string{"--gateway-keys-file=" + keysFile, fmt.Sprintf("--gateway-max-batch=%d", sc.Batch)}
	}
	fp, err := startFleet(b.self, o, dir, fakesFile, extra...)
	if err != nil {
		return nil, err
	}
	defer fp.quit()
	var gw *gwClient
	if sc.gateway() {
		if fp.ready.Gateway == "" {
			return nil, errors.New("the fleet process runs no gateway" + fp.logTail())
		}
		if gw, err = newGWClient(fp.ready.Gateway, gwKey, o.Publishers); err != nil {
			return nil, err
		}
		defer gw.close()
	}
	info := fp.ready.Fakes
	if b.fakes != nil {
		info = &b.fakes.info
	}
	if err := fakesSetLatency(info, sc.Latency); err != nil {
		return nil, err
	}
	nc, err := nats.Connect(fp.ready.NATSURL, nats.Name("pushbench"))
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}

	per := sc.tokensPerIntent(o.TagDevices)
	intents := (o.Count + per - 1) / per
	planned := intents * per
	r := &result{Scenario: sc.Name, Shape: sc.Shape, Mix: sc.Mix, LatencyMS: float64(sc.Latency) / float64(time.Millisecond),
		Pace: sc.Pace, TargetRate: sc.Rate, Via: "nats", Batch: sc.Batch, Embedded: o.NATSURL == "", FakesInFleet: info.InProcess,
		Settings: o.fleetSettings(), LoadStart: loadAvg()}
	if gw != nil {
		r.Via = "gateway"
	}
	fmt.Fprintf(b.stderr, "[%s] fleet pid %d up (%s%s); %s\n", sc.Name, fp.ready.PID, fp.ready.NATSURL,
		map[bool]string{true: ", gateway " + fp.ready.Gateway}[gw != nil], sc.describe(o.TagDevices))

	if sc.Shape == "tag" {
		d, err := registerDevices(ctx, js, sc, o, info, b.stderr)
		r.RegisterS = d.Seconds()
		if err != nil {
			return r, err
		}
	}
	tr := newTracker(run, intents, planned)
	stopFollow, err := follow(ctx, js, tr)
	if err != nil {
		return r, err
	}
	defer stopFollow()
	apub, err := events.NewPublisher(js).Async(events.AsyncConfig{})
	if err != nil {
		return r, err
	}
	g := &loadGen{sc: sc, o: o, apub: apub, gw: gw, fakes: info, run: run, perIntent: per, intents: intents, tr: tr, rate: sc.Rate}
	r.IntentBytes = g.intentBytes()
	if err := g.warmUp(ctx); err != nil {
		return r, fmt.Errorf("%w%s", err, fp.logTail())
	}

	// The measured run.
	// With a gateway scenario in the run every scenario profiles the fleet
	// process: the samples labelled as the gateway's are its own share of
	// the fleet's CPU.
	var profPath string
	switch {
	case o.CPUProfile != "":
		profPath = fmt.Sprintf("%s-%s.pprof", o.CPUProfile, strings.NewReplacer(":", "-").Replace(sc.Name))
		if abs, err := filepath.Abs(profPath); err == nil {
			profPath = abs
		}
	case b.profileAll:
		profPath = filepath.Join(dir, "fleet-cpu.pprof")
	}
	if profPath != "" {
		if _, err := fp.call(childReq{Op: "profile_start", Path: profPath}, 30*time.Second); err != nil {
			return r, err
		}
		fmt.Fprintf(b.stderr, "[%s] CPU profile of the fleet process: %s\n", sc.Name, profPath)
	}
	fs0, err := fp.stats()
	if err != nil {
		return r, err
	}
	var fk0 fakesStats
	if b.fakes != nil || info.InProcess {
		fk0, _ = fakesGetStats(info)
	}
	drv0, _ := selfRusage()
	start := time.Now()
	stopProgress := make(chan struct{})
	stalls := 0
	onStall := func() string {
		stalls++
		path := filepath.Join(dir, fmt.Sprintf("goroutines-at-stall-%d.txt", stalls))
		if _, err := fp.call(childReq{Op: "goroutines", Path: path}, 30*time.Second); err != nil {
			return ""
		}
		return path
	}
	go progress(b.stderr, sc.Name, g, js, planned, start, stopProgress, onStall)
	if o.MemProfile != "" {
		go b.heapProfileAtHalf(fp, sc, tr, planned, stopProgress)
	}
	g.publish(ctx, start)
	published := g.published.Load()
	drainUntil := time.Now().Add(o.DrainWait)
	for tr.finals.Load() < published && time.Now().Before(drainUntil) && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	close(stopProgress)
	done := tr.finals.Load()
	sustained, last := tr.sustained(int(min(done, published)))
	if last.IsZero() {
		last = time.Now()
	}
	settle := b.settle(fp, o)
	fs1, err := fp.stats()
	if err != nil {
		return r, err
	}
	drv1, _ := selfRusage()
	var fk1 fakesStats
	if b.fakes != nil || info.InProcess {
		fk1, _ = fakesGetStats(info)
	}
	if profPath != "" {
		if _, err := fp.call(childReq{Op: "profile_stop"}, 30*time.Second); err != nil {
			return r, err
		}
	}
	if sc.gateway() && fs1.CPUMicros > fs0.CPUMicros {
		gw, all, err := labelShare(profPath, serviceLabel, "gateway")
		if err != nil {
			return r, err
		}
		if all > 0 {
			r.GatewayShare = float64(gw) / float64(all)
		}
	}

	r.Intents = published / int64(per)
	r.Requests = g.requests.Load()
	if al := g.answerLatencies(); len(al) > 0 {
		r.AnswerLat = latencies{P50: percentile(al, .50), P95: percentile(al, .95), P99: percentile(al, .99), Max: al[len(al)-1]}
	}
	r.Published, r.Done, r.Complete = published, done, done >= published && published > 0
	r.Outcomes, r.Retries = tr.outcomeCounts(), tr.retries.Load()
	r.PublishErrs = g.pubErrs.Load()
	r.Stalls, r.StalledS = g.stalls.Load(), g.stalledSec.Load()
	r.ProviderRecv = fk1.delivered() - fk0.delivered()
	wall := last.Sub(start)
	r.WallS = wall.Seconds()
	r.Sustained = sustained
	if wall > 0 {
		r.Overall = float64(min(done, published)) / wall.Seconds()
	}
	lats := tr.latencies()
	if len(lats) > 0 {
		r.Lat = latencies{P50: percentile(lats, .50), P95: percentile(lats, .95), P99: percentile(lats, .99), Max: lats[len(lats)-1]}
	}
	h := fs1.Hist.sub(fs0.Hist)
	r.HistLat = latencies{P50: h.quantile(.50) * 1000, P95: h.quantile(.95) * 1000, P99: h.quantile(.99) * 1000}
	if done > 0 {
		n := float64(done)
		r.FleetCPU = float64(fs1.CPUMicros-fs0.CPUMicros) / n
		r.FleetCPUSec = float64(fs1.CPUMicros-fs0.CPUMicros) / 1e6
		r.DriverCPU = float64((drv1 - drv0).Microseconds()) / n
		r.FleetCPUIntent, r.DriverCPUInt = r.FleetCPU*float64(per), r.DriverCPU*float64(per)
		r.GatewayOwnCPUIntent = r.GatewayShare * float64(fs1.CPUMicros-fs0.CPUMicros) / float64(max(r.Intents, 1))
		if b.fakes != nil {
			r.FakesCPU = float64(fk1.CPUMicros-fk0.CPUMicros) / n
		}
	}
	r.PeakRSSMB = float64(fs1.MaxRSSKB) / 1024
	r.PeakHeapMB, r.PeakStackMB = float64(fs1.PeakHeapInuse)/(1<<20), float64(fs1.PeakStackInuse)/(1<<20)
	r.PeakGoSysMB, r.PeakGoroutines = float64(fs1.PeakSys)/(1<<20), fs1.PeakGoroutines
	r.SettleS = settle.Seconds()
	r.LoadEnd = loadAvg()
	if pe := g.lastErr.Load(); pe != nil && g.pubErrs.Load() > 0 {
		fmt.Fprintf(b.stderr, "[%s] %d publish errors, last: %v\n", sc.Name, g.pubErrs.Load(), pe)
	}
	if !r.Complete {
		err = fmt.Errorf("%d of %d notifications done within --drain-wait %v%s", done, published, o.DrainWait, fp.logTail())
	}
	stopFollow()
	r.Redelivered = redeliveries(ctx, js)

	// The ceilings, on the same server and the same fake.
	if !o.NoCeilings {
		b.ceilings(ctx, fp, info, sc, r)
	}
	return r, err
}

// settle waits until the fleet has finished the work the scenario caused:
// at least one --success-flush interval (the sink's deferred last-success
// writes), then until the fleet process is idle (under 5% of a CPU over
// half a second), at most 60s. Its CPU meanwhile counts.
func (b *bench) settle(fp *fleetProc, o *options) time.Duration {
	start := time.Now()
	time.Sleep(o.Fleet.Sink.Sink.FlushInterval + 500*time.Millisecond)
	prev, err := fp.stats()
	for err == nil && time.Since(start) < 60*time.Second {
		time.Sleep(500 * time.Millisecond)
		cur, err2 := fp.stats()
		if err2 != nil {
			break
		}
		if cur.CPUMicros-prev.CPUMicros < 25000 {
			break
		}
		prev = cur
	}
	return time.Since(start)
}

// ceilings measures raw JetStream in the fleet process with the scenario's
// intent size, and the bare apns2 client at the scenario's latency (once
// per latency per run).
func (b *bench) ceilings(ctx context.Context, fp *fleetProc, info *fakesInfo, sc scenario, r *result) {
	o := b.o
	fmt.Fprintf(b.stderr, "[%s] ceiling: raw JetStream, %d-byte messages\n", sc.Name, r.IntentBytes)
	resp, err := fp.call(childReq{Op: "jsceiling", Size: r.IntentBytes, Count: o.CeilingCount, Duration: o.CeilingDuration},
		2*o.CeilingDuration+3*time.Minute)
	if err != nil {
		fmt.Fprintf(b.stderr, "[%s] JetStream ceiling: %v\n", sc.Name, err)
	} else {
		r.JS = resp.Ceiling
		if r.JS.BothPerSec > 0 {
			r.RatioJS = r.Sustained / r.JS.BothPerSec
		}
	}
	if sc.Mix == "hms" || sc.Mix == "webpush" {
		return // the bare apns2 ceiling is APNs's yardstick only
	}
	a := b.apns2[sc.Latency]
	if a == nil {
		fmt.Fprintf(b.stderr, "[%s] ceiling: bare apns2, %d goroutines, latency %v\n", sc.Name, o.APNs2Goroutines, sc.Latency)
		res, err := runAPNs2Ceiling(ctx, info, o.APNs2Goroutines, o.CeilingCount, o.CeilingDuration, o.TokenPool, sc.Latency)
		if err != nil {
			fmt.Fprintf(b.stderr, "[%s] apns2 ceiling: %v\n", sc.Name, err)
		} else {
			a = &res
			b.apns2[sc.Latency] = a
		}
	}
	if a != nil {
		r.APNs2 = a
		if a.PerSec > 0 {
			r.RatioAPNs2 = r.Sustained / a.PerSec
		}
		if a.CPUMicrosPer > 0 {
			r.CPURatio = r.FleetCPU / a.CPUMicrosPer
		}
	}
}

func randomRun() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "pb" + hex.EncodeToString(b[:])
}

// report prints the scenario's table.
func (b *bench) report(sc scenario, r *result) {
	w := b.stdout
	fmt.Fprintf(w, "== %s — %s\n", sc.Name, sc.describe(b.o.TagDevices))
	row := func(k, format string, args ...any) {
		fmt.Fprintf(w, "  %-18s "+format+"\n", append([]any{k}, args...)...)
	}
	var outs []string
	for _, oc := range events.Outcomes {
		if n := r.Outcomes[string(oc)]; n > 0 {
			outs = append(outs, fmt.Sprintf("%s %d", oc, n))
		}
	}
	row("notifications", "%d done of %d published (%d intents of %d B); %s; retries %d; provider deliveries %d",
		r.Done, r.Published, r.Intents, r.IntentBytes, strings.Join(outs, ", "), r.Retries, r.ProviderRecv)
	if r.RegisterS > 0 {
		row("registration", "%d devices with tag %q in %.1fs (before the clock)", b.o.TagDevices, benchTag, r.RegisterS)
	}
	paced := ""
	if r.TargetRate > 0 {
		paced = fmt.Sprintf("  (offered %.0f/s)", r.TargetRate)
	}
	row("throughput", "%s/s sustained (10–90%%), %s/s overall over %.2fs%s", thousands(r.Sustained), thousands(r.Overall), r.WallS, paced)
	row("intent→provider", "p50 %s  p95 %s  p99 %s  max %s   (timestamps; fleet histogram p50 %s p95 %s p99 %s)",
		ms(r.Lat.P50), ms(r.Lat.P95), ms(r.Lat.P99), ms(r.Lat.Max), ms(r.HistLat.P50), ms(r.HistLat.P95), ms(r.HistLat.P99))
	what := "fleet process incl. embedded JetStream"
	if !r.Embedded {
		what = "fleet process; the external NATS server's CPU is not included"
	}
	if r.FakesInFleet {
		what += ", fakes INCLUDED (--fakes inproc)"
	} else {
		what += fmt.Sprintf("; fakes %.1f µs/n apart", r.FakesCPU)
	}
	row("fleet CPU", "%.1f µs/notification (%.2f CPU-s; %s; load generator %.1f µs/n apart; settled %.1fs)",
		r.FleetCPU, r.FleetCPUSec, what, r.DriverCPU, r.SettleS)
	reqs := fmt.Sprintf("NATS publishes, asynchronous, at most %d unacknowledged (publish→PubAck)", events.DefaultAsyncMaxPending)
	if r.Via == "gateway" {
		reqs = fmt.Sprintf("HTTP POST /v1/intents of %d intent(s), keep-alive, at most %d at once (POST→response)", r.Batch, b.o.Publishers)
	}
	row("requests", "%d %s: p50 %s  p95 %s  p99 %s  max %s", r.Requests, reqs,
		ms(r.AnswerLat.P50), ms(r.AnswerLat.P95), ms(r.AnswerLat.P99), ms(r.AnswerLat.Max))
	if r.Via == "gateway" {
		if r.Direct == "" {
			row("gateway CPU", "fleet %.1f µs/intent (gateway included); no direct NATS run to compare with", r.FleetCPUIntent)
		} else {
			row("gateway CPU", "%+.1f µs/intent: fleet %.1f µs/intent through the gateway vs %.1f published to NATS (%s, %s/s); load generator %.1f (HTTP) vs %.1f (NATS) µs/intent",
				r.GatewayCPUIntent, r.FleetCPUIntent, r.DirectFleetCPUIntent, r.Direct, thousands(r.DirectSustained), r.DriverCPUInt, r.DirectDriverCPUInt)
		}
		row("gateway own CPU", "%.1f µs/intent: %.1f%% of the fleet process's CPU profile is the gateway's goroutines (HTTP, JSON, checks, publish calls; not JetStream's side)",
			r.GatewayOwnCPUIntent, 100*r.GatewayShare)
	}
	if r.Stalls > 0 {
		row("stalls", "%d, %ds in all: nothing done for 3s or more while notifications were outstanding (see the STALLED lines)", r.Stalls, r.StalledS)
	}
	if len(r.Redelivered) > 0 {
		var parts []string
		for _, sd := range fleetConsumers() {
			k := sd[1]
			if n := r.Redelivered[k]; n > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", k, n))
			}
		}
		row("redelivered", "%s (JetStream redeliveries: naks, retries or ack-wait expiries)", strings.Join(parts, ", "))
	}
	row("peak RSS", "%.1f MB (fleet process; peaks sampled every 100ms: Go heap in use %.1f MB, stacks %.1f MB, Go runtime from the OS %.1f MB, %d goroutines)",
		r.PeakRSSMB, r.PeakHeapMB, r.PeakStackMB, r.PeakGoSysMB, r.PeakGoroutines)
	if r.JS != nil {
		row("ceiling JetStream", "%d B msgs: publish %s/s, acked consume %s/s, both %s/s (%.1f µs CPU/msg)  → fleet/ceiling %.2f",
			r.JS.Size, thousands(r.JS.PubPerSec), thousands(r.JS.ConsPerSec), thousands(r.JS.BothPerSec), r.JS.CPUMicrosPerMsg, r.RatioJS)
	}
	if r.APNs2 != nil {
		row("ceiling apns2", "%d goroutines, one client: %s pushes/s, %.1f µs CPU/push  → fleet/ceiling %.2f, fleet CPU %.2f× apns2's",
			r.APNs2.Goroutines, thousands(r.APNs2.PerSec), r.APNs2.CPUMicrosPer, r.RatioAPNs2, r.CPURatio)
	}
	row("load average", "%s at start, %s at end (%s)", r.LoadStart, r.LoadEnd, "1/5/15 min")
	if r.Err != "" {
		row("ERROR", "%s", r.Err)
	}
}

func ms(v float64) string {
	switch {
	case math.IsNaN(v):
		return "n/a"
	case math.IsInf(v, 1):
		return ">60s"
	case v >= 100:
		return fmt.Sprintf("%.0fms", v)
	}
	return fmt.Sprintf("%.1fms", v)
}

func thousands(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// target is one goal of docs/BENCHMARKS.md.
type target struct {
	name  string
	check func(rs map[string]*result) (met bool, figure string, ok bool)
}

// ratioTarget: the scenario's sustained rate is at least min times the
// bare apns2 ceiling measured in the same run.
func ratioTarget(scn string, min float64) target {
	return target{fmt.Sprintf("%s throughput ≥ %.1f× the bare apns2 ceiling", scn, min), func(rs map[string]*result) (bool, string, bool) {
		r := rs[scn]
		if r == nil || r.Err != "" || r.APNs2 == nil {
			return false, "", false
		}
		return r.RatioAPNs2 >= min, fmt.Sprintf("%.2f× (%s/s)", r.RatioAPNs2, thousands(r.Sustained)), true
	}}
}

// cpuTarget: the fleet's CPU per notification is at most max times bare
// apns2's CPU per push, measured in the same run.
func cpuTarget(scn string, max float64) target {
	return target{fmt.Sprintf("%s fleet CPU per notification ≤ %.1f× bare apns2's per push", scn, max), func(rs map[string]*result) (bool, string, bool) {
		r := rs[scn]
		if r == nil || r.Err != "" || r.CPURatio == 0 {
			return false, "", false
		}
		fig := fmt.Sprintf("%.2f×", r.CPURatio)
		if r.FakesInFleet {
			fig += " (fakes included: --fakes inproc)"
		}
		return r.CPURatio <= max, fig, true
	}}
}

// latencyTarget: p99 intent→provider of a paced (:half) scenario.
func latencyTarget(scn string, maxMS float64) target {
	return target{fmt.Sprintf("p99 intent→provider ≤ %.0f ms at half the peak (%s)", maxMS, scn), func(rs map[string]*result) (bool, string, bool) {
		r := rs[scn]
		if r == nil || r.Err != "" {
			return false, "", false
		}
		return r.Lat.P99 <= maxMS, fmt.Sprintf("p99 %s at %s/s", ms(r.Lat.P99), thousands(r.Sustained)), true
	}}
}

// targets are issue 14's (docs/BENCHMARKS.md), as ratios to the ceilings
// measured in the same run, so that they hold on any machine.
var targets = []target{
	ratioTarget("s1:apns:0ms", 0.6),
	cpuTarget("s1:apns:0ms", 2.0),
	ratioTarget("s2:apns:0ms", 0.9),
	cpuTarget("s2:apns:0ms", 1.3),
	ratioTarget("s1:apns:20ms", 0.6),
	ratioTarget("s2:apns:20ms", 0.9),
	latencyTarget("s1:apns:20ms:half", 50),
	latencyTarget("s2:apns:20ms:half", 50),
	{"peak RSS of the all-in-one under S2 ≤ 150 MB (every embedded S2 scenario)", func(rs map[string]*result) (bool, string, bool) {
		met, any := true, false
		var figs []string
		for _, r := range sortedResults(rs) {
			if r.Shape != "s2" || !r.Embedded || r.Err != "" {
				continue
			}
			any = true
			figs = append(figs, fmt.Sprintf("%s %.0f MB", r.Scenario, r.PeakRSSMB))
			met = met && r.PeakRSSMB <= 150
		}
		return met, strings.Join(figs, ", "), any
	}},
}

func sortedResults(rs map[string]*result) []*result {
	var out []*result
	for _, r := range rs {
		out = append(out, r)
	}
	// Stable, readable order.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Scenario < out[j-1].Scenario; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// summary prints every scenario in one table, then the targets.
func (b *bench) summary() {
	w := b.stdout
	fmt.Fprintf(w, "== summary (load average now %s)\n", loadAvg())
	fmt.Fprintf(w, "  %-20s %9s %8s %8s %8s %9s %7s %9s %9s %7s\n", "scenario", "notif/s", "p50", "p95", "p99", "CPU µs/n", "RSS MB", "÷JetStr", "÷apns2", "CPU×a2")
	rs := map[string]*result{}
	for _, r := range b.results {
		rs[r.Scenario] = r
		if r.Err != "" && r.Done == 0 {
			fmt.Fprintf(w, "  %-20s FAILED: %s\n", r.Scenario, firstLine(r.Err))
			continue
		}
		mark := ""
		if !r.Complete {
			mark = " (incomplete)"
		}
		if r.Stalls > 0 {
			mark += fmt.Sprintf(" (%d stalls, %ds)", r.Stalls, r.StalledS)
		}
		fmt.Fprintf(w, "  %-20s %9s %8s %8s %8s %9.1f %7.0f %9.2f %9.2f %7.2f%s\n", r.Scenario, thousands(r.Sustained),
			ms(r.Lat.P50), ms(r.Lat.P95), ms(r.Lat.P99), r.FleetCPU, r.PeakRSSMB, r.RatioJS, r.RatioAPNs2, r.CPURatio, mark)
	}
	var gws []string
	for _, r := range b.results {
		if r.Via == "gateway" && r.Direct != "" && r.Err == "" {
			gws = append(gws, fmt.Sprintf("  %-22s %7.1f µs/intent vs %7.1f direct (%s): difference %+.1f µs/intent, gateway's own (profile) %.1f µs/intent; %s/s vs %s/s",
				r.Scenario, r.FleetCPUIntent, r.DirectFleetCPUIntent, r.Direct, r.GatewayCPUIntent, r.GatewayOwnCPUIntent, thousands(r.Sustained), thousands(r.DirectSustained)))
		}
	}
	if len(gws) > 0 {
		fmt.Fprintln(w, "gateway (fleet process CPU per intent, through the HTTP gateway vs published to NATS):")
		fmt.Fprintln(w, strings.Join(gws, "\n"))
	}
	fmt.Fprintln(w, "targets:")
	for _, t := range targets {
		met, fig, ok := t.check(rs)
		switch {
		case !ok:
			fmt.Fprintf(w, "  [ n/a  ] %s (not run)\n", t.name)
		case met:
			fmt.Fprintf(w, "  [ met  ] %s: %s\n", t.name, fig)
		default:
			fmt.Fprintf(w, "  [MISSED] %s: %s\n", t.name, fig)
		}
	}
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// redeliveries reads each fleet consumer's redelivery count.
func redeliveries(ctx context.Context, js jetstream.JetStream) map[string]int {
	out := map[string]int{}
	for _, sd := range fleetConsumers() {
		c, err := js.Consumer(ctx, sd[0], sd[1])
		if err != nil {
			continue
		}
		if info, err := c.Info(ctx); err == nil && info.NumRedelivered > 0 {
			out[sd[1]] = info.NumRedelivered
		}
	}
	return out
}

// heapProfileAtHalf writes the fleet's heap profile once half the planned
// notifications are done: under load, where the memory peak is.
func (b *bench) heapProfileAtHalf(fp *fleetProc, sc scenario, tr *tracker, planned int, stop <-chan struct{}) {
	for tr.finals.Load() < int64(planned/2) {
		select {
		case <-stop:
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
	path := fmt.Sprintf("%s-%s.heap.pprof", b.o.MemProfile, strings.NewReplacer(":", "-").Replace(sc.Name))
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	if _, err := fp.call(childReq{Op: "heap_profile", Path: path}, 60*time.Second); err != nil {
		fmt.Fprintf(b.stderr, "[%s] heap profile: %v\n", sc.Name, err)
		return
	}
	fmt.Fprintf(b.stderr, "[%s] heap profile of the fleet process at half load: %s\n", sc.Name, path)
}
