package allinone

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/fleet"
	"github.com/pushfleet/pushfleet/internal/sandbox"
	"github.com/pushfleet/pushfleet/internal/tokens"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// DemoConfig shapes the demo load.
type DemoConfig struct {
	// DeadEvery makes every n-th intent target a dead token (default
	// DefaultDemoDeadEvery).
	DeadEvery int
	// Timeout bounds waiting for every notification to be accounted for
	// (default DefaultDemoTimeout).
	Timeout time.Duration
}

// Defaults of DemoConfig.
const (
	DefaultDemoDeadEvery = 10
	DefaultDemoTimeout   = 2 * time.Minute
)

// tally counts final outcomes per platform for one demo run.
type tally struct {
	mu       sync.Mutex
	outcomes map[events.Platform]map[events.Outcome]int
	final    int
}

func (t *tally) add(f *events.Feedback) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.outcomes[f.Platform] == nil {
		t.outcomes[f.Platform] = map[events.Outcome]int{}
	}
	t.outcomes[f.Platform][f.Outcome]++
	if f.Outcome != events.Failed { // failed is followed by a retry
		t.final++
	}
}

func (t *tally) finals() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.final
}

// runDemo publishes n intents spread over the five platforms, every
// DeadEvery-th to a dead token (token makes them: sandbox.Providers.Token),
// and waits until each notification has a final outcome in PUSH_FEEDBACK.
func runDemo(ctx context.Context, env *fleet.Env, n int, cfg DemoConfig, token func(events.Platform, int, bool) string, w io.Writer) error {
	cfg.DeadEvery = cmp.Or(cfg.DeadEvery, DefaultDemoDeadEvery)
	cfg.Timeout = cmp.Or(cfg.Timeout, DefaultDemoTimeout)
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	run := fmt.Sprintf("demo-%d", time.Now().UnixNano())
	t := &tally{outcomes: map[events.Platform]map[events.Outcome]int{}}
	stop, err := follow(ctx, env.JS, run, t)
	if err != nil {
		return err
	}
	defer stop()

	start := time.Now()
	pub := events.NewPublisher(env.JS)
	sent := map[events.Platform]int{}
	var dead []events.Target
	fmt.Fprintf(w, "demo: publishing %d intents (one token each, every %dth to a dead token)\n", n, cfg.DeadEvery)
	for i := range n {
		// Shifted once per DeadEvery intents, so that dead tokens reach every
		// platform whatever DeadEvery and the number of platforms.
		p := events.Platforms[(i+i/cfg.DeadEvery)%len(events.Platforms)]
		isDead := i%cfg.DeadEvery == cfg.DeadEvery-1
		tg := events.Target{Platform: p, Token: token(p, i, isDead)}
		if isDead {
			dead = append(dead, tg)
		}
		in := &events.Intent{
			ID: fmt.Sprintf("%s-%d", run, i), App: sandbox.App, Targets: events.Targets{Tokens: []events.Target{tg}},
			Notification: events.Notification{Title: "pushfleet demo", Body: fmt.Sprintf("notification %d", i),
				Data: map[string]any{"n": i}},
		}
		if _, err := pub.Publish(ctx, in); err != nil {
			return fmt.Errorf("demo publish: %w", err)
		}
		sent[p]++
	}
	if err := wait(ctx, w, t, n, start); err != nil {
		return err
	}
	elapsed := time.Since(start)
	recorded, err := countInvalid(ctx, env.JS, dead)
	if err != nil {
		return err
	}
	if err := summary(w, n, sent, t, recorded, len(dead), elapsed); err != nil {
		return err
	}
	return secondRound(ctx, env, run, dead, w)
}

// secondRound pushes again to the tokens found dead in the first round:
// the registry now knows them, so every one is suppressed before a sender.
func secondRound(ctx context.Context, env *fleet.Env, run string, dead []events.Target, w io.Writer) error {
	if len(dead) == 0 {
		return nil
	}
	run += "-r2"
	t := &tally{outcomes: map[events.Platform]map[events.Outcome]int{}}
	stop, err := follow(ctx, env.JS, run, t)
	if err != nil {
		return err
	}
	defer stop()
	pub := events.NewPublisher(env.JS)
	for i, tg := range dead {
		in := &events.Intent{ID: fmt.Sprintf("%s-%d", run, i), App: sandbox.App, Targets: events.Targets{Tokens: []events.Target{tg}},
			Notification: events.Notification{Title: "pushfleet demo", Body: "second round"}}
		if _, err := pub.Publish(ctx, in); err != nil {
			return fmt.Errorf("demo publish: %w", err)
		}
	}
	fmt.Fprintf(w, "\ndemo round 2: %d intents to the tokens found dead in round 1\n", len(dead))
	if err := wait(ctx, w, t, len(dead), time.Now()); err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	suppressed := 0
	for _, p := range events.Platforms {
		suppressed += t.outcomes[p][events.Suppressed]
	}
	fmt.Fprintf(w, "  suppressed before reaching a provider: %d of %d\n", suppressed, len(dead))
	if suppressed != len(dead) {
		return fmt.Errorf("%w: %d of %d dead tokens suppressed in round 2", ErrUnaccounted, suppressed, len(dead))
	}
	return nil
}

