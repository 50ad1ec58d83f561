package faulttest

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/config"
	"github.com/pushfleet/pushfleet/internal/fleet"
	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/proctest"
	"github.com/pushfleet/pushfleet/internal/sandbox"
	"github.com/pushfleet/pushfleet/internal/sandbox/sandboxtest"
	"github.com/pushfleet/pushfleet/internal/sink"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/apns"
	"github.com/pushfleet/pushfleet/pkg/provider/apns/apnsfake"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm/fcmfake"
	"github.com/pushfleet/pushfleet/pkg/provider/mi/mifake"
)

// app is the one app every scenario pushes for; the fakes know it.
const app = sandbox.App

// settleTimeout bounds how long a scenario waits for the fleet to settle
// after its fault (a SIGKILLed process's messages alone take the AckWait).
const settleTimeout = 75 * time.Second

// ackWait is every service's --ack-wait: how long a killed process's
// messages wait before redelivery (the default 30s would only slow the
// scenarios down).
const ackWait = 10 * time.Second

// workStreams are the streams that are empty once the fleet has nothing
// left to do: intents, send_at schedules and the intents they release, jobs,
// and re-queued tokens waiting for their next try are all stored there until
// handled (a one-shot schedule is removed when it fires).
func workStreams() []string {
	out := []string{events.StreamIntents, events.StreamSchedules}
	for _, p := range events.Platforms {
		out = append(out, events.SendStream(p), events.RetryStream(p))
	}
	return out
}

// ---------------------------------------------------------------- binaries

// binaries are the binaries the scenarios run as processes: the services,
// and the all-in-one (pushfleet, with its embedded JetStream server) for
// restarts of the whole fleet. They are built once per test run (without
// -race: they stand for production processes).
var binaries = &proctest.Binaries{Packages: []string{
	"github.com/pushfleet/pushfleet/cmd/dispatcher",
	"github.com/pushfleet/pushfleet/cmd/apns-sender",
	"github.com/pushfleet/pushfleet/cmd/gcm-sender",
	"github.com/pushfleet/pushfleet/cmd/mi-sender",
	"github.com/pushfleet/pushfleet/cmd/hms-sender",
	"github.com/pushfleet/pushfleet/cmd/webpush-sender",
	"github.com/pushfleet/pushfleet/cmd/pushfleet",
}}

// binary returns the path of cmd/<name>, building every binary the
// package needs on the first call.
func binary(t *testing.T, name string) string {
	t.Helper()
	return binaries.Path(t, name)
}

// ---------------------------------------------------------------- tallies

var (
	talliesMu sync.Mutex
	tallies   []string
)

// scenarioParallelism is how many scenarios run at once unless -parallel
// says otherwise: all of them. They mostly wait (a SIGKILLed process's
// messages come back after the AckWait, notifications expire, retries back
// off), so they all run together even on two cores.
const scenarioParallelism = 16

func TestMain(m *testing.M) {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		_ = flag.Set("test.parallel", strconv.Itoa(max(runtime.GOMAXPROCS(0), scenarioParallelism)))
	}
	start := time.Now()
	code := m.Run()
	talliesMu.Lock()
	sort.Strings(tallies)
	if len(tallies) > 0 {
		fmt.Printf("faulttest summary (%.1fs):\n", time.Since(start).Seconds())
		for _, l := range tallies {
			fmt.Println("  " + l)
		}
	}
	talliesMu.Unlock()
	binaries.Remove()
	os.Exit(code)
}

// ---------------------------------------------------------------- JetStream

// The scenarios' server is a natstest.Server: it can be shut down and
// restarted in place (same port, same store).

// gate is a NATS dialer that can refuse connections, to hold in-process
// services off a restarted server until the test has looked at it.
type gate struct{ closed atomic.Bool }

func (g *gate) Dial(network, address string) (net.Conn, error) {
	if g.closed.Load() {
		return nil, errors.New("faulttest: gate closed")
	}
	return (&net.Dialer{Timeout: 2 * time.Second}).Dial(network, address)
}

// ---------------------------------------------------------------- harness

