package events_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// s1Intent is a one-token intent numbered i.
func s1Intent(app string, i int) *events.Intent {
	return &events.Intent{ID: fmt.Sprintf("a-%d", i), App: app,
		Targets:      events.Targets{Tokens: []events.Target{{Platform: events.APNs, Token: fmt.Sprintf("%064x", i)}}},
		Notification: events.Notification{Title: "t", Body: "b"}}
}

func asyncPublisher(t *testing.T, js jetstream.Publisher, cfg events.AsyncConfig) *events.AsyncPublisher {
	t.Helper()
	a, err := events.NewPublisher(js).Async(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// Intents published asynchronously are stored once each, as Publish stores
// them (subject, id header, Nats-Msg-Id); published again they are
// reported as duplicates, not as failures, and stored once still.
func TestPublishAsyncStoresEveryIntentOnce(t *testing.T) {
	ctx, js := publisherEnv(t)
	a := asyncPublisher(t, js, events.AsyncConfig{MaxPending: 64})
	const n = 500
	futs := make([]*events.PublishFuture, n)
	for i := range n {
		f, err := a.PublishAsync(ctx, s1Intent("shop", i))
		if err != nil {
			t.Fatal(err)
		}
		futs[i] = f
	}
	sum, err := a.Flush(ctx)
	if err != nil || sum.Acked != n || sum.Duplicates != 0 || len(sum.Failed) != 0 {
		t.Fatalf("flush: %+v, %v; want %d acked", sum, err, n)
	}
	if p := a.Pending(); p != 0 {
		t.Fatalf("%d pending after Flush", p)
	}
	for i, f := range futs {
		ack, err := f.Wait(ctx)
		if err != nil || ack.Duplicate || f.ID() != fmt.Sprintf("a-%d", i) {
			t.Fatalf("future %d (%s): ack %+v, %v", i, f.ID(), ack, err)
		}
	}

	s, err := js.Stream(ctx, events.StreamIntents)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for seq := uint64(1); seq <= n; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		id := m.Header.Get(events.HeaderIntentID)
		if m.Subject != events.IntentSubject("shop") || m.Header.Get(jetstream.MsgIDHeader) != events.IntentMsgID("shop", id) {
			t.Fatalf("message %d: subject %s, headers %v", seq, m.Subject, m.Header)
		}
		in, err := events.DecodeIntent(m.Data, events.DefaultLimits)
		if err != nil || in.ID != id || seen[id] {
			t.Fatalf("message %d: intent %+v (%v), header id %q, seen before %v", seq, in, err, id, seen[id])
		}
		seen[id] = true
	}

	// Once more, the first one synchronously: every one a duplicate.
	if ack, err := events.NewPublisher(js).Publish(ctx, s1Intent("shop", 0)); err != nil || !ack.Duplicate {
		t.Fatalf("sync publish of a-0 again: %+v, %v; want a duplicate", ack, err)
	}
	for i := 1; i < n; i++ {
		if futs[i], err = a.PublishAsync(ctx, s1Intent("shop", i)); err != nil {
			t.Fatal(err)
		}
	}
	sum, err = a.Flush(ctx)
	if err != nil || sum.Acked != n-1 || sum.Duplicates != n-1 {
		t.Fatalf("flush of the repeats: %+v, %v; want %d acked, all duplicates", sum, err, n-1)
	}
	if ack, err := futs[n-1].Wait(ctx); err != nil || !ack.Duplicate {
		t.Fatalf("future of a repeat: %+v, %v; want a duplicate", ack, err)
	}
	info, err := s.Info(ctx)
	if err != nil || info.State.Msgs != n {
		t.Fatalf("stream holds %d intents (%v), want %d", info.State.Msgs, err, n)
	}
}

// Intents the stream does not take are reported one by one, with their ids
// and a cause errors.Is matches, among intents that are stored.
func TestPublishAsyncReportsEveryFailure(t *testing.T) {
	long := strings.Repeat("x", 400)
	tests := []struct {
		name string
		// setup returns the JetStream to publish with.
		setup func(context.Context, *testing.T) jetstream.JetStream
		// bad tells the intents that must fail.
		bad func(i int) bool
		mod func(in *events.Intent)
		// wait is the AckWait: enough for nats.go's retries when no
		// stream answers (2 × 250ms), short when nothing ever answers.
		wait time.Duration
		want error
	}{
		{"no stream takes the subject", func(ctx context.Context, t *testing.T) jetstream.JetStream {
			_, js := natstest.Connect(t, natstest.RunServer(t))
			intentsStream(ctx, t, js, -1)
			return js
		}, func(i int) bool { return i%3 == 0 }, nil, 10 * time.Second, jetstream.ErrNoStreamResponse},
		{"the stream refuses the message", func(ctx context.Context, t *testing.T) jetstream.JetStream {
			_, js := natstest.Connect(t, natstest.RunServer(t))
			intentsStream(ctx, t, js, 300)
			return js
		}, func(i int) bool { return i%3 == 0 }, func(in *events.Intent) { in.Notification.Body = long },
			10 * time.Second, jetstream.ErrStreamMessageExceedsMaximum},
		{"the subject is denied to the producer", func(ctx context.Context, t *testing.T) jetstream.JetStream {
			opts := natstest.Options(t.TempDir())
			opts.Users = []*server.User{{Username: "producer", Password: "secret", Permissions: &server.Permissions{
				Publish: &server.SubjectPermission{Deny: []string{events.IntentSubject("forbidden")}}}}}
			s := natstest.RunServerWithOptions(t, &opts)
			nc, err := nats.Connect(s.ClientURL(), nats.UserInfo("producer", "secret"),
				nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {})) // the violations, expected
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(nc.Close)
			js, err := jetstream.New(nc)
			if err != nil {
				t.Fatal(err)
			}
			intentsStream(ctx, t, js, -1)
			return js
		}, func(i int) bool { return i%3 == 0 }, func(in *events.Intent) { in.App = "forbidden" },
			300 * time.Millisecond, jetstream.ErrAsyncPublishTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			js := tc.setup(ctx, t)
			a := asyncPublisher(t, js, events.AsyncConfig{MaxPending: 8, AckWait: tc.wait})
			const n = 30
			var wantFailed []string
			for i := range n {
				in := s1Intent("shop", i)
				if tc.bad(i) {
					if tc.mod != nil {
						tc.mod(in)
					} else {
						in.App = "nostream"
					}
					wantFailed = append(wantFailed, in.ID)
				}
				if _, err := a.PublishAsync(ctx, in); err != nil {
					t.Fatal(err)
				}
			}
			sum, err := a.Flush(ctx)
			var got []string
			for _, f := range sum.Failed {
				if !errors.Is(f, tc.want) {
					t.Errorf("intent %s failed with %v, want %v", f.ID, f.Err, tc.want)
				}
				got = append(got, f.ID)
			}
			if strings.Join(got, ",") != strings.Join(wantFailed, ",") || sum.Acked != n-len(wantFailed) {
				t.Fatalf("acked %d, failed %v; want %d acked, failed %v", sum.Acked, got, n-len(wantFailed), wantFailed)
			}
			var pe *events.PublishError
			if !errors.Is(err, tc.want) || !errors.As(err, &pe) || pe.ID != wantFailed[0] {
				t.Fatalf("flush error %v: want one matching %v, the first failure %s", err, tc.want, wantFailed[0])
			}
			if got := natstest.StreamMsgs(t, js, events.StreamIntents); got != uint64(sum.Acked) {
				t.Fatalf("%d intents stored, %d acknowledged", got, sum.Acked)
			}
		})
	}
}

