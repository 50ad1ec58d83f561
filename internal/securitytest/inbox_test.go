package securitytest

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// Replies (pulled messages, publish acks, API answers) go to the requester's
// inbox. Every binary sets the inbox prefix _INBOX_<its name>
// (config.Common.NATSOptions) and each user of the shipped configuration may
// subscribe only to its own prefix: the apns-sender subscribes neither to the
// shared _INBOX.> nor to the gcm-sender's inbox, so it cannot read the FCM
// jobs the gcm-sender pulls, while the gcm-sender still pulls them and gets
// its publish acks. A client without the prefix gets no replies at all. The
// refusal reaches the service's JSON log through the connection's error
// handler.
func TestInboxPrefixConfinesReplies(t *testing.T) {
	ctx := context.Background()
	as := startAuthServer(t, nil)
	admin := as.connect(t, "admin")
	provisionAsAdmin(t, admin.js)
	gcm, apns := as.connect(t, "gcm-sender"), as.connect(t, "apns-sender")

	// The apns-sender tries to listen to the gcm-sender's replies: both
	// subscriptions are refused, and stay open while the gcm-sender pulls.
	snoops := []*nats.Subscription{apns.refusedSub(t, "_INBOX.>"), apns.refusedSub(t, "_INBOX_gcm-sender.>")}

	const job = `{"id":"inbox-job"}`
	if _, err := admin.js.Publish(ctx, events.SendSubject(events.FCM, "demo"), []byte(job)); err != nil {
		t.Fatal(err)
	}
	cons, err := gcm.js.CreateOrUpdateConsumer(ctx, events.SendStream(events.FCM), jetstream.ConsumerConfig{
		Durable: "gcm-sender", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatalf("gcm-sender binds its consumer: %v", err)
	}
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var fetched jetstream.Msg
	for msg := range batch.Messages() {
		fetched = msg
	}
	if fetched == nil || string(fetched.Data()) != job {
		t.Fatalf("gcm-sender did not fetch the job: %v", batch.Error())
	}
	if err := fetched.DoubleAck(ctx); err != nil {
		t.Fatalf("gcm-sender acks the job: %v", err)
	}
	if _, err := gcm.js.Publish(ctx, events.FeedbackSubject(events.FCM, "demo"), []byte(`{}`)); err != nil {
		t.Fatalf("gcm-sender's publish ack on its own inbox: %v", err)
	}
	for _, s := range snoops {
		if m, err := s.NextMsg(500 * time.Millisecond); err == nil {
			t.Fatalf("apns-sender's refused subscription to %s received %s: %q", s.Subject, m.Subject, m.Data)
		} else if !errors.Is(err, nats.ErrTimeout) {
			t.Logf("%s: %v", s.Subject, err)
		}
	}

	// The gcm-sender's user without its prefix: the shared inbox is refused,
	// so it cannot even bind its consumer.
	bare := connectAs(t, as.url(), nats.UserInfo("gcm-sender", as.passwords["gcm-sender"]))
	bare.denied(t, "_INBOX.>", func(ctx context.Context) error {
		_, err := bare.js.CreateOrUpdateConsumer(ctx, events.SendStream(events.FCM), jetstream.ConsumerConfig{
			Durable: "gcm-sender", AckPolicy: jetstream.AckExplicitPolicy})
		return err
	})

	time.Sleep(200 * time.Millisecond) // let late violations reach the log
	if v := as.log.violations(); len(v) != 3 {
		t.Fatalf("want exactly the 3 refused subscriptions, got violations:\n%s", strings.Join(v, "\n"))
	}

	// The apns-sender logged each refusal as JSON, with no credential.
	logs := apns.logs.String()
	for _, subject := range []string{"_INBOX.>", "_INBOX_gcm-sender.>"} {
		found := false
		for line := range strings.Lines(logs) {
			var rec struct{ Level, Msg, Service, Err string }
			if err := json.Unmarshal([]byte(line), &rec); err != nil {
				t.Fatalf("apns-sender log line is not JSON: %q", line)
			}
			if rec.Level == "ERROR" && rec.Msg == "nats permissions violation" && rec.Service == "apns-sender" &&
				strings.Contains(rec.Err, `"`+subject+`"`) {
				found = true
			}
		}
		if !found {
			t.Errorf("no JSON log line for the refused subscription to %s:\n%s", subject, logs)
		}
	}
	if strings.Contains(logs, as.passwords["apns-sender"]) {
		t.Error("the apns-sender's password appears in its log")
	}
}
