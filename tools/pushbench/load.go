package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/sandbox"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// tracker follows PUSH_FEEDBACK and accounts for one scenario's
// notifications: a final feedback event (any outcome but "failed") stored
// in the stream means the notification is done.
type tracker struct {
	prefix     string // "<run>-": this scenario's intent ids
	warmPrefix string // "<run>w-": warm-up intents
	pubNanos   []atomic.Int64

	finals  atomic.Int64
	retries atomic.Int64
	warm    atomic.Int64
	foreign atomic.Int64

	mu       sync.Mutex
	outcomes map[string]int64
	lats     []float64 // ms, provider-answered outcomes only
	doneAt   []int64   // unix nanos of every final event, in arrival order
}

func newTracker(run string, intents, notifications int) *tracker {
	return &tracker{prefix: run + "-", warmPrefix: run + "w-", pubNanos: make([]atomic.Int64, intents),
		outcomes: map[string]int64{}, lats: make([]float64, 0, notifications), doneAt: make([]int64, 0, notifications)}
}

// answered are the outcomes a provider decided: they carry an
// intent-to-provider latency.
var answered = map[events.Outcome]bool{events.Delivered: true, events.InvalidToken: true, events.TokenReplaced: true}

// handle counts the per-token events of one feedback message.
func (t *tracker) handle(msg jetstream.Msg) {
	evs, err := events.DecodeFeedbackEvents(msg.Data())
	if err != nil {
		return
	}
	for i := range evs {
		t.event(&evs[i])
	}
}

func (t *tracker) event(f *events.Feedback) {
	switch {
	case strings.HasPrefix(f.IntentID, t.prefix):
	case strings.HasPrefix(f.IntentID, t.warmPrefix):
		if f.Outcome != events.Failed {
			t.warm.Add(1)
		}
		return
	default:
		t.foreign.Add(1)
		return
	}
	if f.Outcome == events.Failed {
		t.retries.Add(1) // a retry follows
		return
	}
	now := time.Now().UnixNano()
	idx, err := strconv.Atoi(f.IntentID[len(t.prefix):])
	t.mu.Lock()
	t.outcomes[string(f.Outcome)]++
	if err == nil && idx >= 0 && idx < len(t.pubNanos) && answered[f.Outcome] {
		if pub := t.pubNanos[idx].Load(); pub > 0 {
			t.lats = append(t.lats, float64(f.At.UnixNano()-pub)/1e6)
		}
	}
	t.doneAt = append(t.doneAt, now)
	t.mu.Unlock()
	t.finals.Add(1)
}

// follow starts an ordered consumer of new feedback events.
func follow(ctx context.Context, js jetstream.JetStream, t *tracker) (func(), error) {
	cons, err := js.OrderedConsumer(ctx, events.StreamFeedback, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverNewPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("feedback consumer: %w", err)
	}
	cc, err := cons.Consume(t.handle, jetstream.PullMaxMessages(2000))
	if err != nil {
		return nil, fmt.Errorf("feedback consumer: %w", err)
	}
	return cc.Stop, nil
}

// loadGen publishes one scenario's intents.
type loadGen struct {
	sc        scenario
	o         *options
	apub      *events.AsyncPublisher // NATS scenarios: intents published asynchronously
	gw        *gwClient              // gateway scenarios: intents go by HTTP, sc.Batch per request
	fakes     *fakesInfo             // the tokens of platforms whose fake makes them (Web Push)
	run       string
	perIntent int
	intents   int
	tr        *tracker
	rate      float64 // notifications/s; 0: closed loop

	reserved  atomic.Int64 // notifications claimed by publishers (window)
	published atomic.Int64 // notifications whose intent is stored
	pubErrs   atomic.Int64
	lastErr   atomic.Value
	stopped   atomic.Bool // publishing is over
	// stalls counts episodes of at least 3s without a notification done
	// while some were outstanding; stalledSec their seconds.
	stalls     atomic.Int64
	stalledSec atomic.Int64

	requests atomic.Int64 // publishes (NATS) or POSTs (gateway) answered
	ansMu    sync.Mutex
	answers  []float64 // ms from a request's start to its answer (PubAck or HTTP response)
}

