package clustertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/config"
	"github.com/pushfleet/pushfleet/internal/fleet"
	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/sandbox"
	"github.com/pushfleet/pushfleet/internal/sandbox/sandboxtest"
	"github.com/pushfleet/pushfleet/internal/sink"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/internal/tokens"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// The fleet on a three-node cluster with R3 streams: the dispatcher, two
// replicas of each sender on different nodes and the feedback-sink, each
// process with its own connection. While thousands of notifications flow,
// the node leading the JetStream meta group and PUSH_INTENTS goes down (no
// lame-duck hand-over, as in a crash), producers keep publishing (retrying
// with the same intent id), and the node later comes back from its store.
// Every token must reach its provider at least once, or be recorded invalid,
// or be dead-lettered: nothing is lost.
func TestFleetSurvivesNodeLoss(t *testing.T) {
	t.Parallel()
	const (
		intents   = 1000 // one token per platform each: 3,000 notifications
		deadEvery = 20   // every 20th intent's tokens are unregistered
		pace      = 8 * time.Millisecond
	)
	start := time.Now()
	c := natstest.StartCluster(t, 3)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	adminNC, adminJS := connect(t, c, 0, "admin")
	pctx, pcancel := context.WithTimeout(ctx, 60*time.Second)
	provision(pctx, t, adminJS, streams.Config{Replicas: 3})
	pcancel()

	// The victim leads the meta group; make it lead the intents stream too,
	// so that its loss also interrupts producers.
	victim := c.MetaLeader()
	preferLeader(t, adminNC, c, victim, events.StreamIntents, "")

	fakes := sandboxtest.Start(t)
	_, logger := newLogs(t)
	var procs []*process
	run := func(first int, name string, build func(env *fleet.Env) (fleet.Service, error)) {
		procs = append(procs, startProcess(ctx, t, c, first, name, logger, build))
	}
	run(0, "dispatcher", func(env *fleet.Env) (fleet.Service, error) { return env.Dispatcher(ctx, config.Dispatcher{}) })
	for i, p := range events.Platforms {
		for r := range 2 {
			run((i+r)%3, fmt.Sprintf("%s-%d", events.SenderDurable(p), r), func(env *fleet.Env) (fleet.Service, error) {
				return env.SenderService(p, sandboxtest.NewSender(t, fakes, p, sandbox.SenderConfig{Metrics: env.Metrics.Provider}), config.SenderOptions{})
			})
		}
	}
	run(1, "feedback-sink", func(env *fleet.Env) (fleet.Service, error) {
		return env.FeedbackSink(ctx, config.Sink{Sink: sink.Config{FlushInterval: time.Second}})
	})
	t.Cleanup(func() { stopAll(t, cancel, procs) })
	waitConsumers(t, adminJS)
	// And the dispatcher's and the APNs sender's consumers: their new
	// leaders must be found by replicas that never lost their connection.
	preferLeader(t, adminNC, c, victim, events.StreamIntents, events.DurableDispatcher)
	preferLeader(t, adminNC, c, victim, events.SendStream(events.APNs), events.SenderDurable(events.APNs))

	// Producer: paced, four publishers, each publish retried with the same
	// intent id until stored (dedup keeps a retried one once).
	_, prodJS := connect(t, c, 2, "producer")
	pub := events.NewPublisher(prodJS)
	var published, retries atomic.Int64
	ids := make(chan int)
	pubDone := make(chan struct{})
	pubErrs := make(chan error, intents)
	go func() {
		defer close(ids)
		tick := time.NewTicker(pace)
		defer tick.Stop()
		for i := range intents {
			select {
			case ids <- i:
			case <-ctx.Done():
				return
			}
			<-tick.C
		}
	}()
	var pubWG sync.WaitGroup
	for range 4 {
		pubWG.Go(func() {
			for i := range ids {
				n, err := publishWithRetry(ctx, pub, intentFor(fakes, i, i%deadEvery == deadEvery-1))
				retries.Add(int64(n - 1))
				if err != nil {
					pubErrs <- err
					continue
				}
				published.Add(1)
			}
		})
	}
	go func() { pubWG.Wait(); close(pubDone) }()
	progress := watchProgress(fakes)
	defer progress.stop()

	// Take the victim down a third of the way in; keep it down at least 5s
	// and until a tenth of the intents were published without it.
	waitFor(t, 60*time.Second, func() bool { return published.Load() >= intents/3 }, "a third of the intents published")
	led := leaderships(c, victim)
	downAt, atDown := time.Now(), published.Load()
	victim.Shutdown()
	t.Logf("%s down at %d/%d intents; it led %s", victim.Name, atDown, intents, strings.Join(led, ","))
	waitFor(t, 60*time.Second, func() bool {
		return time.Since(downAt) >= 5*time.Second && published.Load()-atDown >= intents/10
	}, "intents published while %s is down", victim.Name)
	victim.Restart(t)
	nodeDown := time.Since(downAt)
	t.Logf("%s back after %v; %d intents published meanwhile", victim.Name, nodeDown.Round(100*time.Millisecond), published.Load()-atDown)

	select {
	case <-pubDone:
	case <-time.After(90 * time.Second):
		t.Fatal("publishers did not finish in 90s")
	}
	lastPublish := time.Now()
	close(pubErrs)
	for err := range pubErrs {
		t.Errorf("publish gave up: %v", err)
	}

	// Wait until every token is accounted for.
	var live, dead []events.Target
	for i := range intents {
		for _, tg := range intentFor(fakes, i, i%deadEvery == deadEvery-1).Targets.Tokens {
			if i%deadEvery == deadEvery-1 {
				dead = append(dead, tg)
			} else {
				live = append(live, tg)
			}
		}
	}
	kv, err := adminJS.KeyValue(ctx, events.TokensBucket)
	if err != nil {
		t.Fatal(err)
	}
	store := tokens.NewStore(kv)
	invalid := func(tg events.Target) bool {
		r, _, err := store.Get(ctx, sandbox.App, tg.Platform, tg.Token)
		return err == nil && r.State == tokens.Invalid
	}
	var dls map[events.Target]bool
	var sentAll, recordedAll time.Time // when every live token was delivered, every dead one recorded
	accounted := func() bool {
		dls = deadLettered(ctx, t, adminJS)
		if sentAll.IsZero() {
			for _, tg := range live {
				if fakes.Delivered(tg) == 0 && !dls[tg] {
					return false
				}
			}
			sentAll = time.Now()
			progress.stop()
		}
		for _, tg := range dead {
			if !dls[tg] && !invalid(tg) {
				return false
			}
		}
		recordedAll = time.Now()
		return true
	}
	deadline := time.Now().Add(75 * time.Second)
	for !accounted() && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	progress.stop()
	if !sentAll.IsZero() {
		t.Logf("every live token delivered %.1fs after the last publish; every dead token recorded %.1fs after that",
			sentAll.Sub(lastPublish).Seconds(), recordedAll.Sub(sentAll).Seconds())
	}
	for _, p := range procs {
		select {
		case err := <-p.done:
			t.Errorf("%s stopped during the run: %v", p.name, err)
		default:
		}
	}

	// The restarted node caught up from its store and the others.
	waitFor(t, 30*time.Second, func() bool { return allReplicasCurrent(ctx, adminJS) }, "every stream replica current after the restart")

	var delivered, duplicates, lost, invalids, deadLetters int
	for _, tg := range live {
		switch n := fakes.Delivered(tg); {
		case n > 0:
			delivered++
			duplicates += n - 1
		case dls[tg]:
			deadLetters++
		default:
			lost++
			if lost <= 5 {
				t.Errorf("lost: %s token %s never delivered nor dead-lettered", tg.Platform, tokens.Short(tg.Token))
				trail(ctx, t, adminJS, store, tg)
			}
		}
	}
	for _, tg := range dead {
		switch {
		case invalid(tg):
			invalids++
		case dls[tg]:
			deadLetters++
		default:
			lost++
			if lost <= 5 {
				t.Errorf("lost: unregistered %s token %s neither recorded invalid nor dead-lettered", tg.Platform, tokens.Short(tg.Token))
				trail(ctx, t, adminJS, store, tg)
			}
		}
	}
	line := fmt.Sprintf("cluster tally: sent=%d delivered=%d invalid=%d duplicates=%d lost=%d dead=%d node_down=%.1fs "+
		"victim=%s(%s) publish_retries=%d longest_stall=%.1fs wall=%.1fs",
		len(live)+len(dead), delivered, invalids, duplicates, lost, deadLetters, nodeDown.Seconds(),
		victim.Name, strings.Join(led, "+"), retries.Load(), progress.longestStall().Seconds(), time.Since(start).Seconds())
	t.Log(line)
	fmt.Println(line)
	if lost > 0 {
		t.Fatalf("%d notifications lost", lost)
	}
}

