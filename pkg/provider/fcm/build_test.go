package fcm

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

var buildNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

// wireJSON is the message as the SDK puts it on the wire, decoded.
func wireJSON(t *testing.T, j *events.Job) map[string]any {
	t.Helper()
	m, err := buildTemplate(j, buildNow, DefaultMaxPayloadBytes)
	if err != nil {
		t.Fatalf("buildTemplate: %v", err)
	}
	msg := messagesFor(m, []string{"tok"})[0]
	b, err := json.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// at walks a dotted path through decoded JSON; nil when absent.
func at(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func TestBuildMapping(t *testing.T) {
	fcmO := func(o events.FCMOverrides) *events.Overrides { return &events.Overrides{FCM: &o} }
	cases := []struct {
		name string
		n    events.Notification
		o    *events.Overrides
		want map[string]any // path → value; nil value: absent
	}{
		{name: "title body and data",
			n: events.Notification{Title: "T", Body: "B", Data: map[string]any{
				"s": "x", "n": 3, "f": 1.5, "b": true, "o": map[string]any{"h": "<&>"}, "z": nil}},
			want: map[string]any{"token": "tok", "notification.title": "T", "notification.body": "B",
				"data.s": "x", "data.n": "3", "data.f": "1.5", "data.b": "true", "data.o": `{"h":"<&>"}`, "data.z": "null",
				"android": nil, "apns": nil, "webpush": nil}},
		{name: "expiry becomes ttl, apns-expiration and webpush TTL",
			n:    events.Notification{Title: "T", Expiry: ptr(buildNow.Add(90 * time.Second))},
			want: map[string]any{"android.ttl": "90s", "apns.headers.apns-expiration": "1772366490", "webpush.headers.TTL": "90"}},
		{name: "past expiry is clamped to zero",
			n:    events.Notification{Title: "T", Expiry: ptr(buildNow.Add(-time.Minute))},
			want: map[string]any{"android.ttl": "0s", "webpush.headers.TTL": "0"}},
		{name: "far expiry is clamped to four weeks",
			n: events.Notification{Title: "T", Expiry: ptr(buildNow.Add(60 * 24 * time.Hour))},
			want: map[string]any{"android.ttl": "2419200s", "webpush.headers.TTL": "2419200",
				"apns.headers.apns-expiration": "1774958400"}}, // buildNow + 30 days
		// Dates past 2262 overflow a time.Duration; 9999 is the JSON maximum.
		{name: "expiry in 2300 is clamped, not overflowed",
			n: events.Notification{Title: "T", Expiry: ptr(time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC))},
			want: map[string]any{"android.ttl": "2419200s", "webpush.headers.TTL": "2419200",
				"apns.headers.apns-expiration": "1774958400"}},
		{name: "expiry in 9999 is clamped, not overflowed",
			n: events.Notification{Title: "T", Expiry: ptr(time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC))},
			want: map[string]any{"android.ttl": "2419200s", "webpush.headers.TTL": "2419200",
				"apns.headers.apns-expiration": "1774958400"}},
		{name: "priority and collapse key",
			n: events.Notification{Title: "T", Priority: events.PriorityHigh, CollapseKey: "score"},
			want: map[string]any{"android.priority": "high", "android.collapse_key": "score",
				"apns.headers.apns-priority": "10", "apns.headers.apns-collapse-id": "score", "webpush.headers.Urgency": "high"}},
		{name: "ios fields",
			n: events.Notification{Title: "T", Sound: "ping", Badge: ptr(3), ThreadID: "th", Category: "cat", MutableContent: true, PushType: "alert"},
			want: map[string]any{"apns.payload.aps.sound": "ping", "apns.payload.aps.badge": 3.0, "apns.payload.aps.thread-id": "th",
				"apns.payload.aps.category": "cat", "apns.payload.aps.mutable-content": 1.0, "apns.headers.apns-push-type": "alert",
				"android.notification.sound": "ping", "android.notification.notification_count": 3.0}},
		{name: "background push has apns priority 5",
			n:    events.Notification{ContentAvailable: true, Priority: events.PriorityHigh, Data: map[string]any{"k": "v"}},
			want: map[string]any{"apns.headers.apns-priority": "5", "apns.payload.aps.content-available": 1.0, "notification": nil}},
		{name: "silent push is a data message, a background push on iOS",
			n: events.Notification{Silent: true, Priority: events.PriorityHigh, Data: map[string]any{"cmd": "sync"}},
			want: map[string]any{"notification": nil, "data.cmd": "sync", "android.priority": "high", "android.notification": nil,
				"apns.headers.apns-push-type": "background", "apns.headers.apns-priority": "5",
				"apns.payload.aps.content-available": 1.0, "apns.payload.aps.alert": nil, "apns.payload.aps.sound": nil}},
		{name: "silent drops what a job built elsewhere would show",
			n: events.Notification{Silent: true, Title: "T", Body: "B", Sound: "ping", Badge: ptr(1), Data: map[string]any{"cmd": "x"}},
			want: map[string]any{"notification": nil, "android.notification": nil, "apns.payload.aps.sound": nil,
				"apns.payload.aps.badge": nil, "apns.payload.aps.content-available": 1.0}},
		{name: "android override merges over derived fields",
			n: events.Notification{Title: "T", Sound: "ping", Priority: events.PriorityHigh, Expiry: ptr(buildNow.Add(time.Minute))},
			o: fcmO(events.FCMOverrides{Android: json.RawMessage(`{"notification":{"channel_id":"news"},"priority":"NORMAL","direct_boot_ok":true}`)}),
			want: map[string]any{"android.notification.channel_id": "news", "android.notification.sound": "ping",
				"android.priority": "normal", "android.ttl": "60s", "android.direct_boot_ok": true}},
		{name: "null in an override removes a derived field",
			n:    events.Notification{Title: "T", CollapseKey: "c"},
			o:    fcmO(events.FCMOverrides{Android: json.RawMessage(`{"collapse_key":null}`)}),
			want: map[string]any{"android": nil, "apns.headers.apns-collapse-id": "c"}},
		{name: "apns override keeps derived aps and adds custom keys",
			n: events.Notification{Title: "T", Sound: "ping"},
			o: fcmO(events.FCMOverrides{APNs: json.RawMessage(`{"headers":{"apns-topic":"com.x"},"payload":{"aps":{"alert":{"title":"iOS"},"interruption-level":"time-sensitive"},"deep":"link"}}`)}),
			want: map[string]any{"apns.headers.apns-topic": "com.x", "apns.payload.aps.sound": "ping", "apns.payload.aps.alert.title": "iOS",
				"apns.payload.aps.interruption-level": "time-sensitive", "apns.payload.deep": "link"}},
		{name: "webpush override and analytics label",
			n: events.Notification{Title: "T"},
			o: fcmO(events.FCMOverrides{Webpush: json.RawMessage(`{"fcm_options":{"link":"https://example.com/x"},"notification":{"icon":"/i.png"}}`), AnalyticsLabel: "spring_sale"}),
			want: map[string]any{"webpush.fcm_options.link": "https://example.com/x", "webpush.notification.icon": "/i.png",
				"fcm_options.analytics_label": "spring_sale"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			j := &events.Job{App: "a", Platform: events.FCM, Tokens: []string{"tok"}, Notification: tc.n, Overrides: tc.o}
			got := wireJSON(t, j)
			for path, want := range tc.want {
				if v := at(got, path); (want == nil) != (v == nil) || (want != nil && v != want) {
					b, _ := json.Marshal(got)
					t.Fatalf("%s = %#v, want %#v\nmessage: %s", path, v, want, b)
				}
			}
		})
	}
}

