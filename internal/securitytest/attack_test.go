package securitytest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// victimApp is the app whose stored work the attackers below try to
// destroy; they publish on app demo's subjects.
const victimApp = "shop"

// victim is a message stored before an attack, identified by its stream
// sequence.
type victim struct {
	stream, subject string
	seq             uint64
}

// seedVictims stores, as the admin, one message of victimApp in every stream
// and bucket: an intent, a pending send_at schedule and a released (due)
// intent, a job and a pending re-queue schedule and a released re-queue per
// platform, a feedback event, a dead letter, a token record and a taken
// intent id.
func seedVictims(t *testing.T, admin *client) []victim {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []victim
	publish := func(subject string, opts ...jetstream.PublishOpt) {
		t.Helper()
		m := nats.NewMsg(subject)
		m.Data = []byte(`{"victim":true}`)
		ack, err := admin.js.PublishMsg(ctx, m, opts...)
		if err != nil {
			t.Fatalf("seed %s: %v", subject, err)
		}
		out = append(out, victim{stream: ack.Stream, subject: subject, seq: ack.Sequence})
	}
	later := time.Now().Add(time.Hour)
	publish(events.IntentSubject(victimApp))
	publish(events.ScheduleSubject(victimApp, "victim-"+randomHex(t, 4)),
		jetstream.WithScheduleAt(later), jetstream.WithScheduleTarget(events.DueSubject(victimApp)))
	publish(events.DueSubject(victimApp))
	for _, p := range events.Platforms {
		publish(events.SendSubject(p, victimApp))
		publish(events.RetrySubject(p, victimApp, "victim-"+randomHex(t, 4)),
			jetstream.WithScheduleAt(later), jetstream.WithScheduleTarget(events.RetryDueSubject(p, victimApp)))
		publish(events.RetryDueSubject(p, victimApp))
	}
	publish(events.FeedbackSubject(events.FCM, victimApp))
	publish(events.DeadSubject(events.StageIntents, victimApp))
	publish("$KV." + events.TokensBucket + "." + victimApp + ".fcm.victim")
	publish("$KV." + events.IntentIDsBucket + "." + victimApp + ".victim")
	publish(events.ConfirmSubject(victimApp))
	publish(events.ConfirmWatchSubject(victimApp, "victim-"+randomHex(t, 4)))
	publish(events.ConfirmTimerSubject(victimApp, "victim-"+randomHex(t, 4)),
		jetstream.WithScheduleAt(later), jetstream.WithScheduleTarget(events.ConfirmDueSubject(victimApp)))
	publish(events.ConfirmDueSubject(victimApp))
	publish("$KV." + events.ConfirmBucket + "." + victimApp + ".victim")
	return out
}

// missing returns the victims no longer stored.
func missing(t *testing.T, admin *client, vs []victim) (gone []victim) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, v := range vs {
		s, err := admin.js.Stream(ctx, v.stream)
		if err != nil {
			t.Fatal(err)
		}
		m, err := s.GetMsg(ctx, v.seq)
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound):
			gone = append(gone, v)
		case err != nil:
			t.Fatalf("get %s seq %d: %v", v.stream, v.seq, err)
		case m.Subject != v.subject:
			t.Fatalf("%s seq %d is on %s, want %s", v.stream, v.seq, m.Subject, v.subject)
		}
	}
	return gone
}

// streamCounts is the number of messages in every stream and bucket.
func streamCounts(t *testing.T, admin *client) map[string]uint64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out := map[string]uint64{}
	for _, sc := range streams.StreamConfigs(streams.Config{}) {
		s, err := admin.js.Stream(ctx, sc.Name)
		if err != nil {
			t.Fatal(err)
		}
		out[sc.Name] = s.CachedInfo().State.Msgs
	}
	return out
}

// streamOf is the pushfleet stream whose subjects hold subject ("" if none).
func streamOf(subject string) jetstream.StreamConfig {
	for _, sc := range streams.StreamConfigs(streams.Config{}) {
		for _, f := range sc.Subjects {
			if server.SubjectMatchesFilter(subject, f) {
				return sc
			}
		}
	}
	return jetstream.StreamConfig{}
}

// header is a header an attacker sets to make a stream delete, expire or
// repeat messages.
type header struct {
	name string
	set  func(m *nats.Msg)
}

