package securitytest

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// Replies (pulled messages, publish acks, API answers) go to the requester's
// inbox, _INBOX.<random> by default, so every service may subscribe to
// _INBOX.>; and a subscription to _INBOX.> receives the replies of every
// user of the account. The first case documents that gap of the shipped
// configuration: another service's user reads the FCM jobs the gcm-sender
// pulls. The second shows the remedy: a per-service inbox prefix on the
// client (nats.CustomInboxPrefix) and subscribe permissions narrowed to it.
func TestInboxPrefixConfinesReplies(t *testing.T) {
	ctx := context.Background()
	const job = `{"id":"inbox-job"}`
	// pull makes gcm fetch the job the admin queues on PUSH_SEND_FCM.
	pull := func(t *testing.T, admin, gcm *client) {
		t.Helper()
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
		for msg := range batch.Messages() {
			if string(msg.Data()) != job {
				t.Fatalf("gcm-sender fetched %q", msg.Data())
			}
			_ = msg.Ack()
			return
		}
		t.Fatalf("gcm-sender fetched nothing: %v", batch.Error())
	}

	t.Run("shared _INBOX: a wildcard subscription reads other services' replies", func(t *testing.T) {
		as := startAuthServer(t, nil)
		admin := as.connect(t, "admin")
		provisionAsAdmin(t, admin.js)
		apns := as.connect(t, "apns-sender")
		snoop, err := apns.nc.SubscribeSync("_INBOX.>")
		if err != nil {
			t.Fatal(err)
		}
		if err := apns.nc.Flush(); err != nil {
			t.Fatal(err)
		}
		pull(t, admin, as.connect(t, "gcm-sender"))
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
			m, err := snoop.NextMsg(time.Second)
			if err == nil && string(m.Data) == job {
				t.Logf("GAP: apns-sender's _INBOX.> subscription received the FCM job (%s) the gcm-sender pulled", m.Subject)
				return
			}
		}
		t.Fatal("the wildcard inbox subscription saw no FCM job: update docs/SECURITY.md, the gap is gone")
	})

	t.Run("per-service inbox prefix: replies reach their service only", func(t *testing.T) {
		as := startAuthServer(t, func(o *server.Options) {
			for _, u := range o.Users {
				if u.Username == "apns-sender" || u.Username == "gcm-sender" {
					p := *u.Permissions
					p.Subscribe = &server.SubjectPermission{Allow: []string{"_INBOX_" + u.Username + ".>"}}
					u.Permissions = &p
				}
			}
		})
		admin := as.connect(t, "admin")
		provisionAsAdmin(t, admin.js)
		prefixed := func(user string) *client {
			return connectAs(t, as.url(), nats.Name(user), nats.UserInfo(user, as.passwords[user]), nats.CustomInboxPrefix("_INBOX_"+user))
		}
		gcm, apns := prefixed("gcm-sender"), prefixed("apns-sender")
		pull(t, admin, gcm)
		if _, err := gcm.js.Publish(ctx, events.FeedbackSubject(events.FCM, "demo"), []byte(`{}`)); err != nil {
			t.Fatalf("gcm-sender's publish ack on its own inbox: %v", err)
		}
		apns.deniedSub(t, "_INBOX.>")
		apns.deniedSub(t, "_INBOX_gcm-sender.>")
		if v := as.log.violations(); len(v) != 2 {
			t.Fatalf("want exactly the 2 refused subscriptions, got violations:\n%v", v)
		}
	})
}
