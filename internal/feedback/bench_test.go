package feedback_test

import (
	"testing"

	"github.com/pushfleet/pushfleet/internal/feedback"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// BenchmarkMsgID is the Nats-Msg-Id of one final outcome, computed for
// every feedback event a sender or the dispatcher publishes.
func BenchmarkMsgID(b *testing.B) {
	f := events.Feedback{App: "bench", IntentID: "intent-4711", JobID: "job-4711-apns-0", Platform: events.APNs,
		Token: "0000000000000000000000000000000000000000000000000000000000000001", Outcome: events.Delivered}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if feedback.MsgID(&f) == "" {
			b.Fatal("no id")
		}
	}
}