var (
	rollupAll = header{"Nats-Rollup: all", func(m *nats.Msg) { m.Header.Set("Nats-Rollup", "all") }}
	rollupSub = header{"Nats-Rollup: sub", func(m *nats.Msg) { m.Header.Set("Nats-Rollup", "sub") }}
	msgTTL    = header{"Nats-TTL: 1s", func(m *nats.Msg) { m.Header.Set("Nats-TTL", "1s") }}
	// every repeats a copy of the message onto the next subject of the
	// same stream every second.
	every = header{"Nats-Schedule: @every 1s", func(m *nats.Msg) {
		m.Header.Set("Nats-Schedule", "@every 1s")
		m.Header.Set("Nats-Schedule-Target", m.Subject+"2")
	}}
)

// attack is a user publishing on a stream subject it may publish to. owns
// names the stream of the user's own schedules, where roll-ups are allowed
// because message schedules need them; "" everywhere else.
type attack struct{ user, subject, owns string }

// attacks are every stream subject each user of the shipped configuration
// may publish to (TestHeaderAttacksCoverEveryPublishRight checks the list is
// complete).
var attacks = func() []attack {
	type row = attack
	rows := []row{
		{"producer", events.IntentSubject("demo"), ""},
		{"push-gateway", events.IntentSubject("demo"), ""},
		{"dispatcher", events.ScheduleSubject("demo", "attack"), events.StreamSchedules},
		{"dispatcher", events.FeedbackSubject(events.APNs, "demo"), ""},
		{"dispatcher", events.DeadSubject(events.StageIntents, "demo"), ""},
		{"dispatcher", "$KV." + events.IntentIDsBucket + ".demo.x", ""},
		{"feedback-sink", "$KV." + events.TokensBucket + ".x", ""},
		{"feedback-sink", events.DeadSubject(events.StageFeedback, "demo"), ""},
		{"dispatcher", events.ConfirmWatchSubject("demo", "attack"), ""},
		{"registry-demo", events.ConfirmSubject("demo"), ""},
		{"confirm-service", events.ConfirmTimerSubject("demo", "attack"), events.StreamConfirmTimers},
		{"confirm-service", events.ConfirmDueSubject("demo"), events.StreamConfirmTimers},
		{"confirm-service", events.IntentSubject("demo"), ""},
		{"confirm-service", events.ConfirmFeedbackSubject(events.APNs, "demo"), ""},
		{"confirm-service", events.DeadSubject(events.StageConfirm, "demo"), ""},
		{"confirm-service", "$KV." + events.ConfirmBucket + ".demo.x", ""},
		// The webhook channel's sender, on the shared streams. Its own
		// PUSH_SEND_WEBHOOK and PUSH_RETRY_WEBHOOK exist only where the
		// platform is declared: webhook_test.go, in a child process.
		{webhookSender, events.FeedbackSubject(webhookPlatform, "demo"), ""},
		{webhookSender, events.DeadSubject(events.SenderStage(webhookPlatform), "demo"), ""},
		{webhookSender, "$KV." + events.JobIDsBucket + "." + events.JobIDKey(webhookPlatform, "demo", "x"), ""},
	}
	for _, p := range events.Platforms {
		sender := events.SenderDurable(p)
		rows = append(rows,
			row{"dispatcher", events.SendSubject(p, "demo"), ""},
			row{sender, events.RetrySubject(p, "demo", "x"), events.RetryStream(p)},
			row{sender, events.FeedbackSubject(p, "demo"), ""},
			row{sender, events.DeadSubject(events.SenderStage(p), "demo"), ""},
			row{sender, "$KV." + events.JobIDsBucket + "." + events.JobIDKey(p, "demo", "x"), ""},
		)
	}
	return rows
}()

// attackHeaders are tried on every subject; on a user's own schedule
// stream all but the schedule (which is what that stream is for).
var attackHeaders = []header{rollupAll, rollupSub, msgTTL, every}

