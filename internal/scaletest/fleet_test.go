package scaletest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/fleet"
	"github.com/pushfleet/pushfleet/internal/proctest"
	"github.com/pushfleet/pushfleet/internal/sandbox"
	"github.com/pushfleet/pushfleet/internal/sandbox/sandboxtest"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// ackWait is every service's --ack-wait: the production default (30s),
// since how long a message waits after a fault is part of what is
// measured; PUSHFLEET_SCALE_ACK_WAIT (a duration) sets another to compare.
var ackWait = func() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("PUSHFLEET_SCALE_ACK_WAIT")); err == nil && d > 0 {
		return d
	}
	return 30 * time.Second
}()

// harness is one scenario's world: the cluster, the APNs fake, the admin's
// and the producer's connections, the service processes, and the ledger of
// what the stream acknowledged.
type harness struct {
	t      *testing.T
	name   string
	start  time.Time
	logDir string
	c      *cluster
	sb     *sandbox.Providers
	apps   string

	// ackWait is the services' --ack-wait (the package's ackWait unless a
	// scenario sets another before starting them).
	ackWait time.Duration

	adminNC *nats.Conn
	admin   jetstream.JetStream
	prod    *events.Publisher

	mu       sync.Mutex
	services []*proctest.Proc           // every service process started
	ledger   map[string][]events.Target // intent id → its tokens
	storedAt map[string]time.Time       // intent id → when the stream acknowledged it
	sent     int
	nextTok  int
}

// newHarness starts the cluster and the fake, and provisions the streams at
// three replicas as the admin (pushctl provision), as an operator would for
// services run with --provision=false.
func newHarness(t *testing.T, name string) *harness {
	t.Helper()
	binaries.Path(t, "nats-server") // built first: the wall time is the scenario's
	h := &harness{t: t, name: name, start: time.Now(), logDir: logDir(t, name), ledger: map[string][]events.Target{}, storedAt: map[string]time.Time{}, ackWait: ackWait}
	t.Cleanup(func() {
		if t.Failed() {
			h.dumpLogs()
		}
	})
	h.c = startCluster(t, h.logDir)
	h.sb = sandboxtest.Start(t)
	h.apps = sandboxtest.AppsFile(t, h.sb, t.TempDir())
	h.adminNC, h.admin = h.connect("admin", 0)
	_, prodJS := h.connect("producer", 2)
	h.prod = events.NewPublisher(prodJS)
	h.provision()
	return h
}

// logDir is where the scenario's processes log: under t.TempDir(), or
// under $PUSHFLEET_SCALE_LOGS/<scenario> to keep them after the run.
func logDir(t *testing.T, name string) string {
	t.Helper()
	root := os.Getenv("PUSHFLEET_SCALE_LOGS")
	if root == "" {
		return proctest.LogDir(t)
	}
	dir := filepath.Join(root, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// connect opens a connection of the test as user, node first first, that
// fails over and reconnects forever; closed at the end of the test.
func (h *harness) connect(user string, first int) (*nats.Conn, jetstream.JetStream) {
	h.t.Helper()
	// Pings every second: a producer whose server is frozen (the partition
	// scenario) moves to another within seconds instead of after the
	// client's default two minutes, as producers should be configured.
	opts := []nats.Option{nats.Name("scaletest-" + user), nats.UserInfo(user, h.c.password(user)),
		nats.MaxReconnects(-1), nats.ReconnectWait(100 * time.Millisecond), nats.Timeout(2 * time.Second),
		nats.RetryOnFailedConnect(true), nats.PingInterval(time.Second), nats.MaxPingsOutstanding(3)}
	if user == "producer" {
		// The only replies a producer may read (authConf).
		opts = append(opts, nats.CustomInboxPrefix("_INBOX_pushctl"))
	}
	nc, err := nats.Connect(h.c.urls(first), opts...)
	if err != nil {
		h.t.Fatalf("connect as %s: %v", user, err)
	}
	h.t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		h.t.Fatal(err)
	}
	return nc, js
}

// provision creates the streams and buckets at three replicas as the
// admin (what pushctl provision --stream-replicas 3 does), retried while
// the new cluster elects its first leaders, as an operator would for
// services run with --provision=false.
func (h *harness) provision() {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := fleet.Provision(ctx, h.admin, streams.Config{Replicas: 3}, slog.New(slog.DiscardHandler)); err != nil {
		h.t.Fatalf("provision: %v", err)
	}
}

// ---------------------------------------------------------------- services

// service starts binary name as user (its own least-privilege user),
// connecting to urls (comma-separated), with --provision=false.
func (h *harness) service(label, bin, user, urls string, args ...string) *proctest.Proc {
	h.t.Helper()
	addr := proctest.FreeAddr(h.t)
	all := append([]string{"--nats-url", urls, "--http-addr", addr, "--provision=false",
		"--ack-wait", h.ackWait.String(), "--drain-timeout", "10s", "--log-level", "info"}, args...)
	p := proctest.Start(h.t, proctest.Spec{Name: label, Path: binaries.Path(h.t, bin), Args: all,
		Env:     proctest.Environ("PUSHFLEET_NATS_USER="+user, "PUSHFLEET_NATS_PASSWORD="+h.c.password(user)),
		LogPath: filepath.Join(h.logDir, label+".log"), Ready: proctest.HTTPReady(addr, "/readyz"),
		ReadyTimeout: 60 * time.Second, StopTimeout: 20 * time.Second})
	h.mu.Lock()
	h.services = append(h.services, p)
	h.mu.Unlock()
	return p
}

// procs are the service processes started so far.
func (h *harness) procs() []*proctest.Proc {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*proctest.Proc(nil), h.services...)
}

