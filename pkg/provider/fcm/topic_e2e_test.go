package fcm_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm/fcmfake"
)

func topicJob(topics ...events.Topic) *events.Job {
	j := newJob("app")
	j.Topics = topics
	j.Tokens = events.TopicKeys(topics)
	return j
}

// A topic job sends message.topic or message.condition, one message per
// topic, and each result carries the topic's key; the fake validates the
// requests as FCM does.
func TestTopicAndConditionSends(t *testing.T) {
	t.Parallel()
	f := startFake(t, fcmfake.Options{KeepMessages: true})
	s := newSender(t, f, fcm.Config{}, map[string]fcm.AppConfig{"app": sandboxApp(t, f, "app", "proj")})
	cond := events.Topic{Platform: events.FCM, Condition: "'a' in topics && ('b' in topics || 'c' in topics)"}
	j := topicJob(events.Topic{Platform: events.FCM, Topic: "news"}, cond)
	rs := send(t, s, j, 5*time.Second)
	for i, r := range rs {
		if r.Kind != provider.Delivered || r.Token != j.Tokens[i] {
			t.Fatalf("result %d: %v %s %v (token %q)", i, r.Kind, r.Reason, r.Err, r.Token)
		}
	}
	if f.Delivered("/topics/news") != 1 || f.Delivered("condition:"+cond.Condition) != 1 {
		t.Fatalf("fake saw topic %d, condition %d", f.Delivered("/topics/news"), f.Delivered("condition:"+cond.Condition))
	}
	raw, _ := f.LastMessage("/topics/news")
	var m map[string]json.RawMessage
	_ = json.Unmarshal(raw, &m)
	if _, ok := m["token"]; ok || string(m["topic"]) != `"news"` {
		t.Fatalf("topic message %s", raw)
	}
}

// What FCM refuses about a topic send is Permanent, never InvalidToken: a
// topic is no device token, and its key must never reach token state.
func TestTopicRefusalsArePermanent(t *testing.T) {
	t.Parallel()
	f := startFake(t, fcmfake.Options{})
	s := newSender(t, f, fcm.Config{}, map[string]fcm.AppConfig{"app": sandboxApp(t, f, "app", "proj")})
	// Conditions intake would refuse, sent anyway: FCM's answer decides.
	bad := topicJob(events.Topic{Platform: events.FCM, Condition: "'a' in topics &&"},
		events.Topic{Platform: events.FCM, Condition: "'a' in topics || 'b' in topics || 'c' in topics || 'd' in topics || 'e' in topics || 'f' in topics"})
	for _, r := range send(t, s, bad, 5*time.Second) {
		if r.Kind != provider.Permanent || !strings.HasPrefix(r.Token, events.ConditionKeyPrefix) {
			t.Fatalf("bad condition: %v %s %v (token %q), want Permanent", r.Kind, r.Reason, r.Err, r.Token)
		}
	}
	// A message too big for a topic (2048 bytes) is refused before sending.
	big := topicJob(events.Topic{Platform: events.FCM, Topic: "news"})
	big.Notification = events.Notification{Body: strings.Repeat("x", 3000)}
	before := f.SendRequests()
	if r := send(t, s, big, 5*time.Second)[0]; r.Kind != provider.Permanent || r.Token != "topic:news" {
		t.Fatalf("oversized topic message: %v %s %v", r.Kind, r.Reason, r.Err)
	}
	if f.SendRequests() != before {
		t.Fatal("an oversized topic message reached FCM")
	}
	// The same size to a condition is fine (4096).
	ok := topicJob(events.Topic{Platform: events.FCM, Condition: "'news' in topics"})
	ok.Notification = big.Notification
	if r := send(t, s, ok, 5*time.Second)[0]; r.Kind != provider.Delivered {
		t.Fatalf("condition message of 3000 bytes: %v %s %v", r.Kind, r.Reason, r.Err)
	}
}