// intentFor is the i-th intent: one token on each platform (of fakes).
func intentFor(fakes *sandbox.Providers, i int, dead bool) *events.Intent {
	var tgs []events.Target
	for _, p := range events.Platforms {
		tgs = append(tgs, events.Target{Platform: p, Token: fakes.Token(p, i, dead)})
	}
	return &events.Intent{ID: fmt.Sprintf("cluster-%d", i), App: sandbox.App, Targets: events.Targets{Tokens: tgs},
		Notification: events.Notification{Title: "cluster", Body: fmt.Sprint(i)}}
}

// publishWithRetry publishes in until JetStream stores it, retrying with the
// same intent (so the same Nats-Msg-Id) while the cluster elects leaders. It
// returns the attempts made.
func publishWithRetry(ctx context.Context, pub *events.Publisher, in *events.Intent) (int, error) {
	var err error
	for attempt := 1; attempt <= 100; attempt++ {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err = pub.Publish(actx, in)
		cancel()
		var verr *events.ValidationError
		if err == nil || errors.As(err, &verr) || ctx.Err() != nil {
			return attempt, err
		}
		time.Sleep(100 * time.Millisecond)
	}
	return 100, fmt.Errorf("intent %s: %w", in.ID, err)
}

// process is one service process: its own connection (to a given node
// first), metrics and services.
type process struct {
	name string
	done chan error
}

