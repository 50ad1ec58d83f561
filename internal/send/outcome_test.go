package send

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

// scripted answers each call with the next func of its script (the last
// one repeats).
type scripted struct {
	calls  atomic.Int32
	script []func(job *events.Job) []provider.Result
}

func (s *scripted) Send(_ context.Context, job *events.Job) []provider.Result {
	n := int(s.calls.Add(1)) - 1
	return s.script[min(n, len(s.script)-1)](job)
}

func answer(k provider.Kind, err error, retryAfter time.Duration) func(job *events.Job) []provider.Result {
	return func(job *events.Job) []provider.Result {
		rs := provider.All(job.Tokens, k, k.String(), err)
		for i := range rs {
			rs[i].RetryAfter = retryAfter
		}
		return rs
	}
}

func testJob(id string, expiry *time.Time, toks ...string) []byte {
	b, _ := json.Marshal(events.Job{ID: id, IntentID: "i-" + id, App: "shop", Platform: events.APNs, Tokens: toks,
		Notification: events.Notification{Title: "t", Expiry: expiry}, CreatedAt: time.Now()})
	return b
}

// storedFeedback returns every event stored in PUSH_FEEDBACK.
func storedFeedback(t *testing.T, js jetstream.JetStream) []events.Feedback {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, events.StreamFeedback)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []events.Feedback
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			continue
		}
		fbs, err := events.DecodeFeedbackEvents(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fbs...)
	}
	return out
}

func outcomes(fbs []events.Feedback) map[events.Outcome]int {
	m := map[events.Outcome]int{}
	for _, f := range fbs {
		m[f.Outcome]++
	}
	return m
}

// retryMsgs is how many messages the platform's retry stream holds.
func retryMsgs(t *testing.T, js jetstream.JetStream, p events.Platform) uint64 {
	t.Helper()
	s, err := js.Stream(context.Background(), events.RetryStream(p))
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// The breaker's probe job expires while it waits for the cool-down: it is
// reported expired, and the breaker must let the next job probe instead of
// staying half-open (every handler waiting until restart).
func TestBreakerProbeJobExpiredDoesNotStick(t *testing.T) {
	p := &scripted{script: []func(*events.Job) []provider.Result{
		answer(provider.Retry, provider.ErrUnavailable, 0),
		answer(provider.Delivered, nil, 0),
	}}
	svc, js := newTestService(t, Config{Platform: events.APNs, BreakerThreshold: 1,
		BreakerMin: 500 * time.Millisecond, BreakerMax: time.Second}, p)
	ctx := context.Background()
	if v := svc.Handle(ctx, jobMsg{data: testJob("down", nil, "aa")}); v.Action != consumer.Retry {
		t.Fatalf("first job: verdict %+v, want retry", v)
	}
	// Expires during the cool-down: it becomes the probe, then finds
	// itself expired and never reaches the provider.
	exp := time.Now().Add(50 * time.Millisecond)
	if v := svc.Handle(ctx, jobMsg{data: testJob("probe", &exp, "bb")}); v.Action != consumer.Ack {
		t.Fatalf("probe job: verdict %+v, want ack", v)
	}
	if n := p.calls.Load(); n != 1 {
		t.Fatalf("provider called %d times, want once (the expired probe must not be sent)", n)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if v := svc.Handle(wctx, jobMsg{data: testJob("next", nil, "cc")}); v.Action != consumer.Ack {
		t.Fatalf("next job: verdict %+v, want ack (the breaker stuck half-open)", v)
	}
	if got := outcomes(storedFeedback(t, js)); got[events.Expired] != 1 || got[events.Delivered] != 1 {
		t.Fatalf("outcomes %v, want 1 expired and 1 delivered", got)
	}
}

// panicky panics on its first call while the breaker is probing.
type panicky struct{ calls atomic.Int32 }

func (p *panicky) Send(_ context.Context, job *events.Job) []provider.Result {
	switch p.calls.Add(1) {
	case 1:
		return provider.All(job.Tokens, provider.Retry, "503", provider.ErrUnavailable)
	case 2:
		panic("provider bug")
	}
	return provider.All(job.Tokens, provider.Delivered, "", nil)
}

// A panic in the probe's Send must not leave the breaker half-open.
func TestBreakerProbePanicDoesNotStick(t *testing.T) {
	p := &panicky{}
	svc, _ := newTestService(t, Config{Platform: events.APNs, BreakerThreshold: 1,
		BreakerMin: 10 * time.Millisecond, BreakerMax: time.Second}, p)
	ctx := context.Background()
	svc.Handle(ctx, jobMsg{data: testJob("down", nil, "aa")})
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the provider's panic did not surface")
			}
		}()
		svc.Handle(ctx, jobMsg{data: testJob("probe", nil, "bb")})
	}()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if v := svc.Handle(wctx, jobMsg{data: testJob("next", nil, "cc")}); v.Action != consumer.Ack {
		t.Fatalf("job after the panic: verdict %+v, want ack (the breaker stuck half-open)", v)
	}
}