// intentsStream makes a stream of its own for push.intents.shop and
// push.intents.forbidden (none for other apps), of messages up to maxSize
// bytes (-1: any).
func intentsStream(ctx context.Context, t *testing.T, js jetstream.JetStream, maxSize int32) {
	t.Helper()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: events.StreamIntents,
		Subjects: []string{events.IntentSubject("shop"), events.IntentSubject("forbidden")},
		Storage:  jetstream.MemoryStorage, MaxMsgSize: maxSize, Duplicates: time.Minute}); err != nil {
		t.Fatal(err)
	}
}

// When the server goes away, every intent ends acknowledged (and stored),
// reported failed, or refused by PublishAsync: none is left untold.
func TestPublishAsyncServerGone(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv := natstest.StartServer(t)
	nc, err := nats.Connect(srv.URL(), nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: events.StreamIntents,
		Subjects: []string{events.IntentSubject("shop")}, Duplicates: time.Minute}); err != nil {
		t.Fatal(err)
	}
	a := asyncPublisher(t, js, events.AsyncConfig{MaxPending: 100, AckWait: 500 * time.Millisecond})
	const before, after = 300, 20
	refused := 0
	for i := range before + after {
		if i == before {
			srv.Shutdown()
		}
		if _, err := a.PublishAsync(ctx, s1Intent("shop", i)); err != nil {
			var pe *events.PublishError
			if !errors.As(err, &pe) || pe.ID != fmt.Sprintf("a-%d", i) {
				t.Fatalf("publish %d: %v, want a *PublishError naming it", i, err)
			}
			refused++
		}
	}
	sum, err := a.Flush(ctx)
	if len(sum.Failed)+refused < after || sum.Acked+len(sum.Failed)+refused != before+after {
		t.Fatalf("acked %d, failed %d, refused %d of %d (%d after the server went): an intent is untold",
			sum.Acked, len(sum.Failed), refused, before+after, after)
	}
	if err == nil && len(sum.Failed) > 0 {
		t.Fatal("Flush reports failures without an error")
	}
	for _, f := range sum.Failed {
		if f.Err == nil || !strings.HasPrefix(f.ID, "a-") {
			t.Fatalf("failure %+v: no id or no cause", f)
		}
	}
	// Acknowledged means stored: the restarted server holds them all.
	srv.Restart(t)
	natstest.Eventually(t, 10*time.Second, nc.IsConnected, "reconnected")
	if got := natstest.StreamMsgs(t, js, events.StreamIntents); got < uint64(sum.Acked) {
		t.Fatalf("%d intents stored, %d acknowledged", got, sum.Acked)
	}
}