// dispatcher starts the dispatcher (label distinguishes a replacement's
// log), connecting to urls.
func (h *harness) dispatcher(label, urls string) *proctest.Proc {
	return h.service(label, "dispatcher", "dispatcher", urls)
}

// sink starts the feedback-sink, connecting to urls.
func (h *harness) sink(label, urls string) *proctest.Proc {
	return h.service(label, "feedback-sink", "feedback-sink", urls)
}

// sender starts replica i of the apns-sender; inFlight, when set, bounds
// its jobs at once (--sender-in-flight).
func (h *harness) sender(i, first, inFlight int) *proctest.Proc {
	args := sandboxtest.SenderArgs(h.t, h.sb, events.APNs, h.t.TempDir(), h.apps)
	if inFlight > 0 {
		args = append(args, "--sender-in-flight", fmt.Sprint(inFlight))
	}
	return h.service(fmt.Sprintf("apns-sender-%d", i), "apns-sender", "apns-sender", h.c.urls(first), args...)
}

// slowConsumerDrops counts the "slow consumer" errors the services logged:
// messages nats.go dropped after the server delivered them, which then wait
// a whole AckWait.
func (h *harness) slowConsumerDrops() int {
	n := 0
	paths, _ := filepath.Glob(filepath.Join(h.logDir, "*.log"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err == nil {
			n += strings.Count(string(b), "slow consumer")
		}
	}
	return n
}

// dumpLogs prints the end of every process log of a failed scenario.
func (h *harness) dumpLogs() {
	paths, _ := filepath.Glob(filepath.Join(h.logDir, "*.log"))
	for _, p := range paths {
		h.t.Logf("---- last lines of %s\n%s", filepath.Base(p), proctest.Tail(p, 30))
	}
}

// ---------------------------------------------------------------- load

// intent makes the next intent of k APNs tokens (each token used once in
// the scenario, so that the fake's count per token is the deliveries of one
// notification).
func (h *harness) intent(id string, k int) *events.Intent {
	h.mu.Lock()
	base := h.nextTok
	h.nextTok += k
	h.mu.Unlock()
	tgs := make([]events.Target, k)
	for j := range tgs {
		tgs[j] = events.Target{Platform: events.APNs, Token: h.sb.Token(events.APNs, base+j, false)}
	}
	return &events.Intent{ID: id, App: sandbox.App, Targets: events.Targets{Tokens: tgs},
		Notification: events.Notification{Title: "scaletest", Body: id}}
}

// publish publishes in until the stream stores it, retrying with the same
// intent (the same Nats-Msg-Id) while the cluster elects leaders, and
// records it in the ledger.
func (h *harness) publish(ctx context.Context, in *events.Intent) (retries int, err error) {
	for attempt := 0; attempt < 100; attempt++ {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err = h.prod.Publish(actx, in)
		cancel()
		var verr *events.ValidationError
		if errors.As(err, &verr) || ctx.Err() != nil {
			return attempt, err
		}
		if err == nil {
			h.mu.Lock()
			h.ledger[in.ID] = in.Targets.Tokens
			if _, ok := h.storedAt[in.ID]; !ok {
				h.storedAt[in.ID] = time.Now()
			}
			h.sent += len(in.Targets.Tokens)
			h.mu.Unlock()
			return attempt, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return 100, fmt.Errorf("intent %s: %w", in.ID, err)
}

// sentCount is the notifications the stream acknowledged so far.
func (h *harness) sentCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sent
}

// load publishes intents of k tokens at a pace (rate intents a second,
// four publishers) until n were stored or ctx ends.
type load struct {
	published, retries atomic.Int64
	done               chan struct{}
	errs               chan error
	endedAt            time.Time // set before done is closed
}

func (h *harness) runLoad(ctx context.Context, prefix string, n, k int, rate float64) *load {
	l := &load{done: make(chan struct{}), errs: make(chan error, n)}
	ids := make(chan int)
	go func() {
		defer close(ids)
		tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
		defer tick.Stop()
		for i := range n {
			select {
			case ids <- i:
			case <-ctx.Done():
				return
			}
			select {
			case <-tick.C:
			case <-ctx.Done():
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range ids {
				r, err := h.publish(ctx, h.intent(fmt.Sprintf("%s-%d", prefix, i), k))
				l.retries.Add(int64(r))
				if err != nil {
					l.errs <- err
					continue
				}
				l.published.Add(1)
			}
		})
	}
	go func() { wg.Wait(); l.endedAt = time.Now(); close(l.errs); close(l.done) }()
	return l
}

// wait waits for the load to end (bounded) and fails the test for any
// intent that could not be published.
func (l *load) wait(t *testing.T, timeout time.Duration) {
	t.Helper()
	select {
	case <-l.done:
	case <-time.After(timeout):
		t.Fatalf("load not published in %v", timeout)
	}
	for err := range l.errs {
		t.Errorf("publish gave up: %v", err)
	}
}

// ---------------------------------------------------------------- progress

// progress samples the fake's deliveries every 50ms and records the
// pauses between them.
type progress struct {
	mu     sync.Mutex
	gaps   []gap
	lastAt time.Time // the last delivery seen
	quit   chan struct{}
	done   chan struct{}
	once   sync.Once
}

// gap is a time without any delivery.
type gap struct{ from, to time.Time }

func (h *harness) watchProgress() *progress {
	p := &progress{quit: make(chan struct{}), done: make(chan struct{}), lastAt: time.Now()}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		last := h.sb.APNs.TotalDelivered()
		for {
			select {
			case <-p.quit:
				return
			case now := <-tick.C:
				n := h.sb.APNs.TotalDelivered()
				if n == last {
					continue
				}
				p.mu.Lock()
				if now.Sub(p.lastAt) > 200*time.Millisecond {
					p.gaps = append(p.gaps, gap{p.lastAt, now})
				}
				p.lastAt = now
				p.mu.Unlock()
				last = n
			}
		}
	}()
	return p
}

func (p *progress) stop() {
	p.once.Do(func() { close(p.quit) })
	<-p.done
}

// stall is the longest pause that began while the load was still being
// published (before loadEnd), and when it ended; tail is how long after
// loadEnd the last delivery came (a message waiting for its AckWait shows
// there).
func (p *progress) stall(loadEnd time.Time) (longest time.Duration, endedAt time.Time, tail time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, g := range p.gaps {
		if g.from.Before(loadEnd) && g.to.Sub(g.from) > longest {
			longest, endedAt = g.to.Sub(g.from), g.to
		}
	}
	return longest, endedAt, max(0, p.lastAt.Sub(loadEnd))
}

// ---------------------------------------------------------------- waiting

// allDelivered reports whether every token of the ledger reached the fake.
func (h *harness) allDelivered() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sb.APNs.TotalDelivered() < int64(h.sent) {
		return false
	}
	for _, tgs := range h.ledger {
		for _, tg := range tgs {
			if h.sb.Delivered(tg) == 0 {
				return false
			}
		}
	}
	return true
}

