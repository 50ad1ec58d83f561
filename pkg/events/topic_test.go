package events_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// Topic targets are checked at intake, each refusal naming the field.
func TestIntakeTopics(t *testing.T) {
	const head = `{"id":"a","app":"shop",`
	big := strings.Repeat("x", 2100)
	tests := []struct {
		name, body string
		field      string // "" when valid
		reason     string
	}{
		{"fcm topic", `"targets":{"topics":[{"platform":"fcm","topic":"news"}]},"notification":{"title":"t"}`, "", ""},
		{"fcm condition", `"targets":{"topics":[{"platform":"fcm","condition":"'a' in topics && ('b' in topics || !'c' in topics)"}]},"notification":{"title":"t"}`, "", ""},
		{"mi topic and all", `"targets":{"topics":[{"platform":"mi","topic":"news"},{"platform":"mi","all":true}]},"notification":{"title":"t","body":"b"}`, "", ""},
		{"mixed", `"targets":{"topics":[{"platform":"fcm","topic":"news"},{"platform":"mi","topic":"news"}]},"notification":{"title":"t","body":"b"}`, "", ""},
		{"silent topic", `"targets":{"topics":[{"platform":"fcm","topic":"sync"}]},"notification":{"silent":true,"data":{"cmd":"x"}}`, "", ""},
		{"empty list", `"targets":{"topics":[]},"notification":{"title":"t"}`, "targets.topics", "at least one"},
		{"topics and tag", `"targets":{"topics":[{"platform":"fcm","topic":"n"}],"tag":"x"},"notification":{"title":"t"}`, "targets", "exactly one"},
		{"topics with a platform filter", `"targets":{"topics":[{"platform":"fcm","topic":"n"}],"platforms":["fcm"]},"notification":{"title":"t"}`, "targets.platforms", "topics name"},
		{"apns topic", `"targets":{"topics":[{"platform":"apns","topic":"n"}]},"notification":{"title":"t"}`, "targets.topics[0].platform", "APNs has no topics"},
		{"no platform", `"targets":{"topics":[{"topic":"n"}]},"notification":{"title":"t"}`, "targets.topics[0].platform", "required"},
		{"unknown platform", `"targets":{"topics":[{"platform":"hms","topic":"n"}]},"notification":{"title":"t"}`, "targets.topics[0].platform", "unknown"},
		{"nothing set", `"targets":{"topics":[{"platform":"fcm"}]},"notification":{"title":"t"}`, "targets.topics[0]", "exactly one"},
		{"topic and condition", `"targets":{"topics":[{"platform":"fcm","topic":"n","condition":"'n' in topics"}]},"notification":{"title":"t"}`, "targets.topics[0]", "exactly one"},
		{"fcm all", `"targets":{"topics":[{"platform":"fcm","all":true}]},"notification":{"title":"t"}`, "targets.topics[0].all", "FCM has no all-devices"},
		{"fcm prefixed topic", `"targets":{"topics":[{"platform":"fcm","topic":"/topics/news"}]},"notification":{"title":"t"}`, "targets.topics[0].topic", "without the /topics/"},
		{"fcm bad topic", `"targets":{"topics":[{"platform":"fcm","topic":"news today"}]},"notification":{"title":"t"}`, "targets.topics[0].topic", "FCM topic names"},
		{"mi condition", `"targets":{"topics":[{"platform":"mi","condition":"'a' in topics"}]},"notification":{"title":"t","body":"b"}`, "targets.topics[0].condition", "FCM's"},
		{"mi topic with a comma", `"targets":{"topics":[{"platform":"mi","topic":"a,b"}]},"notification":{"title":"t","body":"b"}`, "targets.topics[0].topic", "commas"},
		{"repeated topic", `"targets":{"topics":[{"platform":"fcm","topic":"n"},{"platform":"fcm","topic":"n"}]},"notification":{"title":"t"}`, "targets.topics[1]", "repeats targets.topics[0]"},
		{"mi title only", `"targets":{"topics":[{"platform":"mi","all":true}]},"notification":{"title":"t"}`, "notification.body", "MiPush"},
		{"fcm topic too big", `"targets":{"topics":[{"platform":"fcm","topic":"n"}]},"notification":{"body":"` + big + `"}`, "targets.topics[0]", "2048"},
		{"condition may be bigger", `"targets":{"topics":[{"platform":"fcm","condition":"'n' in topics"}]},"notification":{"body":"` + big + `"}`, "", ""},
		{"condition with six topics", `"targets":{"topics":[{"platform":"fcm","condition":"'a' in topics || 'b' in topics || 'c' in topics || 'd' in topics || 'e' in topics || 'f' in topics"}]},"notification":{"title":"t"}`, "targets.topics[0].condition", "at most 5"},
		{"condition unbalanced", `"targets":{"topics":[{"platform":"fcm","condition":"('a' in topics"}]},"notification":{"title":"t"}`, "targets.topics[0].condition", "missing )"},
		{"condition dangling operator", `"targets":{"topics":[{"platform":"fcm","condition":"'a' in topics &&"}]},"notification":{"title":"t"}`, "targets.topics[0].condition", "topic is expected"},
		{"condition two atoms", `"targets":{"topics":[{"platform":"fcm","condition":"'a' in topics 'b' in topics"}]},"notification":{"title":"t"}`, "targets.topics[0].condition", "unexpected"},
		{"condition without in topics", `"targets":{"topics":[{"platform":"fcm","condition":"'a'"}]},"notification":{"title":"t"}`, "targets.topics[0].condition", "in topics"},
		{"condition with a bad name", `"targets":{"topics":[{"platform":"fcm","condition":"'a b' in topics"}]},"notification":{"title":"t"}`, "targets.topics[0].condition", "topic name"},
		{"condition with a word", `"targets":{"topics":[{"platform":"fcm","condition":"'a' in topicsx"}]},"notification":{"title":"t"}`, "targets.topics[0].condition", "in topics"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkIntake(t, head+tc.body+"}", tc.field, tc.reason) })
	}
}

