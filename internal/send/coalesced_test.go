package send

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

// byIntent records each call's intent and tokens, and answers Retry for
// token "bb" and Delivered for the rest.
type byIntent struct {
	mu    sync.Mutex
	calls map[string][]string
}

func (p *byIntent) Send(_ context.Context, job *events.Job) []provider.Result {
	p.mu.Lock()
	p.calls[job.IntentID] = append(p.calls[job.IntentID], job.Tokens...)
	p.mu.Unlock()
	rs := provider.All(job.Tokens, provider.Delivered, "", nil)
	for i, t := range job.Tokens {
		if t == "bb" {
			rs[i] = provider.Result{Token: t, Kind: provider.Retry, Reason: "503", Err: provider.ErrUnavailable}
		}
	}
	return rs
}

// A coalesced job is sent notification by notification, each as its own
// provider call; each token's feedback names its own intent; a notification
// that has expired is reported expired without a request; and a failed
// token is re-queued with its own notification only.
func TestCoalescedJobSettlesEachTokenUnderItsIntent(t *testing.T) {
	p := &byIntent{calls: map[string][]string{}}
	svc, js := newTestService(t, Config{Platform: events.APNs}, p)
	past, created := time.Now().Add(-time.Second), time.Now()
	job := events.Job{ID: "c-1", App: "shop", Platform: events.APNs,
		Tokens: []string{"aa", "bb", "aa", "cc"}, Of: []int{0, 0, 1, 2},
		Parts: []events.Part{
			{IntentID: "i1", Notification: events.Notification{Title: "one"}, CreatedAt: created},
			{IntentID: "i2", Notification: events.Notification{Title: "two", Expiry: &past}, CreatedAt: created},
			{IntentID: "i3", Notification: events.Notification{Title: "three"}, CreatedAt: created},
		}}
	data, err := json.Marshal(&job)
	if err != nil {
		t.Fatal(err)
	}
	if v := svc.Handle(context.Background(), jobMsg{data: data}); v.Action != consumer.Ack {
		t.Fatalf("verdict %+v, want ack", v)
	}
	if want := map[string][]string{"i1": {"aa", "bb"}, "i3": {"cc"}}; !reflect.DeepEqual(p.calls, want) {
		t.Fatalf("provider calls %v, want %v (the expired i2 never sent)", p.calls, want)
	}

	var got []string
	for _, f := range storedEvents(t, js) {
		got = append(got, f.IntentID+"/"+f.Token+"/"+string(f.Outcome))
		if f.JobID != "c-1" {
			t.Errorf("event %+v: job id %q, want c-1", f, f.JobID)
		}
	}
	slices.Sort(got)
	want := []string{"i1/aa/delivered", "i1/bb/failed", "i2/aa/expired", "i3/cc/delivered"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("feedback %v, want %v", got, want)
	}

	retried := storedJobs(t, js, events.RetryStream(events.APNs))
	if len(retried) != 1 {
		t.Fatalf("%d re-queued jobs, want 1", len(retried))
	}
	r := retried[0]
	if r.Coalesced() || r.IntentID != "i1" || r.Notification.Title != "one" || !reflect.DeepEqual(r.Tokens, []string{"bb"}) ||
		r.ID != events.RetryJobID("c-1", 1) {
		t.Fatalf("re-queued job %+v: want i1's notification for bb alone", r)
	}
}

// storedEvents returns the per-token events of every PUSH_FEEDBACK message.
func storedEvents(t *testing.T, js jetstream.JetStream) []events.Feedback {
	t.Helper()
	var out []events.Feedback
	for _, data := range storedData(t, js, events.StreamFeedback) {
		fbs, err := events.DecodeFeedbackEvents(data)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fbs...)
	}
	return out
}

// storedJobs decodes every message of stream as a job.
func storedJobs(t *testing.T, js jetstream.JetStream, stream string) []*events.Job {
	t.Helper()
	var out []*events.Job
	for _, data := range storedData(t, js, stream) {
		j, err := events.DecodeJob(data)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, j)
	}
	return out
}

func storedData(t *testing.T, js jetstream.JetStream, stream string) [][]byte {
	t.Helper()
	ctx := context.Background()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		if m, err := s.GetMsg(ctx, seq); err == nil {
			out = append(out, m.Data)
		}
	}
	return out
}

// Every token of a coalesced job is to be retried, but one notification
// expires before the next try: it is reported expired now, and only the
// other's token is re-queued (the whole message is not redelivered, which
// would report the first expired only later).
func TestCoalescedRetryExpiresEachNotificationOnItsOwn(t *testing.T) {
	p := &scripted{script: []func(*events.Job) []provider.Result{answer(provider.Retry, provider.ErrUnavailable, 5*time.Second)}}
	svc, js := newTestService(t, Config{Platform: events.APNs}, p)
	soon, later, now := time.Now().Add(2*time.Second), time.Now().Add(time.Hour), time.Now()
	job := events.Job{ID: "c-2", App: "shop", Platform: events.APNs, Tokens: []string{"aa", "bb"}, Of: []int{0, 1},
		Parts: []events.Part{
			{IntentID: "soon", Notification: events.Notification{Title: "s", Expiry: &soon}, CreatedAt: now},
			{IntentID: "later", Notification: events.Notification{Title: "l", Expiry: &later}, CreatedAt: now},
		}}
	data, err := json.Marshal(&job)
	if err != nil {
		t.Fatal(err)
	}
	if v := svc.Handle(context.Background(), jobMsg{data: data}); v.Action != consumer.Ack {
		t.Fatalf("verdict %+v, want ack (expired reported, the rest re-queued)", v)
	}
	var got []string
	for _, f := range storedEvents(t, js) {
		got = append(got, f.IntentID+"/"+string(f.Outcome))
	}
	slices.Sort(got)
	if want := []string{"later/failed", "soon/expired", "soon/failed"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("feedback %v, want %v", got, want)
	}
	retried := storedJobs(t, js, events.RetryStream(events.APNs))
	if len(retried) != 1 || retried[0].IntentID != "later" || !reflect.DeepEqual(retried[0].Tokens, []string{"bb"}) {
		t.Fatalf("re-queued %+v, want later's bb alone", retried)
	}
}