func TestBuildErrors(t *testing.T) {
	fcmO := func(o events.FCMOverrides) *events.Overrides { return &events.Overrides{FCM: &o} }
	cases := []struct {
		name     string
		n        events.Notification
		o        *events.Overrides
		sentinel error
		field    string
	}{
		{name: "payload too large", n: events.Notification{Body: strings.Repeat("x", 4000), Data: map[string]any{"k": strings.Repeat("y", 100)}},
			sentinel: provider.ErrPayloadTooLarge, field: "payload too large"},
		{name: "data that is not JSON", n: events.Notification{Data: map[string]any{"ch": make(chan int)}},
			sentinel: provider.ErrBadMessage, field: "notification.data"},
		{name: "override that is not an object", o: fcmO(events.FCMOverrides{Android: json.RawMessage(`[1]`)}),
			sentinel: provider.ErrBadMessage, field: "overrides.fcm.android"},
		{name: "override of the wrong type", o: fcmO(events.FCMOverrides{Android: json.RawMessage(`{"data":{"k":1}}`)}),
			sentinel: provider.ErrBadMessage, field: "overrides.fcm.android"},
		{name: "bad ttl", o: fcmO(events.FCMOverrides{Android: json.RawMessage(`{"ttl":"forever"}`)}),
			sentinel: provider.ErrBadMessage, field: "overrides.fcm.android"},
		{name: "field the SDK would drop", o: fcmO(events.FCMOverrides{Android: json.RawMessage(`{"bandwidth_constrained_ok":true}`)}),
			sentinel: provider.ErrBadMessage, field: "overrides.fcm.android.bandwidth_constrained_ok"},
		{name: "nested field the SDK would drop", o: fcmO(events.FCMOverrides{Android: json.RawMessage(`{"notification":{"chanel_id":"typo"}}`)}),
			sentinel: provider.ErrBadMessage, field: "overrides.fcm.android.notification.chanel_id"},
		{name: "bad apns override", o: fcmO(events.FCMOverrides{APNs: json.RawMessage(`{"headers":{"apns-priority":10}}`)}),
			sentinel: provider.ErrBadMessage, field: "overrides.fcm.apns"},
		{name: "bad webpush override", o: fcmO(events.FCMOverrides{Webpush: json.RawMessage(`"x"`)}),
			sentinel: provider.ErrBadMessage, field: "overrides.fcm.webpush"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.n.Title == "" && tc.n.Body == "" && tc.n.Data == nil {
				tc.n.Title = "T"
			}
			j := &events.Job{App: "a", Platform: events.FCM, Tokens: []string{"t1", "t2"}, Notification: tc.n, Overrides: tc.o}
			_, err := buildTemplate(j, buildNow, DefaultMaxPayloadBytes)
			if !errors.Is(err, tc.sentinel) {
				t.Fatalf("err %v, want %v", err, tc.sentinel)
			}
			rs := resultsFor(j.Tokens, err)
			for _, r := range rs {
				if r.Kind != provider.Permanent || !errors.Is(r.Err, tc.sentinel) || !strings.HasPrefix(r.Reason, tc.field) {
					t.Fatalf("result %v %q %v, want permanent with reason starting %q", r.Kind, r.Reason, r.Err, tc.field)
				}
			}
		})
	}
}