// harness is one scenario's world: a JetStream server, the three fake
// providers, the test's own connection, the services it starts, and the
// ledger of the intents it published (what the tally accounts for).
type harness struct {
	t     *testing.T
	name  string
	start time.Time
	js    *natstest.Server // nil when the fleet embeds its own server (the all-in-one)
	// natsURL is the server the test and the service processes connect to.
	natsURL string
	nc      *nats.Conn
	jsc     jetstream.JetStream

	sb   *sandbox.Providers
	apns *apnsfake.Server // the sandbox's fakes
	fcm  *fcmfake.Server
	mi   *mifake.Server

	ledger ledger

	// unsettled is set when settle gave up: the tally is then provisional.
	unsettled bool
	// asyncErrors counts the in-process services' asynchronous NATS errors
	// (slow consumers: messages the client dropped).
	asyncErrors atomic.Int64

	logDir string
	logSeq atomic.Int32
	logsMu sync.Mutex
	logs   []string
}

// newHarness starts a scenario on an in-process JetStream server of its
// own, with every stream provisioned.
func newHarness(t *testing.T, name string) *harness {
	t.Helper()
	h := newBareHarness(t, name)
	h.js = natstest.StartServer(t)
	h.natsURL = h.js.URL()
	h.nc, h.jsc = h.connect()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := streams.Provision(ctx, h.jsc, streams.Config{}); err != nil {
		t.Fatal(err)
	}
	return h
}

// newBareHarness is a scenario without a NATS server: the fakes, the logs
// and the ledger. The caller connects it (see useServer).
func newBareHarness(t *testing.T, name string) *harness {
	t.Helper()
	h := &harness{t: t, name: name, start: time.Now(), logDir: t.TempDir()}
	t.Cleanup(func() {
		if t.Failed() {
			h.dumpLogs()
		}
	})
	h.sb = sandboxtest.Start(t)
	h.apns, h.fcm, h.mi = h.sb.APNs, h.sb.FCM, h.sb.Mi
	return h
}

// useServer connects the test to a NATS server the fleet runs itself.
func (h *harness) useServer(url string) {
	h.t.Helper()
	h.natsURL = url
	h.nc, h.jsc = h.connect()
}

// connect opens a connection of the test's own (publishing, counting,
// inspecting), closed at the end of the test. It reconnects, forever, to a
// restarted server.
func (h *harness) connect() (*nats.Conn, jetstream.JetStream) {
	h.t.Helper()
	nc, err := nats.Connect(h.natsURL, nats.Name("faulttest"), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond),
		nats.RetryOnFailedConnect(true),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			h.t.Logf("test connection: %v on %q", err, subject)
		}))
	if err != nil {
		h.t.Fatalf("connect: %v", err)
	}
	h.t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		h.t.Fatal(err)
	}
	return nc, js
}

func (h *harness) newLog(name string) (*os.File, string) {
	h.t.Helper()
	path := filepath.Join(h.logDir, fmt.Sprintf("%02d-%s.log", h.logSeq.Add(1), name))
	f, err := os.Create(path)
	if err != nil {
		h.t.Fatal(err)
	}
	h.logsMu.Lock()
	h.logs = append(h.logs, path)
	h.logsMu.Unlock()
	return f, path
}

// dumpLogs prints the end of every service log of a failed scenario.
func (h *harness) dumpLogs() {
	h.logsMu.Lock()
	defer h.logsMu.Unlock()
	for _, path := range h.logs {
		h.t.Logf("---- last lines of %s\n%s", filepath.Base(path), proctest.Tail(path, 40))
	}
}

// delivered is how many times the fake provider accepted a notification for tg.
func (h *harness) delivered(tg events.Target) int { return h.sb.Delivered(tg) }

// totalDelivered is the deliveries of every fake.
func (h *harness) totalDelivered() int64 {
	return h.apns.TotalDelivered() + h.fcm.TotalDelivered() + h.mi.DeliveredTotal() +
		int64(h.sb.HMS.DeliveredTotal()) + h.sb.WebPush.DeliveredTotal()
}

// token is the i-th well-formed token of platform p (a subscription of
// this harness's fake for Web Push).
func (h *harness) token(p events.Platform, i int) string { return h.sb.Token(p, i, false) }

func intent(id string, targets []events.Target) *events.Intent {
	return &events.Intent{ID: id, App: app, Targets: events.Targets{Tokens: targets},
		Notification: events.Notification{Title: "faulttest", Body: "nothing lost", Data: map[string]any{"id": id}}}
}