// workStreams are empty once the fleet has nothing left to do.
var workStreams = []string{events.StreamIntents, events.StreamSchedules, events.SendStream(events.APNs), events.RetryStream(events.APNs)}

// settle waits until every token was delivered and every work stream is
// empty (a job is acknowledged after its feedback is stored: then every
// outcome is on PUSH_FEEDBACK). It fails the test after timeout.
func (h *harness) settle(timeout time.Duration) {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	var state string
	for {
		if h.allDelivered() {
			left, s := h.workLeft()
			if left == 0 {
				return
			}
			state = s
		} else {
			state = fmt.Sprintf("delivered %d of %d", h.sb.APNs.TotalDelivered(), h.sentCount())
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("fleet not settled in %v: %s", timeout, state)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (h *harness) workLeft() (uint64, string) {
	var total uint64
	var parts []string
	for _, name := range workStreams {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		s, err := h.admin.Stream(ctx, name)
		var info *jetstream.StreamInfo
		if err == nil {
			info, err = s.Info(ctx)
		}
		cancel()
		if err != nil {
			return 1, name + ": " + err.Error()
		}
		total += info.State.Msgs
		if info.State.Msgs > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", name, info.State.Msgs))
		}
	}
	return total, strings.Join(parts, " ")
}

// ackPending is the messages a durable consumer delivered and has not seen
// acknowledged, or -1 when no leader answers in time.
func (h *harness) ackPending(stream, durable string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c, err := h.admin.Consumer(ctx, stream, durable)
	if err != nil {
		return -1
	}
	return c.CachedInfo().NumAckPending
}

// inFlight is the notifications in messages the dispatcher and the
// apns-senders hold unacknowledged (k tokens per intent and per job): the
// ones a fault may make the fleet handle twice.
func (h *harness) inFlight(k int) int {
	n := 0
	for _, c := range [][2]string{{events.StreamIntents, events.DurableDispatcher},
		{events.SendStream(events.APNs), events.SenderDurable(events.APNs)}} {
		if p := h.ackPending(c[0], c[1]); p > 0 {
			n += p * k
		}
	}
	return n
}

// waitFor polls cond every 20ms, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ---------------------------------------------------------------- leaders

// moveLeaders asks the leaders of the given streams and consumers
// ("STREAM" or "STREAM/durable") to step down in favour of n, as the admin.
// Best effort: each is tried a few times; what n leads in the end is
// returned.
func (h *harness) moveLeaders(n *node, assets ...string) []string {
	h.t.Helper()
	for _, a := range assets {
		stream, durable, isConsumer := strings.Cut(a, "/")
		subj := "$JS.API.STREAM.LEADER.STEPDOWN." + stream
		if isConsumer {
			subj = "$JS.API.CONSUMER.LEADER.STEPDOWN." + stream + "." + durable
		}
		body := fmt.Sprintf(`{"placement":{"preferred":%q}}`, n.name)
		for try := 0; try < 5 && h.c.leaders()[a] != n.name; try++ {
			if _, err := h.adminNC.Request(subj, []byte(body), 5*time.Second); err != nil {
				h.t.Logf("step down %s: %v", a, err)
			}
			deadline := time.Now().Add(5 * time.Second)
			for h.c.leaders()[a] != n.name && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
		}
	}
	return h.led(n)
}

// led lists what n leads among the meta group and the assets in use.
func (h *harness) led(n *node) []string {
	var out []string
	for a, leader := range h.c.leaders() {
		if leader == n.name && (a == "meta" || inUse[a]) {
			out = append(out, a)
		}
	}
	sortStrings(out)
	return out
}

// inUse are the streams and consumers of the scenarios' fleet.
var inUse = map[string]bool{
	events.StreamIntents: true, events.StreamIntents + "/" + events.DurableDispatcher: true,
	events.SendStream(events.APNs): true, events.SendStream(events.APNs) + "/" + events.SenderDurable(events.APNs): true,
	events.StreamFeedback: true, events.StreamFeedback + "/" + events.DurableFeedbackSink: true,
	"KV_" + events.TokensBucket: true, "KV_" + events.IntentIDsBucket: true,
}

// allInUse are the assets to put on one victim node.
func allInUse() []string {
	var out []string
	for a := range inUse {
		out = append(out, a)
	}
	sortStrings(out)
	return out
}
