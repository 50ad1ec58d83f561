package confirm

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	dto "github.com/prometheus/client_model/go"

	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// Outcomes go to push.feedback.<platform>.<app>.confirm in the batch form,
// one event per message with a Nats-Msg-Id of its own: the same outcomes
// reported again, later and grouped otherwise (a repeat after a failure, or
// by another replica), are stored once; only a first report is counted.
// Any other outcome is refused, since it would leave the service's one
// feedback subject.
func TestPublishOutcomesBatchedAndDeduplicated(t *testing.T) {
	srv := natstest.RunServer(t)
	_, js := natstest.Connect(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := streams.Provision(ctx, js, streams.Config{}); err != nil {
		t.Fatal(err)
	}
	m := metrics.NewConfirm(metrics.New())
	s, err := New(Config{}, js, nil, nil, m)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	fb := func(p events.Platform, token string, o events.Outcome) events.Feedback {
		return events.Feedback{App: "shop", Platform: p, Token: token, Outcome: o, IntentID: "sale-1", At: at}
	}
	fbs := []events.Feedback{
		fb(events.APNs, "a1", events.Unconfirmed), fb(events.APNs, "a2", events.Unconfirmed),
		fb(events.APNs, "a3", events.Confirmed), fb(events.FCM, "f1", events.Unconfirmed),
	}
	if err := s.publishOutcomes(ctx, true, fbs...); err != nil {
		t.Fatal(err)
	}
	// The repeats, later (another time stamp) and grouped otherwise.
	again := slices.Clone(fbs)
	for i := range again {
		again[i].At = at.Add(time.Minute)
	}
	for _, part := range [][]events.Feedback{again[1:3], again[3:], again[:1], again} {
		if err := s.publishOutcomes(ctx, false, part...); err != nil {
			t.Fatal(err)
		}
	}

	stream, err := js.Stream(ctx, events.StreamFeedback)
	if err != nil {
		t.Fatal(err)
	}
	info, err := stream.Info(ctx, jetstream.WithSubjectFilter(events.FeedbackRoot+".>"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]uint64{
		events.ConfirmFeedbackSubject(events.APNs, "shop"): 3,
		events.ConfirmFeedbackSubject(events.FCM, "shop"):  1,
	}
	if len(info.State.Subjects) != len(want) {
		t.Fatalf("stored on %v, want %v", info.State.Subjects, want)
	}
	for subj, n := range want {
		if got := info.State.Subjects[subj]; got != n {
			t.Errorf("%s: %d messages, want %d", subj, got, n)
		}
	}
	var tokens []string
	for seq := uint64(1); seq <= info.State.LastSeq; seq++ {
		raw, err := stream.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		got, err := events.DecodeFeedbackEvents(raw.Data)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || raw.Header.Get(jetstream.MsgIDHeader) == "" {
			t.Errorf("%s: %d events, Nats-Msg-Id %q: want one event with an id", raw.Subject, len(got), raw.Header.Get(jetstream.MsgIDHeader))
		}
		for _, f := range got {
			tokens = append(tokens, f.Token+"="+string(f.Outcome))
		}
	}
	slices.Sort(tokens)
	if w := []string{"a1=unconfirmed", "a2=unconfirmed", "a3=confirmed", "f1=unconfirmed"}; !slices.Equal(tokens, w) {
		t.Errorf("stored %v, want %v once each", tokens, w)
	}
	for o, n := range map[events.Outcome]float64{events.Unconfirmed: 3, events.Confirmed: 1} {
		var c dto.Metric
		if err := m.Outcomes.WithLabelValues("shop", string(o)).Write(&c); err != nil {
			t.Fatal(err)
		}
		if got := c.GetCounter().GetValue(); got != n {
			t.Errorf("pushfleet_confirmations_total{outcome=%q} = %v, want %v (first reports only)", o, got, n)
		}
	}

	if err := s.publishOutcomes(ctx, true, fb(events.APNs, "a4", events.Delivered)); !errors.Is(err, errNotConfirmOutcome) {
		t.Errorf("publishing a delivered outcome: %v, want errNotConfirmOutcome", err)
	}
}
