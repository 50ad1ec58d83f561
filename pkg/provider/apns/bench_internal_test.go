package apns

import (
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/sideshow/apns2"
)

func benchJob() *events.Job {
	badge := 1
	return &events.Job{
		ID: "intent-1.apns.0", IntentID: "intent-1", App: "demo", Platform: events.APNs,
		Tokens: []string{"a1b2"},
		Notification: events.Notification{
			Title: "New message", Body: "You have a new message from Alice", Sound: "default", Badge: &badge,
			Data: map[string]any{"conversation": "c-123", "sender": "alice"}, ThreadID: "c-123",
		},
	}
}

// BenchmarkBuildMessage is the per-job request build: headers and payload.
func BenchmarkBuildMessage(b *testing.B) {
	job := benchJob()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := buildMessage(job, "com.example.demo", time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNotification is the per-token part of the request build.
func BenchmarkNotification(b *testing.B) {
	m, err := buildMessage(benchJob(), "com.example.demo", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	tok := "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"
	b.ReportAllocs()
	for b.Loop() {
		m.notification(tok)
	}
}

// BenchmarkClassify is the response classification of a 200 and a 410.
func BenchmarkClassify(b *testing.B) {
	ok := &apns2.Response{StatusCode: 200}
	gone := &apns2.Response{StatusCode: 410, Reason: "Unregistered", Timestamp: apns2.Time{Time: time.Unix(1458114061, 0)}}
	goneBody := []byte(`{"reason":"Unregistered","timestamp":1458114061260}`)
	b.Run("200", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			classify("t", ok, nil, &capture{status: 200})
		}
	})
	b.Run("410", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			classify("t", gone, nil, &capture{status: 410, body: goneBody})
		}
	})
}