// follow counts this run's feedback events from now on.
func follow(ctx context.Context, js jetstream.JetStream, run string, t *tally) (func(), error) {
	cons, err := js.OrderedConsumer(ctx, events.StreamFeedback, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverNewPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("demo feedback consumer: %w", err)
	}
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		// Both forms of a feedback message (one event, or a batch).
		fbs, err := events.DecodeFeedbackEvents(msg.Data())
		if err != nil {
			return
		}
		for i := range fbs {
			if strings.HasPrefix(fbs[i].IntentID, run+"-") {
				t.add(&fbs[i])
			}
		}
	})
	if err != nil {
		return nil, fmt.Errorf("demo feedback consumer: %w", err)
	}
	return cc.Stop, nil
}

func wait(ctx context.Context, w io.Writer, t *tally, n int, start time.Time) error {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for t.finals() < n {
		select {
		case <-ctx.Done():
			fmt.Fprintf(w, "demo: timed out with %d of %d notifications accounted for\n", t.finals(), n)
			return fmt.Errorf("%w: %d of %d after %v", ErrUnaccounted, t.finals(), n, time.Since(start).Round(time.Millisecond))
		case <-tick.C:
			fmt.Fprintf(w, "demo: %d/%d notifications accounted for (%.0f/s)\n", t.finals(), n,
				float64(t.finals())/time.Since(start).Seconds())
		}
	}
	return nil
}

// countInvalid checks how many of the dead tokens the sink recorded as invalid.
func countInvalid(ctx context.Context, js jetstream.JetStream, dead []events.Target) (int, error) {
	kv, err := js.KeyValue(ctx, events.TokensBucket)
	if err != nil {
		return 0, err
	}
	store := tokens.NewStore(kv)
	recorded := 0
	deadline := time.Now().Add(10 * time.Second)
	for _, tg := range dead {
		for {
			r, _, err := store.Get(ctx, sandbox.App, tg.Platform, tg.Token)
			if err == nil && r.State == tokens.Invalid {
				recorded++
				break
			}
			if time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return recorded, nil
}

func summary(w io.Writer, n int, sent map[events.Platform]int, t *tally, recorded, dead int, elapsed time.Duration) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(w, "\ndemo summary: %d intents in %v (%.0f notifications/s)\n", n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds())
	fmt.Fprintf(w, "  %-7s %6s %10s %8s %6s %11s %8s\n", "", "sent", "delivered", "invalid", "dead", "suppressed", "expired")
	var delivered, invalid, deadN, other int
	for _, p := range events.Platforms {
		o := t.outcomes[p]
		fmt.Fprintf(w, "  %-7s %6d %10d %8d %6d %11d %8d\n", p, sent[p], o[events.Delivered], o[events.InvalidToken],
			o[events.Dead], o[events.Suppressed], o[events.Expired])
		delivered += o[events.Delivered]
		invalid += o[events.InvalidToken]
		deadN += o[events.Dead]
		other += o[events.Suppressed] + o[events.Expired] + o[events.TokenReplaced]
	}
	fmt.Fprintf(w, "  invalid tokens recorded in %s: %d of %d\n", events.TokensBucket, recorded, dead)
	total := delivered + invalid + deadN + other
	fmt.Fprintf(w, "  accounted: delivered %d + invalid %d + dead %d + other %d = %d of %d sent\n",
		delivered, invalid, deadN, other, total, n)
	if total != n || recorded != dead {
		return fmt.Errorf("%w: %d of %d accounted, %d of %d invalid tokens recorded", ErrUnaccounted, total, n, recorded, dead)
	}
	fmt.Fprintln(w, "  every notification accounted for")
	return nil
}