// The provider's Expired answer (expiry passed right before the request)
// is a final outcome: expired feedback, counted, acked, never retried.
func TestProviderExpiredIsFinal(t *testing.T) {
	p := &scripted{script: []func(*events.Job) []provider.Result{func(job *events.Job) []provider.Result {
		rs := provider.All(job.Tokens, provider.Delivered, "", nil)
		rs[1] = provider.ExpiredResult(job.Tokens[1], time.Now())
		return rs
	}}}
	svc, js := newTestService(t, Config{Platform: events.APNs}, p)
	if v := svc.Handle(context.Background(), jobMsg{data: testJob("j", nil, "aa", "bb", "cc")}); v.Action != consumer.Ack {
		t.Fatalf("verdict %+v, want ack", v)
	}
	if got := outcomes(storedFeedback(t, js)); got[events.Expired] != 1 || got[events.Delivered] != 2 || len(got) != 2 {
		t.Fatalf("outcomes %v, want 2 delivered and 1 expired", got)
	}
	if n := counterValue(t, svc.m.Notifications.WithLabelValues("apns", "shop", "expired")); n != 1 {
		t.Fatalf("expired counted %v times, want 1", n)
	}
	if n := retryMsgs(t, js, events.APNs); n != 0 {
		t.Fatalf("%d re-queued jobs, want none", n)
	}
}

// Part of a job fails: the failed tokens are re-queued as a schedule in
// PUSH_RETRY_<P>, released on the due subject the sender consumes, and the
// re-queue is counted in pushfleet_retries_total.
func TestRequeueToRetryStream(t *testing.T) {
	p := &scripted{script: []func(*events.Job) []provider.Result{func(job *events.Job) []provider.Result {
		rs := provider.All(job.Tokens, provider.Delivered, "", nil)
		rs[0] = provider.Result{Token: job.Tokens[0], Kind: provider.Retry, Reason: "503", Err: provider.ErrUnavailable}
		return rs
	}}}
	svc, js := newTestService(t, Config{Platform: events.APNs, RetryBase: 50 * time.Millisecond, RetryMax: 100 * time.Millisecond}, p)
	ctx := context.Background()
	if v := svc.Handle(ctx, jobMsg{data: testJob("j", nil, "aa", "bb")}); v.Action != consumer.Ack {
		t.Fatalf("verdict %+v, want ack", v)
	}
	if n := counterValue(t, svc.m.Retries.WithLabelValues("apns", "provider")); n != 1 {
		t.Fatalf("retries_total{stage=apns,reason=provider} = %v, want 1", n)
	}
	stream, err := js.Stream(ctx, events.RetryStream(events.APNs))
	if err != nil {
		t.Fatal(err)
	}
	var due *jetstream.RawStreamMsg
	natstest.Eventually(t, 10*time.Second, func() bool {
		due, err = stream.GetLastMsgForSubject(ctx, events.RetryDueSubject(events.APNs, "shop"))
		return err == nil
	}, "the re-queued job was not released on %s", events.RetryDueSubject(events.APNs, "shop"))
	job, err := events.DecodeJob(due.Data)
	if err != nil {
		t.Fatal(err)
	}
	if len(job.Tokens) != 1 || job.Tokens[0] != "aa" || job.Generation != 1 {
		t.Fatalf("released job %+v, want generation 1 with token aa", job)
	}
	if v := svc.Handle(ctx, jobMsg{data: due.Data}); v.Action != consumer.Retry && v.Action != consumer.Ack {
		t.Fatalf("released job: verdict %+v", v)
	}
}

