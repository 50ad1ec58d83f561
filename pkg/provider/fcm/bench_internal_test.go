package fcm

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"firebase.google.com/go/v4/messaging"
	"google.golang.org/api/option"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

func benchJob(overrides bool) *events.Job {
	exp := time.Now().Add(time.Hour)
	j := &events.Job{App: "a", Platform: events.FCM, Tokens: make([]string, MaxBatch), Notification: events.Notification{
		Title: "Goal!", Body: "2-1 in the 89th minute", Sound: "default", Priority: events.PriorityHigh,
		CollapseKey: "score", Expiry: &exp, Data: map[string]any{"match": "123", "minute": 89, "home": true},
	}}
	for i := range j.Tokens {
		j.Tokens[i] = "token-" + string(rune('a'+i%26))
	}
	if overrides {
		j.Overrides = &events.Overrides{FCM: &events.FCMOverrides{
			Android: json.RawMessage(`{"notification":{"channel_id":"scores","color":"#00ff00"}}`),
			APNs:    json.RawMessage(`{"payload":{"aps":{"interruption-level":"time-sensitive"}}}`),
		}}
	}
	return j
}

// BenchmarkBuild measures turning a job into its message template (once
// per job) and into the per-token messages (500 here).
func BenchmarkBuild(b *testing.B) {
	for _, bc := range []struct {
		name      string
		overrides bool
	}{{"template", false}, {"template+overrides", true}} {
		b.Run(bc.name, func(b *testing.B) {
			j := benchJob(bc.overrides)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := buildTemplate(j, time.Now(), DefaultMaxPayloadBytes); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("messages-500", func(b *testing.B) {
		j := benchJob(false)
		tmpl, err := buildTemplate(j, time.Now(), DefaultMaxPayloadBytes)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			messagesFor(tmpl, j.Tokens)
		}
	})
	b.Run("wire-json-1", func(b *testing.B) {
		// What the SDK then spends per message to encode it, for scale.
		tmpl, err := buildTemplate(benchJob(true), time.Now(), DefaultMaxPayloadBytes)
		if err != nil {
			b.Fatal(err)
		}
		m := messagesFor(tmpl, []string{"tok"})[0]
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(m); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// sdkError returns the Admin SDK's error for an FCM answer (status, body).
func sdkError(b *testing.B, status int, retryAfter, body string) error {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	defer srv.Close()
	c, err := newMessagingClient(context.Background(), messaging.NewClient, "p",
		option.WithHTTPClient(srv.Client()), option.WithEndpoint(srv.URL+"/v1"))
	if err != nil {
		b.Fatal(err)
	}
	_, err = c.Send(context.Background(), &messaging.Message{Token: "t"})
	if err == nil {
		b.Fatal("no error")
	}
	return err
}

// BenchmarkClassify measures mapping an SDK error to a Result.
func BenchmarkClassify(b *testing.B) {
	cases := []struct {
		name       string
		kind       provider.Kind
		status     int
		retryAfter string
		body       string
	}{
		{"UNREGISTERED", provider.InvalidToken, 404, "", `{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}`},
		{"INVALID_ARGUMENT-token", provider.InvalidToken, 400, "", `{"error":{"code":400,"message":"The registration token is not a valid FCM registration token","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"INVALID_ARGUMENT"}]}}`},
		{"QUOTA_EXCEEDED", provider.Retry, 429, "60", `{"error":{"code":429,"message":"Quota exceeded.","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"QUOTA_EXCEEDED"}]}}`},
	}
	ctx := context.Background()
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			err := sdkError(b, bc.status, bc.retryAfter, bc.body)
			b.ReportAllocs()
			for b.Loop() {
				if r := classify(ctx, err, time.Now()); r.Kind != bc.kind {
					b.Fatalf("kind %v (%s), want %v", r.Kind, r.Reason, bc.kind)
				}
			}
		})
	}
	b.Run("delivered", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			classify(ctx, nil, time.Now())
		}
	})
}
