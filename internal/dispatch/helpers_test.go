package dispatch_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	dto "github.com/prometheus/client_model/go"

	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/internal/dispatch"
	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// harness is an in-process server with pushfleet's streams and buckets,
// and the dispatcher's metrics.
type harness struct {
	ctx context.Context
	js  jetstream.JetStream
	ids jetstream.KeyValue
	m   *metrics.Fleet
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	_, js := natstest.Connect(t, natstest.RunServer(t))
	if err := streams.Provision(ctx, js, streams.Config{}); err != nil {
		t.Fatal(err)
	}
	ids, err := js.KeyValue(ctx, events.IntentIDsBucket)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{ctx: ctx, js: js, ids: ids, m: metrics.New()}
}

// dispatcher is a dispatcher as the fleet builds it: dedup through
// push_intent_ids (a restart is a new one over the same server).
func (h *harness) dispatcher(t *testing.T, cfg dispatch.Config, aud dispatch.Audience) *dispatch.Dispatcher {
	t.Helper()
	cfg.IDs = h.ids
	d, err := dispatch.New(cfg, h.js, h.m, aud, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// publish stores in on push.intents.<subjectApp> as any producer could,
// with no message id (so only the dispatcher can tell a repeat).
func (h *harness) publish(t *testing.T, subjectApp string, in any) {
	t.Helper()
	body, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	h.publishRaw(t, events.IntentSubject(subjectApp), body)
}

func (h *harness) publishRaw(t *testing.T, subject string, body []byte) {
	t.Helper()
	if _, err := h.js.PublishMsg(h.ctx, &nats.Msg{Subject: subject, Data: body}); err != nil {
		t.Fatal(err)
	}
}

// handleNext hands the next intent to d as the fleet's runner would (the
// intents consumer, or with due the schedules' one) and settles it.
func (h *harness) handleNext(t *testing.T, d *dispatch.Dispatcher, due bool, wait time.Duration) consumer.Verdict {
	t.Helper()
	stream, filter := events.StreamIntents, events.IntentsRoot+".>"
	if due {
		stream, filter = events.StreamSchedules, events.DueRoot+".>"
	}
	cfg := jetstreamConsumer()
	cfg.FilterSubject = filter
	cons, err := h.js.CreateOrUpdateConsumer(h.ctx, stream, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(h.ctx, wait)
	defer cancel()
	msg, err := cons.Next(jetstream.FetchContext(ctx))
	if err != nil {
		t.Fatalf("no message on %s in %v: %v", filter, wait, err)
	}
	v := d.Handle(h.ctx, msg)
	switch v.Action {
	case consumer.Ack:
		err = msg.DoubleAck(h.ctx)
	case consumer.Dead:
		err = msg.Term()
	default:
		err = msg.Nak()
	}
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func jetstreamConsumer() jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{Durable: events.DurableDispatcher, FilterSubject: events.IntentsRoot + ".>",
		AckPolicy: jetstream.AckExplicitPolicy}
}

// stored returns the messages stream holds on subject.
func (h *harness) stored(t *testing.T, stream, subject string) []*jetstream.RawStreamMsg {
	t.Helper()
	s, err := h.js.Stream(h.ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(h.ctx, jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatal(err)
	}
	var out []*jetstream.RawStreamMsg
	for seq := info.State.FirstSeq; info.State.Msgs > 0 && seq <= info.State.LastSeq; seq++ {
		m, err := s.GetMsg(h.ctx, seq)
		if err != nil {
			continue // deleted (acknowledged work)
		}
		if subject == "" || subjectMatches(subject, m.Subject) {
			out = append(out, m)
		}
	}
	return out
}

// subjectMatches is NATS matching for the filters the tests use.
func subjectMatches(filter, subject string) bool {
	if len(filter) > 1 && filter[len(filter)-1] == '>' {
		p := filter[:len(filter)-1]
		return len(subject) > len(p) && subject[:len(p)] == p
	}
	return filter == subject
}

func feedbackOn(t *testing.T, h *harness) []events.Feedback {
	t.Helper()
	var out []events.Feedback
	for _, m := range h.stored(t, events.StreamFeedback, events.FeedbackRoot+".>") {
		fbs, err := events.DecodeFeedbackEvents(m.Data)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fbs...)
	}
	return out
}

// count reads pushfleet_intents_total{app,result}.
func (h *harness) count(app, result string) float64 {
	var m dto.Metric
	if err := h.m.Intents.WithLabelValues(app, result).Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

// staticAudience resolves every alias or tag to its targets.
type staticAudience []events.Target

func (a staticAudience) Resolve(_ context.Context, _ string, _ events.Targets, _ int, fn func([]events.Target) error) error {
	return fn(a)
}

func tokens(p events.Platform, toks ...string) []events.Target {
	out := make([]events.Target, len(toks))
	for i, tok := range toks {
		out[i] = events.Target{Platform: p, Token: tok}
	}
	return out
}

func intent(id, app string, ts ...events.Target) *events.Intent {
	in := &events.Intent{ID: id, App: app, Notification: events.Notification{Title: "t", Body: "b"}}
	if len(ts) > 0 {
		in.Targets.Tokens = ts
	} else {
		in.Targets.Alias = "user-1"
	}
	return in
}