func startProcess(ctx context.Context, t *testing.T, c *natstest.Cluster, first int, name string, log *slog.Logger,
	build func(env *fleet.Env) (fleet.Service, error)) *process {
	t.Helper()
	nc, js := connect(t, c, first, name)
	env := &fleet.Env{NC: nc, JS: js, Metrics: metrics.New(), Logger: log.With("process", name), DrainTimeout: 5 * time.Second}
	svc, err := build(env)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	p := &process{name: name, done: make(chan error, 1)}
	go func() { p.done <- svc.Run(ctx) }()
	return p
}

func stopAll(t *testing.T, cancel context.CancelFunc, procs []*process) {
	cancel()
	for _, p := range procs {
		select {
		case err := <-p.done:
			if err != nil {
				t.Errorf("%s: %v", p.name, err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("%s did not stop within 20s", p.name)
		}
	}
}

// waitConsumers waits until every service has bound its durable consumer.
func waitConsumers(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	want := map[string]string{events.DurableDispatcher: events.StreamIntents, events.DurableFeedbackSink: events.StreamFeedback}
	for _, p := range events.Platforms {
		want[events.SenderDurable(p)] = events.SendStream(p)
	}
	waitFor(t, 30*time.Second, func() bool {
		for durable, stream := range want {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, err := js.Consumer(ctx, stream, durable)
			cancel()
			if err != nil {
				return false
			}
		}
		return true
	}, "every durable consumer bound")
}

// preferLeader asks the leader of stream (or of its consumer durable, if
// not empty) to step down in favour of node. Best effort: the test goes on
// with whatever leader there is.
func preferLeader(t *testing.T, nc *nats.Conn, c *natstest.Cluster, node *natstest.Server, stream, durable string) {
	t.Helper()
	subj, what := "$JS.API.STREAM.LEADER.STEPDOWN."+stream, stream
	leads := func() bool { return c.StreamLeader("$G", stream) == node }
	if durable != "" {
		subj, what = "$JS.API.CONSUMER.LEADER.STEPDOWN."+stream+"."+durable, "consumer "+durable
		leads = func() bool { return c.ConsumerLeader("$G", stream, durable) == node }
	}
	req := fmt.Sprintf(`{"placement":{"preferred":%q}}`, node.Name)
	for range 5 {
		if leads() {
			return
		}
		if _, err := nc.Request(subj, []byte(req), 5*time.Second); err != nil {
			t.Logf("stepdown of %s: %v", what, err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for !leads() && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if !leads() {
		t.Logf("could not move the leader of %s to %s", what, node.Name)
	}
}

// leaderships lists what node leads: the meta group, streams, consumers.
func leaderships(c *natstest.Cluster, node *natstest.Server) []string {
	var led []string
	if c.MetaLeader() == node {
		led = append(led, "meta")
	}
	kvStream := "KV_" + events.TokensBucket
	for _, s := range []string{events.StreamIntents, events.SendStream(events.APNs), events.SendStream(events.FCM),
		events.SendStream(events.Mi), events.StreamFeedback, events.StreamDead, kvStream} {
		if c.StreamLeader("$G", s) == node {
			led = append(led, s)
		}
	}
	consumers := map[string]string{events.DurableDispatcher: events.StreamIntents, events.DurableFeedbackSink: events.StreamFeedback}
	for _, p := range events.Platforms {
		consumers[events.SenderDurable(p)] = events.SendStream(p)
	}
	var cs []string
	for durable, stream := range consumers {
		if c.ConsumerLeader("$G", stream, durable) == node {
			cs = append(cs, "consumer:"+durable)
		}
	}
	slices.Sort(cs)
	return append(led, cs...)
}

// deadLettered reads PUSH_DEAD: the tokens of every dead letter (all tokens
// of a dead-lettered intent).
// trail logs what the cluster holds about a lost token, for whoever
// investigates: its feedback events and its registry record.
func trail(ctx context.Context, t *testing.T, js jetstream.JetStream, store *tokens.Store, tg events.Target) {
	t.Helper()
	if r, _, err := store.Get(ctx, sandbox.App, tg.Platform, tg.Token); err != nil {
		t.Logf("  trail %s: no registry record (%v)", tokens.Short(tg.Token), err)
	} else {
		t.Logf("  trail %s: registry record state=%s reason=%q invalid_at=%v updated_at=%v", tokens.Short(tg.Token), r.State, r.Reason, r.InvalidAt, r.UpdatedAt)
	}
	cons, err := js.OrderedConsumer(ctx, events.StreamFeedback, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{events.FeedbackSubject(tg.Platform, sandbox.App)},
	})
	if err != nil {
		t.Logf("  trail: %v", err)
		return
	}
	batch, err := cons.Fetch(100000, jetstream.FetchMaxWait(3*time.Second))
	if err != nil {
		t.Logf("  trail: %v", err)
		return
	}
	n := 0
	for msg := range batch.Messages() {
		fbs, _ := events.DecodeFeedbackEvents(msg.Data())
		for _, f := range fbs {
			if f.Token == tg.Token {
				n++
				meta, _ := msg.Metadata()
				t.Logf("  trail: feedback seq=%d outcome=%s reason=%q job=%s at=%s", meta.Sequence.Stream, f.Outcome, f.Reason, f.JobID, f.At.Format(time.RFC3339Nano))
			}
		}
	}
	t.Logf("  trail: %d feedback events for the token", n)
}

func deadLettered(ctx context.Context, t *testing.T, js jetstream.JetStream) map[events.Target]bool {
	t.Helper()
	out := map[events.Target]bool{}
	s, err := js.Stream(ctx, events.StreamDead)
	if err != nil {
		return out
	}
	info, err := s.Info(ctx)
	if err != nil || info.State.Msgs == 0 {
		return out
	}
	cons, err := js.OrderedConsumer(ctx, events.StreamDead, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return out
	}
	batch, err := cons.Fetch(int(info.State.Msgs), jetstream.FetchMaxWait(2*time.Second))
	if err != nil {
		return out
	}
	for msg := range batch.Messages() {
		var d events.DeadLetter
		if json.Unmarshal(msg.Data(), &d) != nil {
			continue
		}
		t.Logf("dead letter: stage=%s intent=%s tokens=%d reason=%s", d.Stage, d.IntentID, len(d.Tokens), d.Reason)
		if d.Stage == events.StageIntents {
			var in events.Intent
			if json.Unmarshal(d.Original(), &in) == nil {
				for _, tg := range in.Targets.Tokens {
					out[tg] = true
				}
			}
			continue
		}
		for _, tok := range d.Tokens {
			out[events.Target{Platform: events.Platform(d.Stage), Token: tok}] = true
		}
	}
	return out
}

// allReplicasCurrent reports whether every stream has all its replicas
// online and current.
func allReplicasCurrent(ctx context.Context, js jetstream.JetStream) bool {
	names := js.StreamNames(ctx)
	n := 0
	for name := range names.Name() {
		s, err := js.Stream(ctx, name)
		if err != nil {
			return false
		}
		info, err := s.Info(ctx)
		if err != nil || info.Cluster == nil || info.Cluster.Leader == "" || len(info.Cluster.Replicas) != 2 {
			return false
		}
		for _, r := range info.Cluster.Replicas {
			if !r.Current || r.Offline {
				return false
			}
		}
		n++
	}
	return names.Err() == nil && n == len(streams.StreamConfigs(streams.Config{}))
}

func waitFor(t *testing.T, timeout time.Duration, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not in %v: "+format, append([]any{timeout}, args...)...)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// progress samples the fakes' delivery totals to find the longest time no
// notification was delivered while the run was going on.
type progress struct {
	mu      sync.Mutex
	longest time.Duration
	quit    chan struct{}
	done    chan struct{}
}

func watchProgress(f *sandbox.Providers) *progress {
	p := &progress{quit: make(chan struct{}), done: make(chan struct{})}
	total := func() int64 {
		return f.APNs.TotalDelivered() + f.FCM.TotalDelivered() + f.Mi.DeliveredTotal() +
			int64(f.HMS.DeliveredTotal()) + f.WebPush.DeliveredTotal()
	}
	go func() {
		defer close(p.done)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		last, lastAt := total(), time.Now()
		for {
			select {
			case <-p.quit:
				return
			case now := <-tick.C:
				if n := total(); n != last {
					last, lastAt = n, now
					continue
				}
				p.mu.Lock()
				p.longest = max(p.longest, now.Sub(lastAt))
				p.mu.Unlock()
			}
		}
	}()
	return p
}

// longestStall is the longest delivery pause seen up to now.
func (p *progress) longestStall() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.longest
}

func (p *progress) stop() {
	select {
	case <-p.quit:
	default:
		close(p.quit)
	}
	<-p.done
}
