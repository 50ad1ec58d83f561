package mi_test

import (
	"testing"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/mi"
	"github.com/pushfleet/pushfleet/pkg/provider/mi/mifake"
)

func topicJob(topics ...events.Topic) *events.Job {
	j := testJob()
	j.Topics = topics
	j.Tokens = events.TopicKeys(topics)
	return j
}

// A topic job goes to /v3/message/topic, a broadcast to /v3/message/all
// (no target field), one request each; results carry the topic keys.
func TestTopicAndBroadcastSends(t *testing.T) {
	s, fake := setup(t, mifake.Options{}, nil)
	j := topicJob(events.Topic{Platform: events.Mi, Topic: "news"})
	rs := send(t, s, j)
	if rs[0].Kind != provider.Delivered || rs[0].Token != "topic:news" {
		t.Fatalf("topic: %v", rs[0])
	}
	path, form := fake.LastRequest()
	if path != mi.PathTopic || form.Get("topic") != "news" || form.Has("registration_id") {
		t.Fatalf("topic request %s %v", path, form)
	}
	all := topicJob(events.Topic{Platform: events.Mi, All: true})
	if rs := send(t, s, all); rs[0].Kind != provider.Delivered || rs[0].Token != events.BroadcastKey {
		t.Fatalf("broadcast: %v", rs[0])
	}
	path, form = fake.LastRequest()
	if path != mi.PathAll || form.Has("topic") || form.Has("registration_id") || form.Get("title") != "Hello" {
		t.Fatalf("broadcast request %s %v", path, form)
	}
	if fake.Delivered("news") != 1 || fake.Delivered(mifake.AllDevices) != 1 {
		t.Fatalf("fake saw topic %d, broadcast %d", fake.Delivered("news"), fake.Delivered(mifake.AllDevices))
	}
	both := topicJob(events.Topic{Platform: events.Mi, Topic: "a"}, events.Topic{Platform: events.Mi, Topic: "b"})
	for i, r := range send(t, s, both) {
		if r.Kind != provider.Delivered || r.Token != both.Tokens[i] {
			t.Fatalf("result %d: %v", i, r)
		}
	}
}

// MiPush's answers to a topic send are classified as for devices, except
// that nothing may invalidate a topic: 20301 "No valid targets!" is
// Permanent for a topic, a frequency error is Retry.
func TestTopicAnswersClassified(t *testing.T) {
	s, fake := setup(t, mifake.Options{}, nil)
	j := topicJob(events.Topic{Platform: events.Mi, Topic: "news"})
	fake.FailNextAnswer(1, mifake.Answer{Code: mi.CodeNoValidTargets, Reason: "No valid targets!"})
	if r := send(t, s, j)[0]; r.Kind != provider.Permanent || r.Token != "topic:news" {
		t.Fatalf("20301 on a topic: %v, want Permanent", r)
	}
	fake.FailNextAnswer(1, mifake.Answer{Code: 10023, Reason: "frequency"})
	if r := send(t, s, j)[0]; r.Kind != provider.Retry {
		t.Fatalf("10023 on a topic: %v, want Retry", r)
	}
	// A displayed message without a body is refused by MiPush (65011).
	j.Notification = events.Notification{Title: "only a title"}
	if r := send(t, s, j)[0]; r.Kind != provider.Permanent {
		t.Fatalf("title-only topic message: %v, want Permanent", r)
	}
}
