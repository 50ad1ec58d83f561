package events_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
)

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// A dead letter always fits its limit: whatever is too large is cut, and
// the size and hash of the whole payload say what was lost.
func TestDeadLetterEncodeFits(t *testing.T) {
	jsonBody := []byte(`{"id":"x","pad":"` + strings.Repeat("a", 900_000) + `"}`)
	binBody := bytes.Repeat([]byte{0xff, 0x00, '{'}, 300_000)
	many := make([]string, 20_000)
	for i := range many {
		many[i] = fmt.Sprintf("token-%05d-%s", i, strings.Repeat("t", 40))
	}
	tests := []struct {
		name       string
		body       []byte
		edit       func(*events.DeadLetter)
		limit      int
		truncated  bool
		wantPrefix bool // some of the payload is kept
		omitted    bool // tokens omitted
	}{
		{name: "small json fits whole", body: []byte(`{"id":"a"}`), limit: events.DefaultMaxDeadLetterBytes},
		{name: "small bytes fit whole", body: []byte("boom"), limit: events.DefaultMaxDeadLetterBytes},
		{name: "900 KB json", body: jsonBody, limit: events.DefaultMaxDeadLetterBytes, truncated: true, wantPrefix: true},
		{name: "900 KB bytes", body: binBody, limit: events.DefaultMaxDeadLetterBytes, truncated: true, wantPrefix: true},
		{name: "bytes whose base64 overflows", body: bytes.Repeat([]byte{0xfe}, 450_000), limit: events.DefaultMaxDeadLetterBytes, truncated: true, wantPrefix: true},
		{name: "small limit", body: jsonBody, limit: 16 << 10, truncated: true, wantPrefix: true},
		{name: "huge headers dropped", body: []byte(`{"id":"a"}`), limit: 64 << 10, truncated: true, wantPrefix: true,
			edit: func(d *events.DeadLetter) { d.Headers = map[string][]string{"X-Big": {strings.Repeat("h", 200_000)}} }},
		{name: "huge reason shortened", body: []byte(`{"id":"a"}`), limit: 16 << 10, truncated: true, wantPrefix: true,
			edit: func(d *events.DeadLetter) { d.Reason = strings.Repeat("é", 100_000) }},
		{name: "tokens omitted", body: jsonBody, limit: 64 << 10, truncated: true, omitted: true,
			edit: func(d *events.DeadLetter) { d.Tokens = many }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := events.DeadLetter{Stage: events.StageIntents, App: "demo", Reason: "poison", Attempts: 1,
				At: time.Unix(0, 0).UTC(), Subject: "push.intents.demo", Stream: events.StreamIntents, Seq: 7}
			d.SetPayload(tc.body)
			if tc.edit != nil {
				tc.edit(&d)
			}
			b, err := d.Encode(tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) > tc.limit {
				t.Fatalf("encoded %d bytes, limit %d", len(b), tc.limit)
			}
			var got events.DeadLetter
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			if got.Truncated != tc.truncated {
				t.Fatalf("truncated = %v, want %v", got.Truncated, tc.truncated)
			}
			if got.PayloadSize != len(tc.body) || got.PayloadSHA256 != sha(tc.body) {
				t.Fatalf("size %d sha %s, want %d %s", got.PayloadSize, got.PayloadSHA256, len(tc.body), sha(tc.body))
			}
			if got.Stage != d.Stage || got.Seq != 7 || got.Subject != d.Subject || got.Reason == "" {
				t.Fatalf("lost the locating fields: %+v", got)
			}
			if !tc.truncated {
				if !bytes.Equal(got.Original(), tc.body) {
					t.Fatalf("original %q, want %q", got.Original(), tc.body)
				}
				return
			}
			if got.Original() != nil || len(got.Payload) != 0 {
				t.Fatal("a truncated dead letter must not offer a replayable original")
			}
			if tc.wantPrefix && (len(got.PayloadBytes) == 0 || !bytes.HasPrefix(tc.body, got.PayloadBytes)) {
				t.Fatalf("payload prefix of %d bytes is not the original's start", len(got.PayloadBytes))
			}
			if tc.omitted && (got.TokensOmitted == 0 || len(got.Tokens)+got.TokensOmitted != len(many) ||
				len(got.Tokens) == 0 || got.Tokens[0] != many[0]) {
				t.Fatalf("tokens kept %d, omitted %d", len(got.Tokens), got.TokensOmitted)
			}
		})
	}
}

func TestDeadLetterEncodeTooSmallLimit(t *testing.T) {
	d := events.DeadLetter{Stage: events.StageIntents, Reason: "x"}
	d.SetPayload([]byte("boom"))
	if _, err := d.Encode(20); !errors.Is(err, events.ErrDeadLetterTooLarge) {
		t.Fatalf("err = %v, want ErrDeadLetterTooLarge", err)
	}
}