// Every user of the shipped configuration, on every subject it may publish
// to, sends Nats-Rollup (all and sub), Nats-TTL and a repeating
// Nats-Schedule: on every stream but the user's own schedule stream the
// publish is refused and stores nothing (Nats-TTL is refused there too),
// and the messages stored before (another app's intent, schedules, jobs,
// re-queues, feedback, dead letter, token record, intent id) are all still
// there. On its own schedule stream
// (PUSH_SCHEDULES for the dispatcher, PUSH_RETRY_<P> for a sender) a
// roll-up of its subject is accepted and removes nothing else; a roll-up of
// the whole stream removes only that stream's messages, which only this
// user consumes: no other stream loses anything.
func TestHeaderAttacksDeleteNothing(t *testing.T) {
	as := startAuthServer(t, nil)
	admin := as.connect(t, "admin")
	provisionAsAdmin(t, admin.js)
	conns := map[string]*client{}
	ctx := context.Background()
	for _, a := range attacks {
		if conns[a.user] == nil {
			conns[a.user] = as.connect(t, a.user)
		}
		c := conns[a.user]
		if got := streamOf(a.subject); got.Name == "" || got.AllowRollup != (a.owns != "") || (a.owns != "" && got.Name != a.owns) {
			t.Fatalf("%s on %s: stream %q (roll-ups %v), the table says owned stream %q", a.user, a.subject, got.Name, got.AllowRollup, a.owns)
		}
		for _, h := range attackHeaders {
			owned := a.owns != ""
			if owned && h.name == every.name {
				continue // schedules are what the owner's stream is for
			}
			// refused: every header outside the owner's stream, and
			// Nats-TTL on it too (no stream allows per-message TTLs)
			refused := !owned || h.name == msgTTL.name
			t.Run(a.user+"/"+a.subject+"/"+h.name, func(t *testing.T) {
				victims := seedVictims(t, admin)
				before := streamCounts(t, admin)
				m := nats.NewMsg(a.subject)
				m.Data = []byte(`{}`)
				h.set(m)
				ack, err := c.js.PublishMsg(ctx, m)
				after := streamCounts(t, admin)
				gone := missing(t, admin, victims)
				if refused {
					if err == nil {
						t.Errorf("%s stored on %s as seq %d", h.name, ack.Stream, ack.Sequence)
					} else if errors.Is(err, nats.ErrPermissionViolation) || c.violation(a.subject) {
						t.Errorf("%s may not even publish on %s: fix the table: %v", a.user, a.subject, err)
					}
					if len(gone) > 0 {
						t.Errorf("%s on %s by %s removed %v", h.name, a.subject, a.user, gone)
					}
					if !maps.Equal(before, after) {
						t.Errorf("message counts changed: before %v, after %v", before, after)
					}
					return
				}
				if err != nil {
					t.Fatalf("%s on its own schedule stream: %v", a.user, err)
				}
				var ownGone int
				for _, v := range gone {
					if v.stream != a.owns {
						t.Errorf("%s on %s by %s removed %s seq %d of stream %s", h.name, a.subject, a.user, v.subject, v.seq, v.stream)
					} else {
						ownGone++
					}
				}
				if h.name == rollupSub.name && ownGone > 0 {
					t.Errorf("a roll-up of %s removed %d other messages of %s", a.subject, ownGone, a.owns)
				}
				for name, n := range before {
					if name != a.owns && after[name] != n {
						t.Errorf("%s: %d messages before, %d after", name, n, after[name])
					}
				}
				t.Logf("%s: owner-only stream %s lost %d of its own messages (the owner is its only consumer)", h.name, a.owns, ownGone)
			})
		}
	}
	if v := as.log.violations(); len(v) > 0 {
		t.Errorf("attacks table holds subjects the users may not publish to:\n%s", strings.Join(v, "\n"))
	}
}

// attacks covers every subject of a stream or bucket that a user of the
// shipped configuration may publish to: a publish right added to the
// configuration without its row here fails this test.
func TestHeaderAttacksCoverEveryPublishRight(t *testing.T) {
	for _, u := range users {
		t.Setenv(passwordEnv(u), `"unused"`)
	}
	opts, err := server.ProcessConfigFile(confFile)
	if err != nil {
		t.Fatal(err)
	}
	var stored []string
	for _, sc := range streams.StreamConfigs(streams.Config{}) {
		stored = append(stored, sc.Subjects...)
	}
	for _, u := range opts.Users {
		if u.Permissions == nil || u.Permissions.Publish == nil { // admin: everything, by design
			continue
		}
		for _, allow := range u.Permissions.Publish.Allow {
			if !slices.ContainsFunc(stored, func(s string) bool { return server.SubjectsCollide(s, allow) }) {
				continue // not stored in a stream: API requests, acks, registry calls
			}
			if strings.HasPrefix(allow, "$JS.") {
				t.Errorf("%s may publish %s, which a stream stores", u.Username, allow)
				continue
			}
			covered := slices.ContainsFunc(attacks, func(a attack) bool {
				return a.user == u.Username && server.SubjectMatchesFilter(a.subject, allow)
			})
			if !covered {
				t.Errorf("%s may publish %s: add it to attacks", u.Username, allow)
			}
		}
	}
}