// batch is how many intents one request carries.
func (g *loadGen) batch() int { return max(g.sc.Batch, 1) }

// post sends ins (one intent, or a batch) to the gateway and says which
// were stored.
func (g *loadGen) post(ctx context.Context, ins []*events.Intent) ([]bool, error) {
	t0 := time.Now()
	ok, err := g.gw.post(ctx, ins)
	if ok != nil {
		g.answered(t0)
	}
	return ok, err
}

// answered records a request answered, started at t0.
func (g *loadGen) answered(t0 time.Time) {
	g.requests.Add(1)
	g.ansMu.Lock()
	g.answers = append(g.answers, float64(time.Since(t0))/1e6)
	g.ansMu.Unlock()
}

// stored accounts for an intent the stream stored.
func (g *loadGen) stored() { g.published.Add(int64(g.perIntent)) }

// notStored accounts for intent number i, not stored: its notifications
// leave the window and count as publish errors.
func (g *loadGen) notStored(i int, err error) {
	g.tr.pubNanos[i].Store(0)
	g.reserved.Add(-int64(g.perIntent))
	g.pubErrs.Add(1)
	if err != nil {
		g.lastErr.Store(err.Error())
	}
}

// inFlight is an intent published asynchronously, not yet settled.
type inFlight struct {
	f  *events.PublishFuture
	i  int       // intent number
	t0 time.Time // its publish started
}

// settle accounts for the intents published asynchronously, in publish
// order (the order they settle in), until pending is closed.
func (g *loadGen) settle(pending <-chan inFlight) {
	for p := range pending {
		if _, err := p.f.Wait(context.Background()); err != nil { // settles within AckWait
			g.notStored(p.i, err)
			continue
		}
		g.answered(p.t0)
		g.stored()
	}
}

// answerLatencies are the sorted request-to-answer times.
func (g *loadGen) answerLatencies() []float64 {
	g.ansMu.Lock()
	defer g.ansMu.Unlock()
	s := slices.Clone(g.answers)
	slices.Sort(s)
	return s
}

// intent builds intent number i.
func (g *loadGen) intent(i int, prefix string) *events.Intent {
	in := &events.Intent{ID: prefix + strconv.Itoa(i), App: benchApp,
		Notification: events.Notification{Title: "pushbench", Body: "Your order has shipped and is on its way.",
			Data: map[string]any{"order": "4711"}}}
	if g.sc.Shape == "tag" {
		in.Targets.Tag = benchTag
		return in
	}
	k := g.perIntent
	in.Targets.Tokens = make([]events.Target, k)
	for j := range k {
		n := (i*k + j) % g.o.TokenPool
		p := g.sc.platformAt(j)
		if k == 1 {
			p = g.sc.platformAt(i)
		}
		in.Targets.Tokens[j] = events.Target{Platform: p, Token: g.token(p, n, isDead(n, g.o.DeadPercent))}
	}
	return in
}

const benchTag = "pushbench-all"

// token is device token number n of platform p: the fakes' (Web Push
// subscriptions) when known, else sandbox.Token's.
func (g *loadGen) token(p events.Platform, n int, dead bool) string {
	if g.fakes != nil {
		return g.fakes.benchToken(p, n, dead)
	}
	return sandbox.Token(p, n, dead)
}

// isDead picks a stable DeadPercent share of token numbers.
func isDead(n int, pct float64) bool {
	if pct <= 0 {
		return false
	}
	return float64((n*7919)%10000) < pct*100
}

// intentBytes is the encoded size of a typical intent of the scenario.
func (g *loadGen) intentBytes() int {
	b, _ := json.Marshal(g.intent(0, g.run+"-"))
	return len(b)
}

