package send

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	dto "github.com/prometheus/client_model/go"

	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// A work queue forgets a consumed job's Nats-Msg-Id when its server
// restarts (it rebuilds its duplicate window from the messages still
// stored), so a dispatcher retrying after a lost acknowledgement stores
// the job again. The sender's record of the jobs it took keeps it from
// sending that job twice; a redelivery of the same message still goes on.
func TestAJobStoredAgainAfterARestartIsNotSentTwice(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := natstest.StartServer(t)
	connect := func() jetstream.JetStream {
		nc, err := nats.Connect(srv.URL())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		return js
	}
	js := connect()
	if err := streams.Provision(ctx, js, streams.Config{}); err != nil {
		t.Fatal(err)
	}
	job := events.Job{ID: "i1.apns.0.abcd", IntentID: "i1", App: "shop", Platform: events.APNs, Tokens: []string{"aa"},
		Notification: events.Notification{Title: "t"}}
	body, err := json.Marshal(&job)
	if err != nil {
		t.Fatal(err)
	}
	publish := func(js jetstream.JetStream) *jetstream.PubAck {
		ack, err := js.PublishMsg(ctx, &nats.Msg{Subject: events.SendSubject(events.APNs, "shop"), Data: body},
			jetstream.WithMsgID(events.JobMsgID("shop", job.ID)))
		if err != nil {
			t.Fatal(err)
		}
		return ack
	}
	next := func(js jetstream.JetStream) jetstream.Msg {
		c, err := js.CreateOrUpdateConsumer(ctx, events.SendStream(events.APNs), jetstream.ConsumerConfig{
			Durable: events.SenderDurable(events.APNs), AckPolicy: jetstream.AckExplicitPolicy})
		if err != nil {
			t.Fatal(err)
		}
		msg, err := c.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	handle := func(js jetstream.JetStream, p *countingSender, msg jetstream.Msg) (*Service, consumer.Verdict) {
		kv, err := js.KeyValue(ctx, events.JobIDsBucket)
		if err != nil {
			t.Fatal(err)
		}
		svc, err := New(Config{Platform: events.APNs, IDs: kv}, p, js, metrics.New())
		if err != nil {
			t.Fatal(err)
		}
		return svc, svc.Handle(ctx, msg)
	}

	publish(js)
	p := &countingSender{}
	first := next(js)
	if _, v := handle(js, p, first); v.Action != consumer.Ack || p.calls.Load() != 1 {
		t.Fatalf("first delivery: verdict %+v, %d calls", v, p.calls.Load())
	}
	// The same message delivered again (its ack was lost): sent again.
	if _, v := handle(js, p, first); v.Action != consumer.Ack || p.calls.Load() != 2 {
		t.Fatalf("redelivery: verdict %+v, %d calls, want it sent", v, p.calls.Load())
	}
	if err := first.DoubleAck(ctx); err != nil {
		t.Fatal(err)
	}

	srv.Shutdown()
	srv.Restart(t)
	js = connect()
	if ack := publish(js); ack.Duplicate {
		t.Fatal("the restarted server remembered the consumed job's id: nothing to guard against")
	}
	p = &countingSender{}
	svc, v := handle(js, p, next(js))
	if v.Action != consumer.Ack || p.calls.Load() != 0 {
		t.Fatalf("the job stored again: verdict %+v, %d provider calls, want it dropped unsent", v, p.calls.Load())
	}
	var pb dto.Metric
	if err := svc.m.DuplicateJobs.WithLabelValues("apns").Write(&pb); err != nil || pb.GetCounter().GetValue() != 1 {
		t.Fatalf("duplicate jobs counted %v (%v), want 1", pb.GetCounter().GetValue(), err)
	}
}