// Topic keys name topic outcomes in feedback: valid feedback tokens, never
// mistaken for device tokens.
func TestTopicKeys(t *testing.T) {
	cond := events.Topic{Platform: events.FCM, Condition: "'a' in topics && 'b' in topics"}
	for _, c := range []struct {
		t    events.Topic
		want string
	}{
		{events.Topic{Platform: events.FCM, Topic: "news"}, "topic:news"},
		{events.Topic{Platform: events.Mi, Topic: "news"}, "topic:news"},
		{events.Topic{Platform: events.Mi, All: true}, "broadcast:all"},
		{cond, "condition:"},
	} {
		k := c.t.Key()
		if !strings.HasPrefix(k, c.want) || !events.IsTopicKey(k) {
			t.Errorf("key of %+v = %q, want %q…, a topic key", c.t, k, c.want)
		}
		if err := events.CheckToken(k); err != nil {
			t.Errorf("key %q is no valid feedback token: %v", k, err)
		}
	}
	if k := cond.Key(); len(k) != len("condition:")+16 || k != cond.Key() {
		t.Errorf("condition key %q: want 16 stable hex digits", k)
	}
	for _, tok := range []string{"ab12cd", "dXk2:APA91bH-x", "a1B2/c3D+0001=", "topics", "broadcast"} {
		if events.IsTopicKey(tok) {
			t.Errorf("device token %q taken for a topic key", tok)
		}
	}
}

// A topic job carries its topics; every token must be one of their keys.
func TestDecodeTopicJob(t *testing.T) {
	ok := `{"id":"j","app":"shop","platform":"fcm","tokens":["topic:news"],"topics":[{"platform":"fcm","topic":"news"},{"platform":"fcm","topic":"more"}],"notification":{"title":"t"}}`
	j, err := events.DecodeJob([]byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	if tp := j.TopicsByKey()["topic:news"]; tp.Topic != "news" {
		t.Fatalf("TopicsByKey: %+v", j.TopicsByKey())
	}
	for name, body := range map[string]string{
		"unknown key":    `{"id":"j","app":"shop","platform":"fcm","tokens":["topic:other"],"topics":[{"platform":"fcm","topic":"news"}],"notification":{}}`,
		"other platform": `{"id":"j","app":"shop","platform":"fcm","tokens":["topic:news"],"topics":[{"platform":"mi","topic":"news"}],"notification":{}}`,
		"apns":           `{"id":"j","app":"shop","platform":"apns","tokens":["topic:news"],"topics":[{"platform":"apns","topic":"news"}],"notification":{}}`,
	} {
		if _, err := events.DecodeJob([]byte(body)); !errors.Is(err, events.ErrMalformed) {
			t.Errorf("%s: %v, want ErrMalformed", name, err)
		}
	}
}