// warmUp sends a few intents per platform of the mix and waits for them:
// connections, JWTs and OAuth tokens exist before the clock starts.
func (g *loadGen) warmUp(ctx context.Context) error {
	sc := g.sc
	sc.Shape = "s1"
	w := &loadGen{sc: sc, o: g.o, perIntent: 1, fakes: g.fakes}
	const n = 10
	for i := range n {
		in := w.intent(i, g.run+"w-")
		if g.gw != nil {
			if _, err := g.gw.post(ctx, []*events.Intent{in}); err != nil {
				return fmt.Errorf("warm-up request: %w", err)
			}
			continue
		}
		if _, err := g.apub.PublishAsync(ctx, in); err != nil {
			return fmt.Errorf("warm-up publish: %w", err)
		}
	}
	if g.gw == nil {
		if _, err := g.apub.Flush(ctx); err != nil {
			return fmt.Errorf("warm-up publish: %w", err)
		}
	}
	deadline := time.Now().Add(90 * time.Second)
	for g.tr.warm.Load() < n {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("warm-up: %d of %d notifications done after 90s", g.tr.warm.Load(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// publish runs the publishers until every intent is published, the
// duration passes or ctx ends. Each request carries batch() intents (one
// but for a gateway batch scenario). Published to NATS, one goroutine
// publishes asynchronously (the AsyncPublisher bounds the intents not yet
// acknowledged) and another counts the acknowledgements; through the
// gateway, --publishers goroutines each wait for their answer.
func (g *loadGen) publish(ctx context.Context, start time.Time) {
	deadline := start.Add(g.o.Duration)
	var next atomic.Int64
	var wg sync.WaitGroup
	k := int64(g.perIntent)
	b := g.batch()
	units := (g.intents + b - 1) / b
	window := int64(max(g.o.Window, g.perIntent*b))
	workers := g.o.Publishers
	var pending chan inFlight
	var settled sync.WaitGroup
	if g.gw == nil {
		workers = 1
		pending = make(chan inFlight, events.DefaultAsyncMaxPending)
		settled.Go(func() { g.settle(pending) })
	}
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil && g.pubErrs.Load() <= 100 {
				u := int(next.Add(1)) - 1
				if u >= units || time.Now().After(deadline) {
					return
				}
				first := u * b
				n := min(b, g.intents-first)
				need := int64(n) * k
				if g.rate > 0 {
					at := start.Add(time.Duration(float64(first) * float64(k) / g.rate * float64(time.Second)))
					if d := time.Until(at); d > 0 {
						if at.After(deadline) {
							return
						}
						time.Sleep(d)
					}
				} else {
					for g.reserved.Load()+need-g.tr.finals.Load() > window {
						if ctx.Err() != nil || time.Now().After(deadline) {
							return
						}
						time.Sleep(200 * time.Microsecond)
					}
				}
				g.reserved.Add(need)
				ins := make([]*events.Intent, n)
				for j := range n {
					ins[j] = g.intent(first+j, g.tr.prefix)
				}
				// The latency's start: the publish's, whatever it waits for.
				t0 := time.Now()
				for j := range n {
					g.tr.pubNanos[first+j].Store(t0.UnixNano())
				}
				if pending != nil {
					for j, in := range ins {
						f, err := g.apub.PublishAsync(ctx, in)
						if err != nil {
							g.notStored(first+j, err)
							continue
						}
						pending <- inFlight{f: f, i: first + j, t0: t0}
					}
					continue
				}
				ok, err := g.post(ctx, ins)
				for j := range n {
					if j < len(ok) && ok[j] {
						g.stored()
					} else {
						g.notStored(first+j, nil)
					}
				}
				if err != nil {
					g.lastErr.Store(err.Error())
				}
			}
		})
	}
	wg.Wait()
	if pending != nil {
		close(pending)
		settled.Wait()
		_, _ = g.apub.Flush(ctx) // every failure is counted already, by its future
	}
	g.stopped.Store(true)
}

// progress prints done/total and rates every second until stop closes.
func progress(w io.Writer, name string, g *loadGen, js jetstream.JetStream, planned int, start time.Time, stop <-chan struct{}, onStall func() string) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	last, lastT := int64(0), start
	idle := 0
	for {
		select {
		case <-stop:
			return
		case now := <-tick.C:
			done := g.tr.finals.Load()
			total := int64(planned)
			if g.stopped.Load() {
				total = g.published.Load()
			}
			fmt.Fprintf(w, "[%s] %d/%d done  %.0f/s now  %.0f/s avg  published %d  retries %d  load %s\n",
				name, done, total, float64(done-last)/now.Sub(lastT).Seconds(),
				float64(done)/now.Sub(start).Seconds(), g.published.Load(), g.tr.retries.Load(), loadAvg())
			if done == last && g.reserved.Load() > done {
				idle++
				if idle == 3 {
					g.stalls.Add(1)
					g.stalledSec.Add(3)
				} else if idle > 3 {
					g.stalledSec.Add(1)
				}
				if idle == 3 || idle%10 == 0 {
					fmt.Fprintf(w, "[%s] STALLED %ds with %d outstanding: %s\n", name, idle, g.reserved.Load()-done, consumerStates(js))
				}
				if idle == 3 && onStall != nil {
					if where := onStall(); where != "" {
						fmt.Fprintf(w, "[%s] the fleet's goroutines at the stall: %s\n", name, where)
					}
				}
			} else {
				idle = 0
			}
			last, lastT = done, now
		}
	}
}