// publish publishes intents with the Go publisher, records them in the
// ledger and returns every target they carry. A refused publish fails the
// test.
func (h *harness) publish(intents ...*events.Intent) []events.Target {
	h.t.Helper()
	var all []events.Target
	for _, in := range intents {
		if _, err := h.tryPublish(in); err != nil {
			h.t.Fatalf("publish %s: %v", in.ID, err)
		}
		all = append(all, in.Targets.Tokens...)
	}
	return all
}

// tryPublish publishes one intent with the Go publisher and records it in
// the ledger when the stream acknowledged it (a duplicate acknowledgement
// too: the producer was told it is stored).
func (h *harness) tryPublish(in *events.Intent) (*jetstream.PubAck, error) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ack, err := events.NewPublisher(h.jsc).Publish(ctx, in)
	if err == nil {
		h.ledger.add(in.App, in.ID, in.Targets.Tokens, ack)
	}
	return ack, err
}

// publishRaw publishes body on push.intents.<app> as a producer without the
// Go publisher would (an intent it would refuse, malformed bytes), with
// Nats-Msg-Id "<app>:<id>" and the intent id header when id is set. The
// ledger records it with targets (the tokens the producer meant, when the
// body cannot say) once the stream acknowledged it.
func (h *harness) publishRaw(appName, id string, body []byte, targets []events.Target) *jetstream.PubAck {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	msg := nats.NewMsg(events.IntentSubject(appName))
	msg.Data = body
	var opts []jetstream.PublishOpt
	if id != "" {
		msg.Header.Set(events.HeaderIntentID, id)
		opts = append(opts, jetstream.WithMsgID(appName+":"+id))
	}
	ack, err := h.jsc.PublishMsg(ctx, msg, opts...)
	if err != nil {
		h.t.Fatalf("publish raw intent %q (%d bytes): %v", id, len(body), err)
	}
	h.ledger.add(appName, id, targets, ack)
	return ack
}

// rawIntent encodes in as JSON, without the Go publisher's checks.
func rawIntent(t *testing.T, in *events.Intent) []byte {
	t.Helper()
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// ---------------------------------------------------------------- in-process services

// services selects what runInProcess starts.
type services struct {
	dispatcher bool
	sink       bool
	senders    []events.Platform
	// apnsConfig, when set, replaces the APNs sender's configuration
	// (e.g. to go through a fault proxy).
	apnsConfig *apns.Config
	// dialer, when set, dials NATS (see gate).
	dialer nats.CustomDialer
	// maxAttempts, when set, replaces every stage's retry budget (10).
	maxAttempts int
}

// running is a group of in-process services on their own connection.
type running struct {
	cancel  context.CancelFunc
	done    chan error
	nc      *nats.Conn
	closers []func() error
	once    sync.Once
	t       *testing.T
}

// runInProcess starts services in this process, as the all-in-one does,
// on a connection of their own that reconnects like the binaries' do.
func (h *harness) runInProcess(s services) *running {
	h.t.Helper()
	logf, _ := h.newLog("inprocess")
	log := slog.New(slog.NewJSONHandler(logf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	opts := []nats.Option{nats.Name("faulttest-fleet"), nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			log.Warn("nats async error", "subject", subject, "err", err)
			h.asyncErrors.Add(1)
		})}
	if s.dialer != nil {
		opts = append(opts, nats.SetCustomDialer(s.dialer))
	}
	nc, js, err := fleet.Connect(h.natsURL, opts...)
	if err != nil {
		h.t.Fatal(err)
	}
	m := metrics.New()
	env := &fleet.Env{NC: nc, JS: js, Metrics: m, Logger: log, DrainTimeout: 5 * time.Second, AckWait: ackWait,
		MaxAttempts: s.maxAttempts}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1), nc: nc, t: h.t}
	h.t.Cleanup(func() { r.stop(); logf.Close() })
	var g fleet.Group
	if s.dispatcher {
		d, err := env.Dispatcher(ctx, config.Dispatcher{})
		if err != nil {
			h.t.Fatal(err)
		}
		g = append(g, d)
	}
	for _, p := range s.senders {
		snd, closeFn := h.provider(p, m.Provider, log, s.apnsConfig)
		r.closers = append(r.closers, closeFn)
		svc, err := env.SenderService(p, snd, config.SenderOptions{})
		if err != nil {
			h.t.Fatal(err)
		}
		g = append(g, svc)
	}
	if s.sink {
		sk, err := env.FeedbackSink(ctx, config.Sink{Sink: sink.Config{FlushInterval: 500 * time.Millisecond}})
		if err != nil {
			h.t.Fatal(err)
		}
		g = append(g, sk)
	}
	go func() { r.done <- g.Run(ctx) }()
	return r
}

