package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// batchJSON is the batch form as encoding/json writes it: the reference
// AppendFeedbackBatch must match byte for byte.
type batchJSON struct {
	App      string          `json:"app"`
	Platform events.Platform `json:"platform"`
	Events   []eventJSON     `json:"events"`
}

type eventJSON struct {
	Token      string         `json:"token"`
	Outcome    events.Outcome `json:"outcome"`
	Reason     string         `json:"reason,omitempty"`
	IntentID   string         `json:"intent_id,omitempty"`
	JobID      string         `json:"job_id,omitempty"`
	At         time.Time      `json:"at"`
	ProviderAt *time.Time     `json:"provider_at,omitempty"`
	NewToken   string         `json:"new_token,omitempty"`
}

func referenceBatch(t testing.TB, fbs []events.Feedback) []byte {
	t.Helper()
	b := batchJSON{App: fbs[0].App, Platform: fbs[0].Platform}
	for _, f := range fbs {
		b.Events = append(b.Events, eventJSON{f.Token, f.Outcome, f.Reason, f.IntentID, f.JobID, f.At, f.ProviderAt, f.NewToken})
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(b); err != nil {
		t.Fatal(err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// AppendFeedbackBatch writes what encoding/json would, for every field
// and every string a provider may put in a reason, and what it writes
// decodes to the same events.
func TestAppendFeedbackBatchMatchesEncodingJSON(t *testing.T) {
	at := time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.UTC)
	local := time.Date(2026, 11, 20, 8, 30, 0, 0, time.FixedZone("", -(3*3600+30*60)))
	ev := func(token string, o events.Outcome, reason string) events.Feedback {
		return events.Feedback{App: "shop", Platform: events.APNs, Token: token, Outcome: o, Reason: reason,
			IntentID: "order-4711", JobID: "order-4711.apns.0", At: at}
	}
	replaced := ev("aa01", events.TokenReplaced, "")
	replaced.NewToken = "bb02"
	withProvider := ev("cc03", events.InvalidToken, "Unregistered")
	withProvider.ProviderAt = &local
	bare := events.Feedback{App: "shop", Platform: events.APNs, Token: "", Outcome: events.Cancelled}
	fbs := []events.Feedback{
		ev("dd04", events.Delivered, ""),
		withProvider,
		replaced,
		bare,
		ev("ee05", events.Failed, "quote \" backslash \\ newline \n tab \t cr \r bs \b ff \f nul \x00 unit \x1f del \x7f"),
		ev("ff06", events.Dead, "html <b>&amp;</b> line sep \u2028 para sep \u2029 é 日本 😀"),
		ev("0a07", events.Expired, "invalid utf-8 \xff\xfe and a cut rune \xe6\x97"),
	}
	got, err := events.AppendFeedbackBatch([]byte("prefix"), fbs)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := bytes.CutPrefix(got, []byte("prefix"))
	if !ok {
		t.Fatal("dst not appended to")
	}
	if want := referenceBatch(t, fbs); !bytes.Equal(got, want) {
		t.Fatalf("encoded\n%s\nwant\n%s", got, want)
	}
	fbs = fbs[:4] // the reasons above are not valid UTF-8 all through
	got, err = events.AppendFeedbackBatch(nil, fbs)
	if err != nil {
		t.Fatal(err)
	}
	back, err := events.DecodeFeedbackEvents(got)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != len(fbs) {
		t.Fatalf("%d events back, want %d", len(back), len(fbs))
	}
	for i := range fbs {
		if !sameFeedback(&back[i], &fbs[i]) {
			t.Errorf("event %d: %+v, want %+v", i, back[i], fbs[i])
		}
	}
}

// sameFeedback compares two events, their times as instants.
func sameFeedback(a, b *events.Feedback) bool {
	if !a.At.Equal(b.At) || !sameTime(a.ProviderAt, b.ProviderAt) {
		return false
	}
	ac, bc := *a, *b
	ac.At, ac.ProviderAt, bc.At, bc.ProviderAt = time.Time{}, nil, time.Time{}, nil
	return reflect.DeepEqual(ac, bc)
}

func TestAppendFeedbackBatchRefuses(t *testing.T) {
	ok := events.Feedback{App: "shop", Platform: events.APNs, Token: "aa", Outcome: events.Delivered}
	otherApp, otherPlatform, farFuture := ok, ok, ok
	otherApp.App = "demo"
	otherPlatform.Platform = events.FCM
	farFuture.At = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		fbs   []events.Feedback
		mixed bool
	}{
		{"nothing", nil, false},
		{"too many", make([]events.Feedback, events.MaxFeedbackBatch+1), false},
		{"two apps", []events.Feedback{ok, otherApp}, true},
		{"two platforms", []events.Feedback{ok, otherPlatform}, true},
		{"a time JSON cannot hold", []events.Feedback{ok, farFuture}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := events.AppendFeedbackBatch(nil, tt.fbs)
			if err == nil || errors.Is(err, events.ErrMixedBatch) != tt.mixed {
				t.Fatalf("%s, %v; want an error (mixed=%v)", b, err, tt.mixed)
			}
		})
	}
}

// One bad event refuses the whole batch, and the error says which.
func TestDecodeFeedbackEventsNamesTheBadEvent(t *testing.T) {
	body := `{"app":"shop","platform":"apns","events":[` +
		`{"token":"aa","outcome":"delivered","at":"2026-11-25T10:00:00Z"},` +
		`{"token":"bb","outcome":"invalid_token","at":"2026-11-25T10:00:00Z"},` +
		`{"token":"c c","outcome":"invalid_token","at":"2026-11-25T10:00:00Z"}]}`
	fbs, err := events.DecodeFeedbackEvents([]byte(body))
	if !errors.Is(err, events.ErrMalformed) || !strings.Contains(err.Error(), "event 2: token") || fbs != nil {
		t.Fatalf("%v, %v; want ErrMalformed naming event 2's token", fbs, err)
	}
}
