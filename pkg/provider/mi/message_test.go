package mi

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

func TestBuildMessage(t *testing.T) {
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	yes, no, seven := true, false, 7
	tests := []struct {
		name    string
		n       events.Notification
		o       *events.MiOverrides
		want    map[string]string // "" value: field must be absent
		wantErr error
	}{
		{name: "plain notification",
			n: events.Notification{Title: "Hi there", Body: "Body & more", Data: map[string]any{"b": 2, "a": "x"}},
			want: map[string]string{"restricted_package_name": "com.example", "title": "Hi there", "description": "Body & more",
				"payload": `{"a":"x","b":2}`, "pass_through": "0", "notify_type": "-1", "notify_id": "", "time_to_live": ""}},
		{name: "data only becomes pass-through",
			n:    events.Notification{Data: map[string]any{"k": "v"}},
			want: map[string]string{"pass_through": "1", "title": "", "description": "", "payload": `{"k":"v"}`}},
		{name: "overrides",
			n: events.Notification{Title: "t", Body: "b"},
			o: &events.MiOverrides{PassThrough: &yes, NotifyType: &seven, ChannelID: "chan-1",
				Extra: map[string]string{"notify_effect": "2", "extra.intent_uri": "intent://x", "channel_id": "loses"}},
			want: map[string]string{"pass_through": "1", "notify_type": "7", "extra.channel_id": "chan-1",
				"extra.notify_effect": "2", "extra.intent_uri": "intent://x"}},
		{name: "silent push is pass-through",
			n:    events.Notification{Silent: true, Data: map[string]any{"cmd": "sync"}},
			want: map[string]string{"pass_through": "1", "payload": `{"cmd":"sync"}`, "title": "", "description": ""}},
		{name: "silent push stays pass-through whatever the override",
			n:    events.Notification{Silent: true, Data: map[string]any{"cmd": "sync"}},
			o:    &events.MiOverrides{PassThrough: &no},
			want: map[string]string{"pass_through": "1"}},
		{name: "pass-through forced off",
			n:    events.Notification{Title: "t", Body: "b"},
			o:    &events.MiOverrides{PassThrough: &no},
			want: map[string]string{"pass_through": "0"}},
		{name: "collapse key and expiry",
			n: events.Notification{Title: "t", Body: "b", CollapseKey: "score", Expiry: at(90 * time.Second)},
			// FNV-1a("score") & 0x7fffffff, computed independently.
			want: map[string]string{"notify_id": "1378848917", "time_to_live": "90000"}},
		{name: "expiry capped at two weeks",
			n:    events.Notification{Title: "t", Body: "b", Expiry: at(30 * 24 * time.Hour)},
			want: map[string]string{"time_to_live": "1209600000"}},
		// Dates past 2262 overflow a time.Duration; 9999 is the JSON maximum.
		{name: "expiry in 2300 capped at two weeks",
			n:    events.Notification{Title: "t", Body: "b", Expiry: ptrTime(time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC))},
			want: map[string]string{"time_to_live": "1209600000"}},
		{name: "expiry in 9999 capped at two weeks",
			n:    events.Notification{Title: "t", Body: "b", Expiry: ptrTime(time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC))},
			want: map[string]string{"time_to_live": "1209600000"}},
		{name: "expired", n: events.Notification{Title: "t", Body: "b", Expiry: at(-time.Second)}, wantErr: ErrExpired},
		{name: "sound resource name",
			n:    events.Notification{Title: "t", Body: "b", Sound: "ding.mp3"},
			want: map[string]string{"extra.sound_uri": "android.resource://com.example/raw/ding"}},
		{name: "sound uri kept",
			n:    events.Notification{Title: "t", Body: "b", Sound: "android.resource://com.example/raw/bell"},
			want: map[string]string{"extra.sound_uri": "android.resource://com.example/raw/bell"}},
		{name: "default sound dropped",
			n:    events.Notification{Title: "t", Body: "b", Sound: "default"},
			want: map[string]string{"extra.sound_uri": ""}},
		{name: "odd sound dropped",
			n:    events.Notification{Title: "t", Body: "b", Sound: "Bell Ring.caf"},
			want: map[string]string{"extra.sound_uri": ""}},
		{name: "sound override wins",
			n:    events.Notification{Title: "t", Body: "b", Sound: "ding"},
			o:    &events.MiOverrides{Extra: map[string]string{"sound_uri": "custom"}},
			want: map[string]string{"extra.sound_uri": "custom"}},
		{name: "unencodable data", n: events.Notification{Data: map[string]any{"f": func() {}}}, wantErr: provider.ErrBadMessage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := BuildMessage(&tc.n, tc.o, "com.example", now)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			form, err := url.ParseQuery(m.Form())
			if err != nil {
				t.Fatalf("form %q: %v", m.Form(), err)
			}
			for k, want := range tc.want {
				if got := form.Get(k); got != want {
					t.Errorf("%s = %q, want %q (form %s)", k, got, want, m.Form())
				}
			}
		})
	}
}

func TestNotifyIDStablePositive(t *testing.T) {
	for _, k := range []string{"a", "score", strings.Repeat("x", 64)} {
		id := notifyID(k)
		if id == 0 || id > 1<<31-1 || id != notifyID(k) {
			t.Fatalf("notifyID(%q) = %d", k, id)
		}
	}
}

func TestTargetBodyEscapes(t *testing.T) {
	n := events.Notification{Title: "t", Body: "b"}
	m, err := BuildMessage(&n, nil, "com.example", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{"a+b/c=", "d e,f", "ü"}
	form, err := url.ParseQuery(string(targetBody(m, "registration_id", ids, false)))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := form.Get("registration_id"), strings.Join(ids, ","); got != want {
		t.Fatalf("registration_id = %q, want %q", got, want)
	}
	form, err = url.ParseQuery(string(targetBody(m, "alias", ids, true)))
	if err != nil {
		t.Fatal(err)
	}
	if got := form["alias"]; len(got) != 3 || got[1] != "d e,f" {
		t.Fatalf("alias = %q", got)
	}
}

func TestContentBytes(t *testing.T) {
	n := events.Notification{Title: "tt", Body: "bbb", Data: map[string]any{"k": "v"}}
	o := &events.MiOverrides{Extra: map[string]string{"x": "12345"}}
	m, err := BuildMessage(&n, o, "com.example", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.ContentBytes(), 2+3+len(`{"k":"v"}`)+5; got != want {
		t.Fatalf("ContentBytes = %d, want %d", got, want)
	}
}

func ptrTime(t time.Time) *time.Time { return &t }