// stop stops the services (draining, bounded) and closes their providers.
func (r *running) stop() {
	r.once.Do(func() {
		r.cancel()
		select {
		case err := <-r.done:
			if err != nil {
				r.t.Errorf("in-process fleet: %v", err)
			}
		case <-time.After(30 * time.Second):
			r.t.Errorf("in-process fleet did not stop within 30s")
		}
		for _, c := range r.closers {
			_ = c()
		}
		r.nc.Close()
	})
}

// provider builds platform p's sender against its fake.
func (h *harness) provider(p events.Platform, m *provider.Metrics, log *slog.Logger, apnsCfg *apns.Config) (provider.Sender, func() error) {
	h.t.Helper()
	s, err := h.sb.NewSender(p, sandbox.SenderConfig{Metrics: m, Logger: log, APNs: apnsCfg})
	if err != nil {
		h.t.Fatal(err)
	}
	return s, s.Close
}

// ---------------------------------------------------------------- processes

// proc is a service binary run as a process of its own.
type proc struct {
	h    *harness
	name string
	args []string

	mu       sync.Mutex
	killed   atomic.Bool // a deliberate SIGKILL: not ready is no failure
	onStart  func()      // called once the process exists, before it is ready
	cmd      *exec.Cmd
	exited   chan struct{}
	httpAddr string
	logPath  string
}

// startProc runs binary name with args (plus --nats-url, --http-addr and
// --drain-timeout) and waits until it is ready. It is stopped at the end of
// the test.
func (h *harness) startProc(name string, args ...string) *proc {
	h.t.Helper()
	p := &proc{h: h, name: name, args: args}
	p.launch()
	h.t.Cleanup(p.stop)
	return p
}

func (p *proc) launch() {
	t := p.h.t
	t.Helper()
	p.killed.Store(false)
	bin := binary(t, p.name)
	addr := proctest.FreeAddr(t)
	logf, logPath := p.h.newLog(p.name)
	args := append([]string{"--nats-url", p.h.natsURL, "--http-addr", addr, "--drain-timeout", "5s",
		"--ack-wait", ackWait.String()}, p.args...)
	cmd := exec.Command(bin, args...)
	cmd.Env = proctest.Environ() // the flags alone configure it
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.name, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(exited) }()
	p.mu.Lock()
	p.cmd, p.exited, p.httpAddr, p.logPath = cmd, exited, addr, logPath
	onStart := p.onStart
	p.mu.Unlock()
	if onStart != nil {
		onStart()
	}

	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case <-exited:
			if p.killed.Load() {
				return // killed on purpose before it reported ready
			}
			b, _ := os.ReadFile(logPath)
			t.Fatalf("%s exited before ready:\n%s", p.name, b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready in 30s", p.name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill sends SIGKILL and waits for the process to be gone. Safe to call
// from any goroutine.
func (p *proc) kill() {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	p.killed.Store(true)
	_ = cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		p.h.t.Errorf("%s still running 10s after SIGKILL", p.name)
	}
}

// restart starts the process again with the same arguments.
func (p *proc) restart() { p.launch() }