// A token whose next try would come after its notification's expiry is
// reported expired now rather than scheduled (to vanish or be sent late).
func TestRequeuePastExpiryIsExpired(t *testing.T) {
	p := &scripted{script: []func(*events.Job) []provider.Result{func(job *events.Job) []provider.Result {
		rs := provider.All(job.Tokens, provider.Delivered, "", nil)
		rs[0] = provider.Result{Token: job.Tokens[0], Kind: provider.Retry, Reason: "429", RetryAfter: time.Minute,
			Err: provider.ErrRateLimited}
		rs[1] = provider.Result{Token: job.Tokens[1], Kind: provider.Retry, Reason: "503", RetryAfter: time.Minute,
			Err: provider.ErrUnavailable}
		return rs
	}}}
	svc, js := newTestService(t, Config{Platform: events.APNs}, p)
	exp := time.Now().Add(20 * time.Second)
	if v := svc.Handle(context.Background(), jobMsg{data: testJob("j", &exp, "aa", "bb", "cc")}); v.Action != consumer.Ack {
		t.Fatalf("verdict %+v, want ack", v)
	}
	if n := retryMsgs(t, js, events.APNs); n != 0 {
		t.Fatalf("%d jobs scheduled past the expiry, want none", n)
	}
	got := map[string][]events.Outcome{}
	for _, f := range storedFeedback(t, js) {
		got[f.Token] = append(got[f.Token], f.Outcome)
	}
	for _, tok := range []string{"aa", "bb"} {
		if o := got[tok]; len(o) == 0 || o[len(o)-1] != events.Expired {
			t.Fatalf("token %s: outcomes %v, want to end expired", tok, o)
		}
	}
	// The whole job failing with a wait past the expiry: expired too.
	p.script = []func(*events.Job) []provider.Result{answer(provider.Retry, provider.ErrUnavailable, time.Minute)}
	if v := svc.Handle(context.Background(), jobMsg{data: testJob("k", &exp, "dd")}); v.Action != consumer.Ack {
		t.Fatalf("whole job: verdict %+v, want ack with expired feedback", v)
	}
}

// Tokens the provider held back (a quota hold: ErrNotSent) get no failed
// feedback: no provider answered for them. They are re-queued, without
// spending attempts, and counted as re-queues.
func TestHeldBackTokensReportNothing(t *testing.T) {
	held := fmt.Errorf("%w: %w: project held", provider.ErrRateLimited, provider.ErrNotSent)
	p := &scripted{script: []func(*events.Job) []provider.Result{answer(provider.Retry, held, 2*time.Second)}}
	svc, js := newTestService(t, Config{Platform: events.FCM}, p)
	body, _ := json.Marshal(events.Job{ID: "j", IntentID: "i", App: "shop", Platform: events.FCM, Tokens: []string{"a", "b", "c"},
		Notification: events.Notification{Title: "t"}, CreatedAt: time.Now()})
	if v := svc.Handle(context.Background(), jobMsg{data: body}); v.Action != consumer.Ack {
		t.Fatalf("verdict %+v, want ack (tokens re-queued)", v)
	}
	if fbs := storedFeedback(t, js); len(fbs) != 0 {
		t.Fatalf("%d feedback events (%v) for tokens never sent, want none", len(fbs), outcomes(fbs))
	}
	if n := retryMsgs(t, js, events.FCM); n != 1 {
		t.Fatalf("%d re-queued jobs, want 1", n)
	}
	if n := counterValue(t, svc.m.Retries.WithLabelValues("fcm", "rate_limited")); n != 1 {
		t.Fatalf("retries_total{stage=fcm,reason=rate_limited} = %v, want 1", n)
	}
	if n := counterValue(t, svc.m.Notifications.WithLabelValues("fcm", "shop", "failed")); n != 0 {
		t.Fatalf("failed counted %v times, want 0", n)
	}
}