// The producer cannot make the fleet repeat, expire or schedule anything:
// a repeating Nats-Schedule on push.intents.<app> is refused (PUSH_INTENTS
// has no schedules) and nothing is stored, now or a few seconds later;
// Nats-TTL is refused; it is refused publishing on the schedule and
// re-queue streams (push.schedules, push.due, push.retry), writing taken
// intent ids (which would make the dispatcher drop another app's intents as
// duplicates), and deleting messages. Its plain intent is accepted.
func TestProducerCannotScheduleExpireOrDelete(t *testing.T) {
	as := startAuthServer(t, nil)
	admin := as.connect(t, "admin")
	provisionAsAdmin(t, admin.js)
	prod := as.connect(t, "producer")
	ctx := context.Background()
	intents, err := admin.js.Stream(ctx, events.StreamIntents)
	if err != nil {
		t.Fatal(err)
	}
	count := func() uint64 {
		t.Helper()
		info, err := intents.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.State.Msgs
	}
	if _, err := prod.js.Publish(ctx, events.IntentSubject("demo"), []byte(`{"id":"plain"}`)); err != nil {
		t.Fatalf("producer publishes an intent: %v", err)
	}
	before := count()

	for _, h := range []header{every, {"Nats-Schedule: @at in 1s", func(m *nats.Msg) {
		m.Header.Set("Nats-Schedule", "@at "+time.Now().Add(time.Second).UTC().Format(time.RFC3339))
		m.Header.Set("Nats-Schedule-Target", events.IntentSubject("demo"))
	}}, msgTTL} {
		m := nats.NewMsg(events.IntentSubject("demo"))
		m.Data = []byte(`{"id":"repeat-me"}`)
		h.set(m)
		if ack, err := prod.js.PublishMsg(ctx, m); err == nil {
			t.Errorf("%s on %s accepted as seq %d", h.name, m.Subject, ack.Sequence)
		}
	}
	if n := count(); n != before {
		t.Fatalf("PUSH_INTENTS holds %d messages after the refused publishes, %d before", n, before)
	}
	time.Sleep(2500 * time.Millisecond) // an accepted @every 1s would have fired twice by now
	if n := count(); n != before {
		t.Fatalf("PUSH_INTENTS holds %d messages 2.5s later, %d before: something repeats", n, before)
	}

	for _, subject := range []string{
		events.ScheduleSubject("demo", "mine"),
		events.DueSubject("demo"),
		events.RetrySubject(events.APNs, "demo", "x"),
		events.RetryDueSubject(events.APNs, "demo"),
		events.SendSubject(events.APNs, "demo"),
		"$KV." + events.IntentIDsBucket + ".shop.x",
	} {
		prod.denied(t, subject, func(ctx context.Context) error {
			_, err := prod.js.Publish(ctx, subject, []byte(`{}`))
			return err
		})
	}
	for _, api := range []string{
		"$JS.API.STREAM.MSG.DELETE." + events.StreamSchedules,
		"$JS.API.STREAM.PURGE." + events.StreamIntents,
		"$JS.API.DIRECT.GET.KV_" + events.IntentIDsBucket,
	} {
		prod.denied(t, api, func(ctx context.Context) error {
			_, err := prod.nc.RequestWithContext(ctx, api, []byte(`{"seq":1}`))
			return err
		})
	}
}