// stop ends the process with SIGTERM (SIGKILL after 15s) if it still runs.
func (p *proc) stop() {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-exited:
		return
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(15 * time.Second):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// writeFile writes b to a file in the scenario's temporary directory.
func (h *harness) writeFile(name string, b []byte) string {
	h.t.Helper()
	path := filepath.Join(h.t.TempDir(), name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		h.t.Fatal(err)
	}
	return path
}

// appsFile writes the apps file the sender binaries read: app "demo" with
// the fakes' sandbox credentials.
func (h *harness) appsFile() string { return sandboxtest.AppsFile(h.t, h.sb, h.t.TempDir()) }

// senderArgs are the provider flags of platform p's sender binary,
// pointing it at its fake.
func (h *harness) senderArgs(p events.Platform, appsFile string) []string {
	h.t.Helper()
	args := sandboxtest.SenderArgs(h.t, h.sb, p, h.t.TempDir(), appsFile)
	return append(args, "--log-level", "info")
}

// senderBinary is platform p's sender command: its durable's name.
func senderBinary(p events.Platform) string { return events.SenderDurable(p) }

// ---------------------------------------------------------------- waiting and counting

// waitFor polls cond every 5ms until it holds, failing after timeout.
func (h *harness) waitFor(timeout time.Duration, what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// workLeft is the number of messages left on the work streams, read
// upstream first: a stage stores what it hands on before it acknowledges
// what it took, so a message moving on is always seen somewhere.
func (h *harness) workLeft(ctx context.Context) (uint64, string, error) {
	var total uint64
	var parts []string
	for _, name := range workStreams() {
		s, err := h.jsc.Stream(ctx, name)
		if err != nil {
			return 0, "", fmt.Errorf("%s: %w", name, err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			return 0, "", fmt.Errorf("%s: %w", name, err)
		}
		total += info.State.Msgs
		if info.State.Msgs > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", name, info.State.Msgs))
		}
	}
	return total, strings.Join(parts, " "), nil
}

// messages is the number of messages stream holds.
func (h *harness) messages(stream string) uint64 {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := h.jsc.Stream(ctx, stream)
	if err != nil {
		h.t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	return info.State.Msgs
}

// settle waits until every work stream is empty: every intent dispatched,
// scheduled intent released and dispatched, job answered for and re-queued
// token answered for. It reports false (and why) after settleTimeout.
func (h *harness) settle() bool {
	h.t.Helper()
	return h.settleWithin(settleTimeout)
}

// settleWithin is settle with its own bound.
func (h *harness) settleWithin(timeout time.Duration) bool {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		n, state, err := h.workLeft(ctx)
		cancel()
		if err == nil && n == 0 {
			return true
		}
		if err != nil {
			state = err.Error()
		}
		last = state
		if time.Now().After(deadline) {
			h.t.Errorf("fleet not settled in %v: %s", timeout, last)
			h.unsettled = true
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// readStream hands every message currently on stream to fn.
func (h *harness) readStream(stream string, fn func(jetstream.Msg)) {
	h.t.Helper()
	proctest.ReadStream(h.t, h.jsc, stream, 30*time.Second, fn)
}

// inFlight counts the messages of a durable consumer that JetStream has
// delivered and not seen acknowledged, and the notifications (tokens) they
// carry. Call it while nothing consumes from it (the consumer's process is
// dead, or cut off).
func (h *harness) inFlight(stream, durable string) (msgs, tokens int) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := h.jsc.Stream(ctx, stream)
	if err != nil {
		h.t.Fatal(err)
	}
	c, err := s.Consumer(ctx, durable)
	if err != nil {
		h.t.Fatal(err)
	}
	ci, err := c.Info(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	for seq := ci.AckFloor.Stream + 1; seq <= ci.Delivered.Stream; seq++ {
		raw, err := s.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue // acknowledged (work queue: removed)
		}
		if err != nil {
			h.t.Fatal(err)
		}
		n, ok := tokensIn(stream, raw.Subject, raw.Data)
		if !ok {
			continue // not for this consumer (a schedule)
		}
		msgs++
		tokens += n
	}
	return msgs, tokens
}

// ackWait is the AckWait of a durable consumer on the server.
func (h *harness) ackWait(stream, durable string) time.Duration {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := h.jsc.Consumer(ctx, stream, durable)
	if err != nil {
		h.t.Fatal(err)
	}
	return c.CachedInfo().Config.AckWait
}

// tokensIn is the number of tokens an intent or job carries; ok is false
// for messages the stage's consumer does not take (schedules).
func tokensIn(stream, subject string, data []byte) (int, bool) {
	if stream == events.StreamIntents {
		if !strings.HasPrefix(subject, events.IntentsRoot+".") {
			return 0, false
		}
		var in struct {
			Targets struct {
				Tokens []json.RawMessage `json:"tokens"`
			} `json:"targets"`
		}
		_ = json.Unmarshal(data, &in)
		return len(in.Targets.Tokens), true
	}
	if strings.Count(subject, ".") != 3 { // push.send.<platform>.<app>
		return 0, false
	}
	var job struct {
		Tokens []string `json:"tokens"`
	}
	_ = json.Unmarshal(data, &job)
	return len(job.Tokens), true
}

// pick returns a when not under the race detector, else b.
func pick(a, b int) int {
	if raceEnabled {
		return b
	}
	return a
}
