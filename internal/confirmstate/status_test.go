package confirmstate_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/confirmstate"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// bucket is an empty push_confirm on an in-process server.
func bucket(t *testing.T) jetstream.KeyValue {
	t.Helper()
	_, js := natstest.Connect(t, natstest.RunServer(t))
	kv, err := js.CreateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: events.ConfirmBucket})
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

func put(t *testing.T, kv jetstream.KeyValue, key, value string) uint64 {
	t.Helper()
	rev, err := kv.PutString(context.Background(), key, value)
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return rev
}

// watchRecord is a watch as the service stores it, written out so that the
// test pins the record's wire form: intent id with tokens aa01 and bb02
// (apns), window from 00:00 to 01:00 with re-sends every 20 minutes.
func watchRecord(id string, next int, flags string) string {
	return fmt.Sprintf(`{"app":"shop","id":%q,`+
		`"intent":{"id":%q,"app":"shop","notification":{"title":"t"},"targets":{"tokens":[{"platform":"apns","token":"aa01"},{"platform":"apns","token":"bb02"}]}},`+
		`"start":"2026-01-01T00:00:00Z","deadline":"2026-01-01T01:00:00Z","every":1200000000000,"resends":2,"next":%d,"sent":%d%s}`,
		id, id, next, next-1, flags)
}

func tokenRecord(platform, token, state string) string {
	return fmt.Sprintf(`{"platform":%q,"token":%q,"state":%q,"at":"2026-01-01T00:05:00Z"}`, platform, token, state)
}

func TestReadStatus(t *testing.T) {
	kv := bucket(t)
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := start.Add(5 * time.Minute)
	// Another intent's token: never listed with these.
	put(t, kv, confirmstate.TokenKey("shop", "other", "aa01"), tokenRecord("apns", "aa01", "confirmed"))
	for _, tc := range []struct {
		name, id string
		// next is the watch's next tick; flags its closing and done.
		next  int
		flags string
		// tokens are the stored token states: platform, token, state.
		tokens     [][3]string
		want       []confirmstate.TokenStatus
		nextResend *time.Time
	}{
		{
			name: "open window: delivered awaits a re-send, unknown tokens are sent",
			id:   "o1", next: 1,
			tokens: [][3]string{
				{"fcm", "ab09", "delivered"}, // an audience's token, not in the intent's list; after apns
				{"apns", "bb02", "delivered"},
			},
			want: []confirmstate.TokenStatus{
				{Platform: events.APNs, Token: "bb02", State: confirmstate.StatePendingResend, At: &at},
				{Platform: events.FCM, Token: "ab09", State: confirmstate.StatePendingResend, At: &at},
				{Platform: events.APNs, Token: "aa01", State: confirmstate.StateSent},
			},
			nextResend: ptr(start.Add(20 * time.Minute)),
		},
		{
			name: "second re-send next",
			id:   "o2", next: 2,
			tokens: [][3]string{{"apns", "aa01", "confirmed"}, {"apns", "bb02", "invalid_token"}},
			want: []confirmstate.TokenStatus{
				{Platform: events.APNs, Token: "aa01", State: string(events.Confirmed), At: &at},
				{Platform: events.APNs, Token: "bb02", State: string(events.InvalidToken), At: &at},
			},
			nextResend: ptr(start.Add(40 * time.Minute)),
		},
		{
			name: "re-sends done, the window's end to come: delivered stays delivered",
			id:   "o3", next: 3,
			tokens: [][3]string{{"apns", "aa01", "delivered"}},
			want: []confirmstate.TokenStatus{
				{Platform: events.APNs, Token: "aa01", State: string(events.Delivered), At: &at},
				{Platform: events.APNs, Token: "bb02", State: confirmstate.StateSent},
			},
		},
		{
			name: "closing",
			id:   "o4", next: 1, flags: `,"closing":true`,
			tokens: [][3]string{{"apns", "aa01", "delivered"}, {"apns", "bb02", "unconfirmed"}},
			want: []confirmstate.TokenStatus{
				{Platform: events.APNs, Token: "aa01", State: string(events.Delivered), At: &at},
				{Platform: events.APNs, Token: "bb02", State: string(events.Unconfirmed), At: &at},
			},
		},
		{
			name: "done",
			id:   "o5", next: 3, flags: `,"closing":true,"done":true`,
			tokens: [][3]string{{"apns", "aa01", "unconfirmed"}},
			want: []confirmstate.TokenStatus{
				{Platform: events.APNs, Token: "aa01", State: string(events.Unconfirmed), At: &at},
				{Platform: events.APNs, Token: "bb02", State: confirmstate.StateSent},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := tc.id
			put(t, kv, confirmstate.WatchKey("shop", id), watchRecord(id, tc.next, tc.flags))
			for _, ts := range tc.tokens {
				put(t, kv, confirmstate.TokenKey("shop", id, ts[1]), tokenRecord(ts[0], ts[1], ts[2]))
			}
			st, err := confirmstate.ReadStatus(context.Background(), kv, "shop", id)
			if err != nil {
				t.Fatal(err)
			}
			if st.Watch.ID != id || st.Watch.App != "shop" || !st.Watch.Start.Equal(start) || st.Watch.Every != 20*time.Minute {
				t.Errorf("watch = %+v", st.Watch)
			}
			if !reflect.DeepEqual(st.Tokens, tc.want) {
				t.Errorf("tokens =\n%s\nwant\n%s", lines(st.Tokens), lines(tc.want))
			}
			switch {
			case (st.NextResend == nil) != (tc.nextResend == nil):
				t.Errorf("next re-send = %v, want %v", st.NextResend, tc.nextResend)
			case st.NextResend != nil && !st.NextResend.Equal(*tc.nextResend):
				t.Errorf("next re-send = %s, want %s", st.NextResend, tc.nextResend)
			}
		})
	}
}