// Only the owner writes a schedule stream, and nobody but the server
// releases what is due: the producer, the feedback-sink, the registry client
// and every sender are refused publishing on push.schedules and push.due
// (PUSH_SCHEDULES, the dispatcher's); the dispatcher, the feedback-sink, the
// producer and the other senders are refused publishing on a sender's
// push.retry.<p> (PUSH_RETRY_<P>), and the dispatcher and senders are
// refused publishing released messages (push.due, push.retry.<p>.due)
// themselves, which would skip the checks the schedule step made. Nobody but
// the owner binds, reads or pulls the owner's consumer, or reads its stream.
func TestScheduleStreamsAreOwnerOnly(t *testing.T) {
	as := startAuthServer(t, nil)
	admin := as.connect(t, "admin")
	provisionAsAdmin(t, admin.js)
	type write struct{ user, subject string }
	var writes []write
	var reads []struct{ user, stream, durable string }
	others := func(owner string) []string {
		var out []string
		for _, u := range append(slices.Clone(services), "producer", "registry-demo", webhookSender) {
			if u != owner {
				out = append(out, u)
			}
		}
		return out
	}
	for _, u := range others("dispatcher") {
		writes = append(writes, write{u, events.ScheduleSubject("demo", "x")}, write{u, events.DueSubject("demo")})
		reads = append(reads, struct{ user, stream, durable string }{u, events.StreamSchedules, events.DurableDispatcher})
	}
	writes = append(writes, write{"dispatcher", events.DueSubject("demo")})
	for _, u := range others("confirm-service") {
		writes = append(writes, write{u, events.ConfirmTimerSubject("demo", "x")}, write{u, events.ConfirmDueSubject("demo")})
		reads = append(reads, struct{ user, stream, durable string }{u, events.StreamConfirmTimers, events.DurableConfirm})
	}
	for _, p := range events.Platforms {
		owner := events.SenderDurable(p)
		for _, u := range others(owner) {
			writes = append(writes, write{u, events.RetrySubject(p, "demo", "x")}, write{u, events.RetryDueSubject(p, "demo")})
			reads = append(reads, struct{ user, stream, durable string }{u, events.RetryStream(p), owner})
		}
		writes = append(writes, write{owner, events.RetryDueSubject(p, "demo")})
	}
	conns := map[string]*client{}
	conn := func(u string) *client {
		if conns[u] == nil {
			conns[u] = as.connect(t, u)
		}
		return conns[u]
	}
	for _, w := range writes {
		t.Run("publish/"+w.user+"/"+w.subject, func(t *testing.T) {
			c := conn(w.user)
			c.denied(t, w.subject, func(ctx context.Context) error {
				_, err := c.js.Publish(ctx, w.subject, []byte(`{}`))
				return err
			})
		})
	}
	for _, r := range reads {
		t.Run("read/"+r.user+"/"+r.stream, func(t *testing.T) {
			c := conn(r.user)
			for _, api := range []string{
				fmt.Sprintf("$JS.API.CONSUMER.CREATE.%s.%s", r.stream, r.durable),
				fmt.Sprintf("$JS.API.CONSUMER.MSG.NEXT.%s.%s", r.stream, r.durable),
				fmt.Sprintf("$JS.API.STREAM.INFO.%s", r.stream),
				fmt.Sprintf("$JS.API.DIRECT.GET.%s", r.stream),
			} {
				c.denied(t, api, func(ctx context.Context) error {
					_, err := c.nc.RequestWithContext(ctx, api, []byte(`{}`))
					return err
				})
			}
		})
	}
}

