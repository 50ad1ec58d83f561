package securitytest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/sandbox/sandboxtest"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/internal/tokens"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// The shipped configuration runs the whole fleet: the admin provisions, each
// service runs as its own user with --provision=false and delivers end to
// end, and no service is ever refused anything on the way (the server logs
// no permissions violation). No password and no provider credential shows
// up in the services' logs, even at debug level.
func TestLeastPrivilegeFleetDeliversEndToEnd(t *testing.T) {
	as := startAuthServer(t, nil)
	admin := as.connect(t, "admin")
	provisionAsAdmin(t, admin.js)
	fakes := sandboxtest.Start(t)
	fr := startFleet(t, as.url(), fakes, func(service string) map[string]string {
		return map[string]string{"PUSHFLEET_NATS_USER": service, "PUSHFLEET_NATS_PASSWORD": as.passwords[service]}
	})
	waitBound(t, fr, admin.js)
	producer := as.connect(t, "producer")
	used := deliverEverywhere(t, producer.js, admin.js, as.connect(t, "registry-demo").nc, fakes, fr)
	t.Run("an intent for demo published on push.intents.other is dead-lettered, not sent", func(t *testing.T) {
		used = append(used, forgedAppDeadLettered(t, producer.js, admin.js, fakes, fr))
	})

	time.Sleep(300 * time.Millisecond) // let late violations reach the log
	if v := as.log.violations(); len(v) > 0 {
		t.Errorf("the fleet needed permissions it does not have:\n%s", strings.Join(v, "\n"))
	}
	logs := fr.allLogs()
	for _, u := range services {
		if strings.Contains(logs, as.passwords[u]) {
			t.Errorf("%s's NATS password appears in the logs", u)
		}
	}
	for i, s := range fakes.Secrets() {
		if strings.Contains(logs, s) {
			t.Errorf("provider secret %d appears in the logs", i)
		}
	}
	// Logs name a device token by its short hash only, whatever the path
	// it took (delivered, invalid, suppressed, re-queued, dead-lettered).
	for _, tg := range used {
		if strings.Contains(logs, tg.Token) {
			t.Errorf("a full %s device token (%s) appears in the logs", tg.Platform, tokens.Short(tg.Token))
		}
	}
}