// fakeJS is a JetStream publisher whose acknowledgements the test gives
// by hand; it records how many publishes were unanswered at most.
type fakeJS struct {
	jetstream.Publisher // only PublishMsgAsync is used

	mu         sync.Mutex
	futs       []*fakeFuture
	open, peak int
	published  chan string // the intent ids, as published
}

type fakeFuture struct {
	msg *nats.Msg
	ok  chan *jetstream.PubAck
	err chan error
}

func (f *fakeFuture) Ok() <-chan *jetstream.PubAck { return f.ok }
func (f *fakeFuture) Err() <-chan error            { return f.err }
func (f *fakeFuture) Msg() *nats.Msg               { return f.msg }

func (j *fakeJS) PublishMsgAsync(m *nats.Msg, _ ...jetstream.PublishOpt) (jetstream.PubAckFuture, error) {
	f := &fakeFuture{msg: m, ok: make(chan *jetstream.PubAck, 1), err: make(chan error, 1)}
	j.mu.Lock()
	j.futs = append(j.futs, f)
	j.open++
	j.peak = max(j.peak, j.open)
	j.mu.Unlock()
	j.published <- m.Header.Get(events.HeaderIntentID)
	return f, nil
}

// answer settles publish number i with ack or err.
func (j *fakeJS) answer(i int, ack *jetstream.PubAck, err error) {
	j.mu.Lock()
	f := j.futs[i]
	j.open--
	j.mu.Unlock()
	if err != nil {
		f.err <- err
		return
	}
	f.ok <- ack
}