// The dispatcher takes intent ids in bucket push_intent_ids exactly as the
// dedup needs (open the bucket: stream info; create a key: a
// compare-and-swap put on $KV.push_intent_ids.<key>; find it taken; read its
// value: a direct get) with no permissions violation; it can neither purge nor delete the
// bucket's messages. No other service, the producer nor a registry client
// may write or read the bucket: none can make the dispatcher take another
// app's intent for a duplicate.
func TestIntentIDsAreTheDispatchers(t *testing.T) {
	as := startAuthServer(t, nil)
	admin := as.connect(t, "admin")
	provisionAsAdmin(t, admin.js)
	ctx := context.Background()
	d := as.connect(t, "dispatcher")
	kv, err := d.js.KeyValue(ctx, events.IntentIDsBucket)
	if err != nil {
		t.Fatalf("dispatcher opens %s: %v", events.IntentIDsBucket, err)
	}
	const key = "demo.0123456789abcdef"
	if _, err := kv.Create(ctx, key, []byte("17")); err != nil {
		t.Fatalf("dispatcher takes an intent id: %v", err)
	}
	if _, err := kv.Create(ctx, key, []byte("18")); !errors.Is(err, jetstream.ErrKeyExists) {
		t.Fatalf("taking it again: %v, want ErrKeyExists", err)
	}
	if e, err := kv.Get(ctx, key); err != nil || string(e.Value()) != "17" {
		t.Fatalf("dispatcher reads the taken id: %v %v", e, err)
	}
	time.Sleep(200 * time.Millisecond) // let late violations reach the log
	if v := as.log.violations(); len(v) > 0 {
		t.Fatalf("the dispatcher's dedup needs permissions it does not have:\n%s", strings.Join(v, "\n"))
	}
	stream := "KV_" + events.IntentIDsBucket
	for _, api := range []string{"$JS.API.STREAM.PURGE." + stream, "$JS.API.STREAM.MSG.DELETE." + stream, "$JS.API.STREAM.DELETE." + stream} {
		d.denied(t, api, func(ctx context.Context) error {
			_, err := d.nc.RequestWithContext(ctx, api, []byte(`{"seq":1}`))
			return err
		})
	}
	for _, u := range append(slices.DeleteFunc(slices.Clone(services), func(s string) bool { return s == "dispatcher" }), "producer", "registry-demo", webhookSender) {
		t.Run(u, func(t *testing.T) {
			c := as.connect(t, u)
			subject := "$KV." + events.IntentIDsBucket + ".shop.x"
			c.denied(t, subject, func(ctx context.Context) error {
				_, err := c.js.Publish(ctx, subject, []byte(`1`))
				return err
			})
			api := "$JS.API.DIRECT.GET." + stream + ".$KV." + events.IntentIDsBucket + "." + key
			c.denied(t, api, func(ctx context.Context) error {
				_, err := c.nc.RequestWithContext(ctx, api, nil)
				return err
			})
		})
	}
}

// Each sender keeps the jobs it took in bucket push_job_ids under its own
// platform's keys, with exactly its rights; it can neither write nor read
// another platform's keys, and no other service can write the bucket.
func TestJobIDsAreEachSendersOwn(t *testing.T) {
	as := startAuthServer(t, nil)
	admin := as.connect(t, "admin")
	provisionAsAdmin(t, admin.js)
	ctx := context.Background()
	s := as.connect(t, events.SenderDurable(events.APNs))
	kv, err := s.js.KeyValue(ctx, events.JobIDsBucket)
	if err != nil {
		t.Fatalf("apns-sender opens %s: %v", events.JobIDsBucket, err)
	}
	key := events.JobIDKey(events.APNs, "demo", "job-1")
	if _, err := kv.Create(ctx, key, []byte("PUSH_SEND_APNS:1")); err != nil {
		t.Fatalf("apns-sender takes a job: %v", err)
	}
	if e, err := kv.Get(ctx, key); err != nil || string(e.Value()) != "PUSH_SEND_APNS:1" {
		t.Fatalf("apns-sender reads the job back: %v %v", e, err)
	}
	time.Sleep(200 * time.Millisecond) // let late violations reach the log
	if v := as.log.violations(); len(v) > 0 {
		t.Fatalf("the sender's dedup needs permissions it does not have:\n%s", strings.Join(v, "\n"))
	}
	other := events.JobIDKey(events.FCM, "demo", "job-1")
	s.denied(t, "$KV."+events.JobIDsBucket+"."+other, func(ctx context.Context) error {
		_, err := s.js.Publish(ctx, "$KV."+events.JobIDsBucket+"."+other, []byte(`1`))
		return err
	})
	read := "$JS.API.DIRECT.GET.KV_" + events.JobIDsBucket + ".$KV." + events.JobIDsBucket + "." + other
	s.denied(t, read, func(ctx context.Context) error {
		_, err := s.nc.RequestWithContext(ctx, read, nil)
		return err
	})
	for _, u := range []string{"dispatcher", "feedback-sink", "confirm-service", "producer", "registry-demo"} {
		t.Run(u, func(t *testing.T) {
			c := as.connect(t, u)
			c.denied(t, "$KV."+events.JobIDsBucket+"."+key, func(ctx context.Context) error {
				_, err := c.js.Publish(ctx, "$KV."+events.JobIDsBucket+"."+key, []byte(`1`))
				return err
			})
		})
	}
}
