package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// The decoders face bytes from any producer. Whatever they are given they
// must not panic, must fail with the documented sentinels, and whatever they
// accept must survive an encode/decode round trip unchanged: what a service
// re-publishes (a job from an intent, a dead letter's payload for replay)
// means what it read. Seeds are in testdata/fuzz/<FuzzName>; run with
//
//	go test -run '^$' -fuzz '^FuzzDecodeIntent$' -fuzztime 60s ./pkg/events/
//
// (see docs/FUZZING.md).

func FuzzDecodeIntent(f *testing.F) {
	f.Add([]byte(`{"id":"a","app":"shop","targets":{"tokens":[{"platform":"apns","token":"ab"}]},"notification":{"title":"t"}}`))
	f.Add([]byte(`{"id":"a","app":"shop","targets":{"alias":"u"},"notification":{"body":"b","data":{"k":1.5,"n":null}},"x-extra":{"a":[1,2]}}`))
	f.Add([]byte(`{"id":"a","app":"shop","targets":{"all":true,"platforms":["apns","fcm"]},"notification":{"silent":true,"data":{"c":"x"}}}`))
	f.Add([]byte(`{"id":"a","app":"shop","targets":{"topics":[{"platform":"fcm","condition":"'a' in topics && !('b' in topics || 'c' in topics)"},{"platform":"mi","all":true}]},"notification":{"title":"t","body":"b"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := events.DecodeIntent(b, events.Limits{})
		if err != nil {
			if !errors.Is(err, events.ErrMalformed) && !errors.Is(err, events.ErrInvalid) {
				t.Fatalf("error %v wraps neither ErrMalformed nor ErrInvalid", err)
			}
			var ve *events.ValidationError
			if errors.As(err, &ve) && ve.Field == "" {
				t.Fatalf("validation error without a field: %v", err)
			}
			return
		}
		if in == nil {
			t.Fatal("nil intent without an error")
		}
		enc, err := json.Marshal(in)
		if err != nil {
			t.Fatalf("accepted intent does not encode: %v", err)
		}
		again, err := events.DecodeIntent(enc, events.Limits{})
		if err != nil {
			t.Fatalf("re-encoded intent rejected: %v\ninput:      %q\nre-encoded: %q", err, b, enc)
		}
		if !sameIntent(in, again) {
			t.Fatalf("round trip changed the intent\nfirst:  %#v\nsecond: %#v", in, again)
		}
		enc2, err := json.Marshal(again)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not stable:\n%s\n%s", enc, enc2)
		}
	})
}

// sameIntent compares two intents field by field; times by instant and
// raw JSON by meaning (the encoder compacts what the decoder kept verbatim).
func sameIntent(a, b *events.Intent) bool {
	if a.ID != b.ID || a.App != b.App || !reflect.DeepEqual(a.Targets, b.Targets) ||
		!sameTime(a.SendAt, b.SendAt) || !sameJSON(a.Overrides, b.Overrides) || !sameNotification(a.Notification, b.Notification) {
		return false
	}
	if len(a.Extra) != len(b.Extra) {
		return false
	}
	for k, v := range a.Extra {
		w, ok := b.Extra[k]
		if !ok || !sameJSON(v, w) {
			return false
		}
	}
	return true
}

func sameNotification(a, b events.Notification) bool {
	if !sameTime(a.Expiry, b.Expiry) {
		return false
	}
	a.Expiry, b.Expiry = nil, nil
	return sameJSON(a, b)
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

// sameJSON compares values by their JSON meaning.
func sameJSON(a, b any) bool {
	ab, err1 := json.Marshal(a)
	bb, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		return false
	}
	var av, bv any
	if json.Unmarshal(ab, &av) != nil || json.Unmarshal(bb, &bv) != nil {
		return false
	}
	return reflect.DeepEqual(av, bv)
}

func FuzzDecodeJob(f *testing.F) {
	f.Add([]byte(`{"id":"i.apns.0.1a2b3c4d","intent_id":"i","app":"shop","platform":"apns","tokens":["ab","cd"],"notification":{"title":"t"},"created_at":"2025-01-02T03:04:05Z"}`))
	f.Add([]byte(`{"id":"j","app":"a","platform":"mi","tokens":["x"],"notification":{},"created_at":"0001-01-01T00:00:00Z","attempt":3}`))
	f.Add([]byte(`{"id":"j","app":"a","platform":"mi","tokens":["topic:n","broadcast:all"],"topics":[{"platform":"mi","topic":"n"},{"platform":"mi","all":true}],"notification":{},"created_at":"0001-01-01T00:00:00Z"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		job, err := events.DecodeJob(b)
		if err != nil {
			if !errors.Is(err, events.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if !job.Platform.Valid() || job.App == "" || len(job.Tokens) == 0 {
			t.Fatalf("accepted a job without platform, app or tokens: %#v", job)
		}
		enc, err := json.Marshal(job)
		if err != nil {
			t.Fatalf("accepted job does not encode: %v", err)
		}
		again, err := events.DecodeJob(enc)
		if err != nil {
			t.Fatalf("re-encoded job rejected: %v\ninput:      %q\nre-encoded: %q", err, b, enc)
		}
		if !sameJob(job, again) {
			t.Fatalf("round trip changed the job\nfirst:  %#v\nsecond: %#v", job, again)
		}
	})
}

func sameJob(a, b *events.Job) bool {
	if !a.CreatedAt.Equal(b.CreatedAt) || !sameNotification(a.Notification, b.Notification) || !sameJSON(a.Overrides, b.Overrides) {
		return false
	}
	ac, bc := *a, *b // the rest compares as is
	ac.CreatedAt, ac.Notification, ac.Overrides = bc.CreatedAt, bc.Notification, bc.Overrides
	return reflect.DeepEqual(ac, bc)
}

func FuzzDecodeFeedback(f *testing.F) {
	f.Add([]byte(`{"app":"shop","platform":"apns","token":"ab","outcome":"invalid_token","reason":"Unregistered","intent_id":"i","job_id":"j","at":"2025-01-02T03:04:05Z","provider_at":"2025-01-01T00:00:00.123Z"}`))
	f.Add([]byte(`{"app":"shop","platform":"fcm","token":"t","outcome":"token_replaced","new_token":"u","at":"2025-01-02T03:04:05+02:00"}`))
	// An alias or tag intent cancelled before its audience was resolved:
	// the one event that may name no token.
	f.Add([]byte(`{"app":"shop","platform":"mi","token":"","outcome":"cancelled","reason":"cancelled before resolution","intent_id":"i","at":"2025-01-02T03:04:05Z"}`))
	f.Add([]byte(`{"app":"shop","platform":"apns","outcome":"cancelled","at":"2025-01-02T03:04:05Z"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fb, err := events.DecodeFeedback(b)
		if err != nil {
			if !errors.Is(err, events.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		acceptedFeedback(t, fb)
		enc, err := json.Marshal(fb)
		if err != nil {
			t.Fatalf("accepted feedback does not encode: %v", err)
		}
		again, err := events.DecodeFeedback(enc)
		if err != nil {
			t.Fatalf("re-encoded feedback rejected: %v\ninput:      %q\nre-encoded: %q", err, b, enc)
		}
		if !again.At.Equal(fb.At) || !sameTime(fb.ProviderAt, again.ProviderAt) || !again.EffectiveTime().Equal(fb.EffectiveTime()) {
			t.Fatalf("round trip changed the times: %#v / %#v", fb, again)
		}
		ac, bc := *fb, *again // the rest compares as is
		ac.At, ac.ProviderAt, bc.ProviderAt = bc.At, nil, nil
		if !reflect.DeepEqual(ac, bc) {
			t.Fatalf("round trip changed the feedback\nfirst:  %#v\nsecond: %#v", fb, again)
		}
	})
}

// acceptedFeedback fails t unless fb is what a decoder may accept.
func acceptedFeedback(t *testing.T, fb *events.Feedback) {
	t.Helper()
	if !events.ValidApp(fb.App) || !fb.Platform.Valid() || !slices.Contains(events.Outcomes, fb.Outcome) {
		t.Fatalf("accepted feedback without a valid app, platform or outcome: %#v", fb)
	}
	// Only a cancelled event may name no token; any token named is a
	// sane one, and new_token comes with token_replaced and only then.
	if fb.Token == "" && fb.Outcome != events.Cancelled {
		t.Fatalf("accepted %s feedback without a token: %#v", fb.Outcome, fb)
	}
	if fb.Token != "" {
		if err := events.CheckTokenFor(fb.Platform, fb.Token); err != nil {
			t.Fatalf("accepted feedback with a bad token: %v: %#v", err, fb)
		}
	}
	if (fb.Outcome == events.TokenReplaced) != (fb.NewToken != "") {
		t.Fatalf("accepted new_token %q with outcome %s", fb.NewToken, fb.Outcome)
	}
	if fb.NewToken != "" {
		if err := events.CheckTokenFor(fb.Platform, fb.NewToken); err != nil || fb.NewToken == fb.Token {
			t.Fatalf("accepted a bad new_token (%v): %#v", err, fb)
		}
	}
	_ = fb.EffectiveTime()
}

// DecodeFeedbackEvents reads both forms: whatever it accepts is 1 to
// MaxFeedbackBatch events of one app and platform, each one a decoder may
// accept, and AppendFeedbackBatch writes them as encoding/json would and
// back to the same events.
func FuzzDecodeFeedbackEvents(f *testing.F) {
	f.Add([]byte(`{"app":"shop","platform":"apns","events":[{"token":"ab","outcome":"delivered","intent_id":"i","job_id":"j","at":"2025-01-02T03:04:05Z"},` +
		`{"token":"cd","outcome":"invalid_token","reason":"Unregistered","at":"2025-01-02T03:04:05.5+01:00","provider_at":"2025-01-01T00:00:00Z"}]}`))
	f.Add([]byte(`{"app":"shop","platform":"fcm","events":[{"token":"t","outcome":"confirmed","at":"2025-01-02T03:04:05Z"},{"token":"","outcome":"cancelled","at":"2025-01-02T03:04:05Z"}]}`))
	f.Add([]byte(`{"app":"shop","platform":"mi","events":[]}`))
	f.Add([]byte(`{"app":"shop","platform":"mi","token":"x","events":[{"token":"y","outcome":"failed","at":"2025-01-02T03:04:05Z"}]}`))
	f.Add([]byte(`{"app":"shop","platform":"fcm","token":"t","outcome":"token_replaced","new_token":"u","at":"2025-01-02T03:04:05+02:00"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fbs, err := events.DecodeFeedbackEvents(b)
		if err != nil {
			if !errors.Is(err, events.ErrMalformed) || fbs != nil {
				t.Fatalf("%d events and error %v, want none and ErrMalformed", len(fbs), err)
			}
			return
		}
		if len(fbs) == 0 || len(fbs) > events.MaxFeedbackBatch {
			t.Fatalf("accepted %d events", len(fbs))
		}
		for i := range fbs {
			acceptedFeedback(t, &fbs[i])
			if fbs[i].App != fbs[0].App || fbs[i].Platform != fbs[0].Platform {
				t.Fatalf("one message, two origins: %#v", fbs)
			}
		}
		enc, err := events.AppendFeedbackBatch(nil, fbs)
		if err != nil {
			t.Fatalf("accepted events do not encode: %v", err)
		}
		if want := referenceBatch(t, fbs); !bytes.Equal(enc, want) {
			t.Fatalf("encoded\n%s\nencoding/json:\n%s", enc, want)
		}
		again, err := events.DecodeFeedbackEvents(enc)
		if err != nil || len(again) != len(fbs) {
			t.Fatalf("re-encoded batch: %d events, %v\ninput:      %q\nre-encoded: %q", len(again), err, b, enc)
		}
		for i := range fbs {
			if !sameFeedback(&fbs[i], &again[i]) {
				t.Fatalf("round trip changed event %d\nfirst:  %#v\nsecond: %#v", i, fbs[i], again[i])
			}
		}
	})
}