// PublishAsync waits for room at MaxPending, and returns when ctx ends
// while waiting; Flush returns when ctx ends; nothing is lost meanwhile.
func TestPublishAsyncBoundAndCancellation(t *testing.T) {
	ctx := context.Background()
	fj := &fakeJS{published: make(chan string, 100)}
	a := asyncPublisher(t, fj, events.AsyncConfig{MaxPending: 3, AckWait: time.Hour})
	for i := range 3 {
		if _, err := a.PublishAsync(ctx, s1Intent("shop", i)); err != nil {
			t.Fatal(err)
		}
		<-fj.published
	}

	// The fourth waits for room: one answer makes it.
	fourth := make(chan error, 1)
	go func() {
		_, err := a.PublishAsync(ctx, s1Intent("shop", 3))
		fourth <- err
	}()
	fj.answer(0, &jetstream.PubAck{Stream: events.StreamIntents, Sequence: 1}, nil)
	if err := <-fourth; err != nil {
		t.Fatal(err)
	}
	if id := <-fj.published; id != "a-3" {
		t.Fatalf("published %s, want a-3", id)
	}

	// The fifth waits, until its ctx ends: then it is not published.
	cctx, cancel := context.WithCancel(ctx)
	fifth := make(chan error, 1)
	go func() {
		_, err := a.PublishAsync(cctx, s1Intent("shop", 4))
		fifth <- err
	}()
	cancel()
	if err := <-fifth; !errors.Is(err, context.Canceled) {
		t.Fatalf("fifth publish: %v, want context.Canceled", err)
	}

	// Flush waits for the three pending, until its ctx ends.
	fctx, fcancel := context.WithCancel(ctx)
	flushed := make(chan error, 1)
	go func() {
		_, err := a.Flush(fctx)
		flushed <- err
	}()
	fcancel()
	if err := <-flushed; !errors.Is(err, context.Canceled) {
		t.Fatalf("flush: %v, want context.Canceled", err)
	}

	// Answered out of order, they are all reported to the next Flush.
	fj.answer(3, &jetstream.PubAck{Stream: events.StreamIntents, Sequence: 2, Duplicate: true}, nil)
	fj.answer(2, nil, jetstream.ErrNoStreamResponse)
	fj.answer(1, &jetstream.PubAck{Stream: events.StreamIntents, Sequence: 3}, nil)
	sum, err := a.Flush(ctx)
	if sum.Acked != 3 || sum.Duplicates != 1 || len(sum.Failed) != 1 || sum.Failed[0].ID != "a-2" ||
		!errors.Is(err, jetstream.ErrNoStreamResponse) {
		t.Fatalf("flush: %+v, %v; want 3 acked (1 duplicate) and a-2 failed", sum, err)
	}
	if fj.peak > 3 || len(fj.published) != 0 {
		t.Fatalf("%d publishes unanswered at once (bound 3); %d published after the cancelled one", fj.peak, len(fj.published))
	}
}

// An acknowledgement that never comes fails the intent after AckWait.
func TestPublishAsyncAckWait(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fj := &fakeJS{published: make(chan string, 10)}
	a := asyncPublisher(t, fj, events.AsyncConfig{AckWait: 50 * time.Millisecond})
	f, err := a.PublishAsync(ctx, s1Intent("shop", 7))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.Wait(ctx)
	var pe *events.PublishError
	if !errors.Is(err, jetstream.ErrAsyncPublishTimeout) || !errors.As(err, &pe) || pe.ID != "a-7" || pe.App != "shop" {
		t.Fatalf("future: %v, want a *PublishError for shop/a-7 matching ErrAsyncPublishTimeout", err)
	}
	if sum, err := a.Flush(ctx); len(sum.Failed) != 1 || !errors.Is(err, jetstream.ErrAsyncPublishTimeout) {
		t.Fatalf("flush: %+v, %v", sum, err)
	}
}

// An invalid intent is refused at once, as by Publish, and never
// published; so is an invalid configuration.
func TestPublishAsyncRefuses(t *testing.T) {
	fj := &fakeJS{published: make(chan string, 10)}
	a := asyncPublisher(t, fj, events.AsyncConfig{})
	in := s1Intent("shop", 1)
	in.Notification = events.Notification{}
	_, err := a.PublishAsync(context.Background(), in)
	var ve *events.ValidationError
	if !errors.As(err, &ve) || ve.Field != "notification" {
		t.Fatalf("empty notification: %v, want a ValidationError on notification", err)
	}
	if len(fj.published) != 0 || a.Pending() != 0 {
		t.Fatal("a refused intent was published")
	}
	for _, cfg := range []events.AsyncConfig{{MaxPending: -1}, {AckWait: -time.Second}} {
		if _, err := events.NewPublisher(fj).Async(cfg); !errors.Is(err, events.ErrConfig) {
			t.Errorf("Async(%+v): %v, want ErrConfig", cfg, err)
		}
	}
}