// consumerStates describes the fleet's consumers: pending (not yet
// delivered), ack pending (delivered, not acked), waiting pull requests,
// redelivered.
func consumerStates(js jetstream.JetStream) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out []string
	for _, sd := range fleetConsumers() {
		c, err := js.Consumer(ctx, sd[0], sd[1])
		if err != nil {
			out = append(out, sd[1]+" ?")
			continue
		}
		info, err := c.Info(ctx)
		if err != nil {
			out = append(out, sd[1]+" ?")
			continue
		}
		out = append(out, fmt.Sprintf("%s pending %d ack-pending %d waiting %d redelivered %d",
			sd[1], info.NumPending, info.NumAckPending, info.NumWaiting, info.NumRedelivered))
	}
	return strings.Join(out, "; ")
}

// fleetConsumers are the (stream, durable) pairs of the fleet's services.
func fleetConsumers() [][2]string {
	pairs := [][2]string{{events.StreamIntents, events.DurableDispatcher}}
	for _, p := range benchPlatforms {
		pairs = append(pairs, [2]string{events.SendStream(p), events.SenderDurable(p)})
	}
	return append(pairs, [2]string{events.StreamFeedback, events.DurableFeedbackSink})
}

// percentile of sorted ms values (nearest rank).
func percentile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// latencies returns the sorted latency samples.
func (t *tracker) latencies() []float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := slices.Clone(t.lats)
	slices.Sort(s)
	return s
}

// sustained is the rate between 10% and 90% of n done, and the time the
// last one was done.
func (t *tracker) sustained(n int) (float64, time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.doneAt) == 0 {
		return 0, time.Time{}
	}
	last := time.Unix(0, t.doneAt[len(t.doneAt)-1])
	n = min(n, len(t.doneAt))
	lo, hi := n/10, n*9/10
	if hi <= lo {
		return 0, last
	}
	d := time.Duration(t.doneAt[hi-1] - t.doneAt[lo])
	if d <= 0 {
		return 0, last
	}
	return float64(hi-1-lo) / d.Seconds(), last
}

func (t *tracker) outcomeCounts() map[string]int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]int64, len(t.outcomes))
	for k, v := range t.outcomes {
		out[k] = v
	}
	return out
}