func TestMessagesShareTemplate(t *testing.T) {
	tmpl, err := buildTemplate(&events.Job{Notification: events.Notification{Title: "T", Priority: events.PriorityHigh}}, buildNow, DefaultMaxPayloadBytes)
	if err != nil {
		t.Fatal(err)
	}
	ms := messagesFor(tmpl, []string{"a", "b"})
	if ms[0].Token != "a" || ms[1].Token != "b" || tmpl.Token != "" {
		t.Fatalf("tokens %q %q, template %q", ms[0].Token, ms[1].Token, tmpl.Token)
	}
	if ms[0].Android != ms[1].Android {
		t.Fatal("messages of a batch should share the template's configs")
	}
}

// Intake and the sender agree on FCM's 2048-byte limit of a message to a
// topic: what intake accepts is built, what it refuses would be refused here
// too (a condition keeps the 4096 of a token message).
func TestTopicPayloadLimitAgreesWithIntake(t *testing.T) {
	for _, size := range []int{events.FCMMaxTopicPayload, events.FCMMaxTopicPayload + 1} {
		// data {"k": 7, "s": "<pad>"}: a number is counted as its JSON text.
		pad := size - len("T") - len("k") - len("7") - len("s")
		n := events.Notification{Title: "T", Data: map[string]any{"k": 7, "s": strings.Repeat("é", pad/2) + strings.Repeat("x", pad%2)}}
		topics := []events.Topic{{Platform: events.FCM, Topic: "news"}}
		in := events.Intent{ID: "i", App: "a", Targets: events.Targets{Topics: topics}, Notification: n}
		intakeErr := in.Validate(events.Limits{})
		job := &events.Job{App: "a", Platform: events.FCM, Tokens: events.TopicKeys(topics), Topics: topics, Notification: n}
		_, buildErr := buildTemplate(job, buildNow, maxPayload(job, DefaultMaxPayloadBytes))
		if (intakeErr == nil) != (buildErr == nil) || (size <= events.FCMMaxTopicPayload) != (buildErr == nil) {
			t.Fatalf("%d bytes: intake %v, sender %v", size, intakeErr, buildErr)
		}
		job.Topics = []events.Topic{{Platform: events.FCM, Condition: "'news' in topics"}}
		if _, err := buildTemplate(job, buildNow, maxPayload(job, DefaultMaxPayloadBytes)); err != nil {
			t.Fatalf("%d bytes to a condition: %v", size, err)
		}
	}
}
