package events_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// benchIntent is an intent of n explicit tokens, 40% APNs, 40% FCM and
// 20% MiPush, with the notification pushbench sends.
func benchIntent(n int) *events.Intent {
	in := &events.Intent{ID: "bench-intent-4711", App: "bench",
		Notification: events.Notification{Title: "pushbench", Body: "Your order has shipped and is on its way.",
			Data: map[string]any{"order": "4711"}}}
	for i := range n {
		var t events.Target
		switch i % 5 {
		case 0, 1:
			t = events.Target{Platform: events.APNs, Token: fmt.Sprintf("%064x", i)}
		case 2, 3:
			t = events.Target{Platform: events.FCM, Token: fmt.Sprintf("fcm%08d:APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx", i)}
		default:
			t = events.Target{Platform: events.Mi, Token: fmt.Sprintf("mi%08d+bench/regid=", i)}
		}
		in.Targets.Tokens = append(in.Targets.Tokens, t)
	}
	return in
}

// BenchmarkDecodeIntent is the dispatcher's first step: parse and validate
// one intent as it arrives from PUSH_INTENTS.
func BenchmarkDecodeIntent(b *testing.B) {
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("tokens=%d", n), func(b *testing.B) {
			raw, err := json.Marshal(benchIntent(n))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := events.DecodeIntent(raw, events.DefaultLimits); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkValidateIntent is validation alone, on a decoded intent.
func BenchmarkValidateIntent(b *testing.B) {
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("tokens=%d", n), func(b *testing.B) {
			in := benchIntent(n)
			b.ReportAllocs()
			for b.Loop() {
				if err := in.Validate(events.DefaultLimits); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncodeJob is the dispatcher's output per batch: one delivery job
// of 1 or 100 APNs tokens encoded for PUSH_SEND_APNS.
func BenchmarkEncodeJob(b *testing.B) {
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("tokens=%d", n), func(b *testing.B) {
			in := benchIntent(n)
			toks := make([]string, n)
			for i := range toks {
				toks[i] = fmt.Sprintf("%064x", i)
			}
			job := events.Job{ID: events.JobID(in.ID, events.APNs, 0, toks), IntentID: in.ID, App: in.App,
				Platform: events.APNs, Tokens: toks, Notification: in.Notification, CreatedAt: time.Now()}
			b.ReportAllocs()
			var size int
			for b.Loop() {
				raw, err := json.Marshal(&job)
				if err != nil {
					b.Fatal(err)
				}
				size = len(raw)
			}
			b.SetBytes(int64(size))
		})
	}
}

// BenchmarkDecodeJob is the sender's first step for one job.
func BenchmarkDecodeJob(b *testing.B) {
	for _, n := range []int{1, 100} {
		b.Run(fmt.Sprintf("tokens=%d", n), func(b *testing.B) {
			toks := make([]string, n)
			for i := range toks {
				toks[i] = fmt.Sprintf("%064x", i)
			}
			raw, err := json.Marshal(&events.Job{ID: "j", IntentID: "i", App: "bench", Platform: events.APNs, Tokens: toks,
				Notification: benchIntent(1).Notification, CreatedAt: time.Now()})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := events.DecodeJob(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