// Each service's user may touch only its own subjects, stream and consumer;
// the producer only publishes intents.
func TestServiceUsersAreConfined(t *testing.T) {
	as := startAuthServer(t, nil)
	admin := as.connect(t, "admin")
	provisionAsAdmin(t, admin.js)
	ctx := context.Background()
	// The FCM sender's consumer exists and holds a job, as in production.
	if _, err := admin.js.CreateOrUpdateConsumer(ctx, events.SendStream(events.FCM), jetstream.ConsumerConfig{
		Durable: "gcm-sender", AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.js.Publish(ctx, events.SendSubject(events.FCM, "demo"), []byte(`{"id":"j1"}`)); err != nil {
		t.Fatal(err)
	}
	fcmStream, fcmDurable := events.SendStream(events.FCM), events.SenderDurable(events.FCM)
	api := func(format string, a ...any) string { return "$JS.API." + fmt.Sprintf(format, a...) }
	request := func(c *client, subj, body string) func(ctx context.Context) error {
		return func(ctx context.Context) error {
			_, err := c.nc.RequestWithContext(ctx, subj, []byte(body))
			return err
		}
	}

	t.Run("apns-sender", func(t *testing.T) {
		apns := as.connect(t, "apns-sender")
		// Its own consumer: allowed.
		if _, err := apns.js.CreateOrUpdateConsumer(ctx, events.SendStream(events.APNs), jetstream.ConsumerConfig{
			Durable: "apns-sender", AckPolicy: jetstream.AckExplicitPolicy, FilterSubjects: []string{"push.send.apns.*"}}); err != nil {
			t.Fatalf("apns-sender binds its own consumer: %v", err)
		}
		if _, err := apns.js.Publish(ctx, events.FeedbackSubject(events.APNs, "demo"), []byte(`{}`)); err != nil {
			t.Fatalf("apns-sender publishes APNs feedback: %v", err)
		}
		apns.denied(t, "push.intents.x", func(ctx context.Context) error {
			_, err := apns.js.Publish(ctx, "push.intents.x", []byte(`{}`))
			return err
		})
		apns.denied(t, api("CONSUMER.CREATE.%s.%s", fcmStream, fcmDurable), func(ctx context.Context) error {
			_, err := apns.js.CreateOrUpdateConsumer(ctx, fcmStream, jetstream.ConsumerConfig{Durable: fcmDurable, AckPolicy: jetstream.AckExplicitPolicy})
			return err
		})
		apns.denied(t, api("CONSUMER.INFO.%s.%s", fcmStream, fcmDurable), func(ctx context.Context) error {
			_, err := apns.js.Consumer(ctx, fcmStream, fcmDurable)
			return err
		})
		apns.denied(t, api("CONSUMER.MSG.NEXT.%s.%s", fcmStream, fcmDurable), request(apns, api("CONSUMER.MSG.NEXT.%s.%s", fcmStream, fcmDurable), `{"batch":1}`))
		apns.denied(t, api("STREAM.INFO.%s", fcmStream), func(ctx context.Context) error {
			_, err := apns.js.Stream(ctx, fcmStream)
			return err
		})
		apns.denied(t, api("STREAM.MSG.GET.%s", fcmStream), request(apns, api("STREAM.MSG.GET.%s", fcmStream), `{"seq":1}`))
		apns.denied(t, api("DIRECT.GET.%s", fcmStream), request(apns, api("DIRECT.GET.%s", fcmStream), `{"seq":1}`))
		apns.denied(t, api("CONSUMER.CREATE.%s.>", fcmStream), func(ctx context.Context) error { // ephemeral reader
			_, err := apns.js.OrderedConsumer(ctx, fcmStream, jetstream.OrderedConsumerConfig{})
			if err == nil {
				err = errors.New("ordered consumer created")
			}
			return err
		})
		apns.deniedSub(t, "push.send.fcm.>")
		apns.denied(t, "push.send.fcm.demo", func(ctx context.Context) error {
			_, err := apns.js.Publish(ctx, "push.send.fcm.demo", []byte(`{}`))
			return err
		})
		apns.denied(t, "push.feedback.fcm.demo", func(ctx context.Context) error {
			_, err := apns.js.Publish(ctx, "push.feedback.fcm.demo", []byte(`{}`))
			return err
		})
		apns.denied(t, "$KV.push_tokens.demo.apns.tx", func(ctx context.Context) error {
			_, err := apns.js.Publish(ctx, "$KV.push_tokens.demo.apns.tx", []byte(`{}`))
			return err
		})
		// Provisioning is the admin's: a service that tries it is refused
		// (its first step, reading the stream, already), and so is updating
		// a stream directly (turning roll-ups back on, say).
		apns.denied(t, api("STREAM.INFO.%s", events.StreamIntents), func(ctx context.Context) error {
			return streams.Provision(ctx, apns.js, streams.Config{})
		})
		apns.denied(t, api("STREAM.UPDATE.%s", events.StreamIntents), request(apns, api("STREAM.UPDATE.%s", events.StreamIntents),
			`{"name":"PUSH_INTENTS","subjects":["push.intents.>"],"allow_rollup_hdrs":true}`))
	})

	t.Run("producer", func(t *testing.T) {
		prod := as.connect(t, "producer")
		if _, err := events.NewPublisher(prod.js).Publish(ctx, &events.Intent{ID: "p-1", App: "demo",
			Targets:      events.Targets{Tokens: []events.Target{{Platform: events.APNs, Token: "abcd"}}},
			Notification: events.Notification{Title: "hi"}}); err != nil {
			t.Fatalf("producer publishes an intent: %v", err)
		}
		prod.denied(t, api("CONSUMER.INFO.%s.%s", fcmStream, fcmDurable), func(ctx context.Context) error {
			_, err := prod.js.Consumer(ctx, fcmStream, fcmDurable)
			return err
		})
		prod.denied(t, api("CONSUMER.MSG.NEXT.%s.%s", fcmStream, fcmDurable), request(prod, api("CONSUMER.MSG.NEXT.%s.%s", fcmStream, fcmDurable), `{"batch":1}`))
		prod.denied(t, api("CONSUMER.CREATE.%s.>", events.StreamIntents), func(ctx context.Context) error {
			_, err := prod.js.OrderedConsumer(ctx, events.StreamIntents, jetstream.OrderedConsumerConfig{})
			if err == nil {
				err = errors.New("ordered consumer created")
			}
			return err
		})
		prod.deniedSub(t, "push.send.>")
		prod.deniedSub(t, "push.intents.>")
		prod.denied(t, "push.send.apns.demo", func(ctx context.Context) error {
			_, err := prod.js.Publish(ctx, "push.send.apns.demo", []byte(`{}`))
			return err
		})
		prod.denied(t, "push.feedback.apns.demo", func(ctx context.Context) error {
			_, err := prod.js.Publish(ctx, "push.feedback.apns.demo", []byte(`{}`))
			return err
		})
		prod.denied(t, api("STREAM.MSG.DELETE.%s", events.StreamIntents), request(prod, api("STREAM.MSG.DELETE.%s", events.StreamIntents), `{"seq":1}`))
	})

	t.Run("dispatcher", func(t *testing.T) {
		d := as.connect(t, "dispatcher")
		// Watches and scans the registry (its cache, alias and tag
		// targets); never gets single keys, never writes.
		kv, err := d.js.KeyValue(ctx, events.TokensBucket)
		if err != nil {
			t.Fatalf("dispatcher opens the token bucket: %v", err)
		}
		w, err := kv.WatchAll(ctx)
		if err != nil {
			t.Fatalf("dispatcher watches the token bucket: %v", err)
		}
		select {
		case e := <-w.Updates():
			if e != nil {
				t.Fatalf("empty bucket, got %v", e.Key())
			}
		case <-time.After(5 * time.Second):
			t.Fatal("dispatcher's watch of the token bucket got no initial marker")
		}
		_ = w.Stop()
		d.denied(t, "$JS.API.DIRECT.GET.KV_push_tokens.>", func(ctx context.Context) error {
			_, err := kv.Get(ctx, "demo.apns.tnone")
			return err
		})
		d.denied(t, "$KV.push_tokens.demo.apns.tx", func(ctx context.Context) error {
			_, err := kv.Put(ctx, "demo.apns.tx", []byte(`{}`))
			return err
		})
		retry := events.RetrySubject(events.APNs, "demo", "x")
		d.denied(t, retry, func(ctx context.Context) error {
			_, err := d.js.Publish(ctx, retry, []byte(`{}`))
			return err
		})
		d.denied(t, api("CONSUMER.INFO.%s.%s", fcmStream, fcmDurable), func(ctx context.Context) error {
			_, err := d.js.Consumer(ctx, fcmStream, fcmDurable)
			return err
		})
	})

	t.Run("feedback-sink", func(t *testing.T) {
		s := as.connect(t, "feedback-sink")
		s.denied(t, "push.intents.demo", func(ctx context.Context) error {
			_, err := s.js.Publish(ctx, "push.intents.demo", []byte(`{}`))
			return err
		})
		s.denied(t, api("CONSUMER.INFO.%s.%s", fcmStream, fcmDurable), func(ctx context.Context) error {
			_, err := s.js.Consumer(ctx, fcmStream, fcmDurable)
			return err
		})
		s.denied(t, api("STREAM.PURGE.%s", events.StreamFeedback), request(s, api("STREAM.PURGE.%s", events.StreamFeedback), `{}`))
	})
}
