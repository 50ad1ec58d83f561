package events_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/pushfleet/pushfleet/pkg/events"
)

func TestDecodeIntentErrorsNameTheField(t *testing.T) {
	valid := `"targets":{"tokens":[{"platform":"apns","token":"ab"}]},"notification":{"title":"t"}`
	tests := []struct {
		name      string
		body      string
		wantErr   error
		wantField string
	}{
		{"ok", `{"id":"a","app":"shop",` + valid + `}`, nil, ""},
		{"not json", `{"id":`, events.ErrMalformed, "invalid JSON"},
		{"invalid utf-8", "{\"id\":\"a\xff\"}", events.ErrMalformed, "UTF-8"},
		{"wrong type", `{"id":"a","app":"shop","targets":{"tokens":{}},"notification":{"title":"t"}}`, events.ErrMalformed, "targets.tokens"},
		{"missing id", `{"app":"shop",` + valid + `}`, events.ErrInvalid, "id"},
		{"bad id", `{"id":"a b","app":"shop",` + valid + `}`, events.ErrInvalid, "id"},
		{"missing app", `{"id":"a",` + valid + `}`, events.ErrInvalid, "app"},
		{"no targets", `{"id":"a","app":"shop","targets":{},"notification":{"title":"t"}}`, events.ErrInvalid, "targets"},
		{"unknown platform", `{"id":"a","app":"shop","targets":{"tokens":[{"platform":"gcm","token":"x"}]},"notification":{"title":"t"}}`, events.ErrInvalid, "targets.tokens[0].platform"},
		{"empty token", `{"id":"a","app":"shop","targets":{"tokens":[{"platform":"fcm","token":""}]},"notification":{"title":"t"}}`, events.ErrInvalid, "targets.tokens[0].token"},
		{"bad priority", `{"id":"a","app":"shop","targets":{"alias":"u"},"notification":{"title":"t","priority":"urgent"}}`, events.ErrInvalid, "notification.priority"},
		{"oversized", `{"id":"a","app":"shop","targets":{"alias":"u"},"notification":{"body":"` + strings.Repeat("x", 6000) + `"}}`, events.ErrInvalid, "notification"},
		{"nested typo", `{"id":"a","app":"shop","targets":{"alias":"u"},"notification":{"titel":"t"}}`, events.ErrMalformed, "titel"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := events.DecodeIntent([]byte(tc.body), events.Limits{})
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), tc.wantField) {
				t.Fatalf("err %q does not name %q", err, tc.wantField)
			}
		})
	}
}

func TestTooManyTokens(t *testing.T) {
	in := &events.Intent{ID: "a", App: "shop", Notification: events.Notification{Title: "t"}}
	for range 3 {
		in.Targets.Tokens = append(in.Targets.Tokens, events.Target{Platform: events.FCM, Token: "x"})
	}
	var ve *events.ValidationError
	if err := in.Validate(events.Limits{MaxTokens: 2}); !errors.As(err, &ve) || ve.Field != "targets.tokens" {
		t.Fatalf("err = %v, want a ValidationError on targets.tokens", err)
	}
}

func TestJobIDDependsOnContent(t *testing.T) {
	a := events.JobID("i", events.APNs, 0, []string{"t1", "t2"})
	if a != events.JobID("i", events.APNs, 0, []string{"t1", "t2"}) {
		t.Fatal("job id not deterministic")
	}
	if a == events.JobID("i", events.APNs, 0, []string{"t1"}) {
		t.Fatal("a batch with other tokens got the same id: a redelivery would be deduplicated away")
	}
}