// App labels go through metrics.Fleet.App: an app outside the known list
// is counted under one fixed label, never a new series.
func TestAppLabelsBounded(t *testing.T) {
	svc, _ := newTestService(t, Config{Platform: events.APNs}, &countingSender{})
	svc.m.SetKnownApps([]string{"known"})
	if v := svc.Handle(context.Background(), jobMsg{data: testJob("j", nil, "aa")}); v.Action != consumer.Ack {
		t.Fatalf("verdict %+v, want ack", v)
	}
	if n := counterValue(t, svc.m.Notifications.WithLabelValues("apns", metrics.AppOther, "delivered")); n != 1 {
		t.Fatalf("delivered{app=%s} = %v, want 1", metrics.AppOther, n)
	}
	if n := seriesCount(svc.m.Notifications); n != 1 {
		t.Fatalf("%d notification series, want 1", n)
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func seriesCount(c prometheus.Collector) int {
	ch := make(chan prometheus.Metric, 64)
	go func() { c.Collect(ch); close(ch) }()
	n := 0
	for range ch {
		n++
	}
	return n
}

// Job ids derive from intent ids, unique only within an app: two apps'
// jobs with the same id and tokens that both fail must both be re-queued.
// The retry's Nats-Msg-Id is "<app>:<id>" like the dispatcher's job ids;
// before, it was the bare id, and the second app's retry was dropped by
// PUSH_RETRY_<P>'s dedup window as a duplicate of the first, its tokens
// left without an outcome.
func TestRequeueIsAppScoped(t *testing.T) {
	// Part of each job fails: its first token is re-queued.
	p := &scripted{script: []func(*events.Job) []provider.Result{func(job *events.Job) []provider.Result {
		rs := provider.All(job.Tokens, provider.Delivered, "", nil)
		rs[0] = provider.Result{Token: job.Tokens[0], Kind: provider.Retry, Reason: "503", Err: provider.ErrUnavailable}
		return rs
	}}}
	svc, js := newTestService(t, Config{Platform: events.APNs, RetryBase: time.Hour, RetryMax: time.Hour}, p)
	ctx := context.Background()
	for _, app := range []string{"shop", "demo"} {
		b, _ := json.Marshal(events.Job{ID: "same.apns.0.1a2b3c4d", IntentID: "same", App: app, Platform: events.APNs,
			Tokens: []string{"aa", "bb"}, Notification: events.Notification{Title: "t"}, CreatedAt: time.Now()})
		if v := svc.Handle(ctx, jobMsg{data: b}); v.Action != consumer.Ack {
			t.Fatalf("%s: verdict %+v, want ack (tokens re-queued)", app, v)
		}
	}
	stream, err := js.Stream(ctx, events.RetryStream(events.APNs))
	if err != nil {
		t.Fatal(err)
	}
	for _, app := range []string{"shop", "demo"} {
		id := events.RetryJobID("same.apns.0.1a2b3c4d", 1)
		m, err := stream.GetLastMsgForSubject(ctx, events.RetrySubject(events.APNs, app, id))
		if err != nil {
			t.Fatalf("%s: no re-queued job on %s (%d in the stream): %v", app, events.RetrySubject(events.APNs, app, id), retryMsgs(t, js, events.APNs), err)
		}
		if got, want := m.Header.Get(jetstream.MsgIDHeader), events.JobMsgID(app, id); got != want || want != app+":"+id {
			t.Errorf("%s: Nats-Msg-Id %q, want %q", app, got, app+":"+id)
		}
		job, err := events.DecodeJob(m.Data)
		if err != nil || job.App != app || job.Generation != 1 || len(job.Tokens) != 1 || job.Tokens[0] != "aa" {
			t.Fatalf("%s: re-queued job %+v, %v", app, job, err)
		}
	}
}

// A job whose last attempt leaves tokens out of attempts and tokens the
// provider refused for good dead-letters both: every dead token has its
// dead letter.
func TestGiveUpKeepsPermanentTokensInTheDeadLetter(t *testing.T) {
	p := &scripted{script: []func(*events.Job) []provider.Result{func(job *events.Job) []provider.Result {
		return []provider.Result{
			{Token: job.Tokens[0], Kind: provider.Retry, Reason: "503", Err: provider.ErrUnavailable},
			{Token: job.Tokens[1], Kind: provider.Permanent, Reason: "PayloadTooLarge"},
			{Token: job.Tokens[2], Kind: provider.Delivered},
		}
	}}}
	svc, _ := newTestService(t, Config{Platform: events.APNs, MaxAttempts: 1}, p)
	v := svc.Handle(context.Background(), jobMsg{data: testJob("j", nil, "aa", "bb", "cc")})
	if v.Action != consumer.Dead {
		t.Fatalf("verdict %+v, want a dead letter", v)
	}
	if !slices.Equal(v.Tokens, []string{"aa", "bb"}) {
		t.Errorf("dead letter tokens %v, want [aa bb]", v.Tokens)
	}
	if !strings.Contains(v.Reason, "PayloadTooLarge") || !strings.Contains(v.Reason, "503") {
		t.Errorf("reason %q names only one cause", v.Reason)
	}
}
