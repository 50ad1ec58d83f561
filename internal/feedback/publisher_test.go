package feedback_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/feedback"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// stored is one message of PUSH_FEEDBACK, decoded.
type stored struct {
	subject, msgID string
	size           int
	events         []events.Feedback
}

func setup(t *testing.T) (jetstream.JetStream, *feedback.Publisher) {
	t.Helper()
	_, js := natstest.Connect(t, natstest.RunServer(t))
	if err := streams.Provision(context.Background(), js, streams.Config{Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	return js, feedback.NewPublisher(js)
}

// storedMessages reads every message of PUSH_FEEDBACK, each decoded as a
// reader does (events.DecodeFeedbackEvents).
func storedMessages(t *testing.T, js jetstream.JetStream) []stored {
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
	var out []stored
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		fbs, err := events.DecodeFeedbackEvents(m.Data)
		if err != nil {
			t.Fatalf("seq %d: %v", seq, err)
		}
		for i := range fbs {
			if err := fbs[i].CheckSubject(m.Subject); err != nil {
				t.Fatalf("seq %d event %d: %v", seq, i, err)
			}
		}
		out = append(out, stored{m.Subject, m.Header.Get(jetstream.MsgIDHeader), len(m.Data), fbs})
	}
	return out
}

// tally counts stored events per token and outcome.
func tally(msgs []stored) map[string]int {
	n := map[string]int{}
	for _, m := range msgs {
		for _, f := range m.events {
			n[f.App+"/"+string(f.Platform)+"/"+f.Token+"/"+string(f.Outcome)]++
		}
	}
	return n
}

// A job redelivered after its feedback was stored publishes the same final
// outcomes again, maybe in another order: subscribers must see each once,
// and every failed attempt.
func TestRepublishedFinalOutcomesAreStoredOnce(t *testing.T) {
	t.Parallel()
	js, p := setup(t)
	ctx := context.Background()
	at := time.Now().UTC()
	ev := func(token string, o events.Outcome) events.Feedback {
		return events.Feedback{App: "demo", Platform: events.APNs, Token: token, Outcome: o,
			IntentID: "i1", JobID: "j1", At: at}
	}
	batch := []events.Feedback{ev("aa", events.Delivered), ev("bb", events.InvalidToken), ev("cc", events.Failed)}
	if err := p.Publish(ctx, batch); err != nil {
		t.Fatal(err)
	}
	again := slices.Clone(batch)
	slices.Reverse(again)
	if err := p.Publish(ctx, again); err != nil {
		t.Fatal(err)
	}
	msgs := storedMessages(t, js)
	// One message of final outcomes, stored once; one of failed per publish.
	if len(msgs) != 3 {
		t.Fatalf("PUSH_FEEDBACK holds %d messages, want 3: %+v", len(msgs), msgs)
	}
	want := map[string]int{"demo/apns/aa/delivered": 1, "demo/apns/bb/invalid_token": 1, "demo/apns/cc/failed": 2}
	if got := tally(msgs); !maps.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	for _, m := range msgs {
		if final := m.events[0].Outcome != events.Failed; final != strings.HasPrefix(m.msgID, "fb:demo:") {
			t.Errorf("message of %s has Nats-Msg-Id %q", m.events[0].Outcome, m.msgID)
		}
	}
}

// One Publish is one message per platform, app, subject and finality:
// confirmations on the confirmation service's subject, failed events
// apart from final ones, each message's events in their order.
func TestPublishGroupsEvents(t *testing.T) {
	t.Parallel()
	js, p := setup(t)
	at := time.Now().UTC()
	ev := func(app string, pl events.Platform, token string, o events.Outcome) events.Feedback {
		return events.Feedback{App: app, Platform: pl, Token: token, Outcome: o, IntentID: "i", At: at}
	}
	fbs := []events.Feedback{
		ev("shop", events.APNs, "a1", events.Delivered),
		ev("shop", events.FCM, "f1", events.Delivered),
		ev("shop", events.APNs, "a2", events.Failed),
		ev("shop", events.APNs, "a3", events.Confirmed),
		ev("demo", events.APNs, "d1", events.Delivered),
		ev("shop", events.APNs, "a4", events.InvalidToken),
		ev("shop", events.APNs, "a5", events.Unconfirmed),
		ev("shop", events.APNs, "a6", events.Failed),
	}
	if err := p.Publish(context.Background(), fbs); err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, m := range storedMessages(t, js) {
		key := m.subject
		if m.msgID == "" {
			key += " (no id)"
		}
		if _, dup := got[key]; dup {
			t.Errorf("two messages for %s", key)
		}
		for _, f := range m.events {
			got[key] = append(got[key], f.Token)
		}
	}
	want := map[string][]string{
		"push.feedback.apns.shop":         {"a1", "a4"},
		"push.feedback.apns.shop (no id)": {"a2", "a6"},
		"push.feedback.apns.shop.confirm": {"a3", "a5"},
		"push.feedback.fcm.shop":          {"f1"},
		"push.feedback.apns.demo":         {"d1"},
	}
	if len(got) != len(want) {
		t.Fatalf("messages %v, want %v", got, want)
	}
	for k, w := range want {
		if !slices.Equal(got[k], w) {
			t.Errorf("%s: %v, want %v", k, got[k], w)
		}
	}
	if fbs[0].Token != "a1" || fbs[7].Token != "a6" {
		t.Error("Publish reordered its caller's events")
	}
}

// A group larger than one message splits at MaxBatchEvents and
// MaxBatchBytes, and splits the same way in any order: published again,
// shuffled, nothing new is stored.
func TestPublishSplitsLargeGroupsTheSameWay(t *testing.T) {
	t.Parallel()
	js, p := setup(t)
	at := time.Now().UTC()
	var fbs []events.Feedback
	for i := range 2500 {
		fbs = append(fbs, events.Feedback{App: "shop", Platform: events.FCM, Token: fmt.Sprintf("t:%d", i),
			Outcome: events.Delivered, IntentID: "i", JobID: "j", At: at})
	}
	// 300 events whose reasons (escaped, 6 bytes a byte) weigh far more
	// than the estimate: the byte bound holds all the same.
	for i := range 300 {
		fbs = append(fbs, events.Feedback{App: "shop", Platform: events.FCM, Token: fmt.Sprintf("big:%d", i),
			Outcome: events.Dead, Reason: strings.Repeat("\x01", 1000), At: at})
	}
	ctx := context.Background()
	if err := p.Publish(ctx, fbs); err != nil {
		t.Fatal(err)
	}
	shuffled := slices.Clone(fbs)
	for i := range shuffled { // a fixed permutation
		j := (i * 7919) % len(shuffled)
		shuffled[i], shuffled[j] = shuffled[j], shuffled[i]
	}
	if err := p.Publish(ctx, shuffled); err != nil {
		t.Fatal(err)
	}
	msgs := storedMessages(t, js)
	total := 0
	for _, m := range msgs {
		if len(m.events) > feedback.MaxBatchEvents || m.size > feedback.MaxBatchBytes {
			t.Errorf("message of %d events, %d bytes", len(m.events), m.size)
		}
		total += len(m.events)
	}
	if total != len(fbs) || len(msgs) < 5 {
		t.Fatalf("%d events in %d messages, want each of %d once", total, len(msgs), len(fbs))
	}
	for k, n := range tally(msgs) {
		if n != 1 {
			t.Fatalf("%s stored %d times", k, n)
		}
	}
}

// A batch's id depends on its events, not their order, and stays within
// its app.
func TestBatchMsgID(t *testing.T) {
	ev := func(app, token string) events.Feedback {
		return events.Feedback{App: app, Platform: events.APNs, Token: token, Outcome: events.Delivered, IntentID: "i", JobID: "j"}
	}
	a, b := ev("shop", "aa"), ev("shop", "bb")
	id := feedback.BatchMsgID([]events.Feedback{a, b})
	if !strings.HasPrefix(id, "fb:shop:") || len(id) != len("fb:shop:")+32 {
		t.Fatalf("id %q", id)
	}
	if feedback.BatchMsgID([]events.Feedback{b, a}) != id {
		t.Error("the id depends on the events' order")
	}
	other := b
	other.Outcome = events.Expired
	for name, fbs := range map[string][]events.Feedback{
		"one event":     {a},
		"another event": {a, other},
		"another app":   {ev("demo", "aa"), ev("demo", "bb")},
	} {
		if feedback.BatchMsgID(fbs) == id {
			t.Errorf("%s: same id", name)
		}
	}
	if x, y := feedback.MsgID(&a), feedback.MsgID(&b); x == y || !strings.HasPrefix(x, "fb-") {
		t.Errorf("event ids %q and %q", x, y)
	}
}

// On a server whose max_payload is below MaxBatchBytes, messages are cut
// to fit it instead of being refused.
func TestPublishFitsALowMaxPayload(t *testing.T) {
	t.Parallel()
	opts := natstest.Options(t.TempDir())
	opts.MaxPayload = 64 << 10
	_, js := natstest.Connect(t, natstest.RunServerWithOptions(t, &opts))
	ctx := context.Background()
	if err := streams.Provision(ctx, js, streams.Config{Storage: jetstream.MemoryStorage}); err != nil {
		t.Fatal(err)
	}
	var fbs []events.Feedback
	for i := range 1000 { // ~250 KB of events
		fbs = append(fbs, events.Feedback{App: "shop", Platform: events.Mi, Token: fmt.Sprintf("%04d%s", i, strings.Repeat("r", 96)),
			Outcome: events.Dead, Reason: "given up", IntentID: "big", At: time.Now().UTC()})
	}
	if err := feedback.NewPublisher(js).Publish(ctx, fbs); err != nil {
		t.Fatal(err)
	}
	msgs := storedMessages(t, js)
	total := 0
	for _, m := range msgs {
		if m.size > 64<<10 {
			t.Errorf("message of %d bytes", m.size)
		}
		total += len(m.events)
	}
	if total != len(fbs) || len(msgs) < 4 {
		t.Fatalf("%d events in %d messages, want %d in at least 4", total, len(msgs), len(fbs))
	}
}