func TestReadStatusErrors(t *testing.T) {
	kv := bucket(t)
	put(t, kv, confirmstate.WatchKey("shop", "bad"), `{"app":`)
	put(t, kv, confirmstate.WatchKey("shop", "bad-intent"), `{"app":"shop","id":"bad-intent","intent":"not an intent"}`)
	for _, tc := range []struct {
		app, id    string
		notWatched bool
	}{
		{"shop", "never", true},
		{"other", "bad", true}, // the same id under another app
		{"shop", "bad", false},
		{"shop", "bad-intent", false},
	} {
		_, err := confirmstate.ReadStatus(context.Background(), kv, tc.app, tc.id)
		if err == nil || errors.Is(err, confirmstate.ErrNotWatched) != tc.notWatched {
			t.Errorf("ReadStatus(%s, %s) = %v, want an error (not watched: %v)", tc.app, tc.id, err, tc.notWatched)
		}
	}
}

// Get and TokenStates return the revisions that compare-and-set needs.
func TestRevisions(t *testing.T) {
	kv := bucket(t)
	wrev := put(t, kv, confirmstate.WatchKey("shop", "o1"), watchRecord("o1", 1, ""))
	key := confirmstate.TokenKey("shop", "o1", "aa01")
	put(t, kv, key, tokenRecord("apns", "aa01", "delivered"))
	trev := put(t, kv, key, tokenRecord("apns", "aa01", "confirmed"))
	ctx := context.Background()
	w, err := confirmstate.Get[confirmstate.Watch](ctx, kv, confirmstate.WatchKey("shop", "o1"))
	if err != nil || w.Revision != wrev || w.Value.Next != 1 {
		t.Fatalf("Get = %+v, %v; want revision %d", w, err, wrev)
	}
	ts, err := confirmstate.TokenStates(ctx, kv, "shop", "o1")
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 1 || ts[key] == nil || ts[key].Revision != trev || ts[key].Value.State != events.Confirmed {
		t.Fatalf("TokenStates = %v; want %s at revision %d, confirmed", ts, key, trev)
	}
	if _, err := confirmstate.Get[confirmstate.Watch](ctx, kv, confirmstate.WatchKey("shop", "none")); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Fatalf("Get of a missing key: %v, want ErrKeyNotFound", err)
	}
}

func ptr[T any](v T) *T { return &v }

func lines(ts []confirmstate.TokenStatus) string {
	var s string
	for _, t := range ts {
		s += fmt.Sprintf("  %s %s %s %v\n", t.Platform, t.Token, t.State, t.At)
	}
	return s
}
