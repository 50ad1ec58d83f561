package consumer

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	dto "github.com/prometheus/client_model/go"

	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// lostMsg is a message whose acknowledgements all fail, as on a connection
// that just closed.
type lostMsg struct{ err error }

func (m lostMsg) Metadata() (*jetstream.MsgMetadata, error) {
	return &jetstream.MsgMetadata{Stream: events.StreamIntents, NumDelivered: 1,
		Sequence: jetstream.SequencePair{Stream: 1}}, nil
}
func (lostMsg) Data() []byte                       { return []byte(`{}`) }
func (lostMsg) Headers() nats.Header               { return nil }
func (lostMsg) Subject() string                    { return "push.intents.demo" }
func (lostMsg) Reply() string                      { return "" }
func (m lostMsg) Ack() error                       { return m.err }
func (m lostMsg) DoubleAck(context.Context) error  { return m.err }
func (m lostMsg) Nak() error                       { return m.err }
func (m lostMsg) NakWithDelay(time.Duration) error { return m.err }
func (m lostMsg) InProgress() error                { return m.err }
func (m lostMsg) Term() error                      { return m.err }
func (m lostMsg) TermWithReason(string) error      { return m.err }

// acceptAll is a JetStream that takes every dead letter.
type acceptAll struct{ JetStream }

func (acceptAll) PublishMsg(context.Context, *nats.Msg, ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	return &jetstream.PubAck{}, nil
}

// Acks, naks, terms and in-progress signals that fail are counted by
// operation, not discarded.
func TestAckErrorsCounted(t *testing.T) {
	m := metrics.New()
	r, err := New(acceptAll{}, Config{Stream: events.StreamIntents, Durable: "test", Stage: events.StageIntents}, nil, m)
	if err != nil {
		t.Fatal(err)
	}
	msg := lostMsg{err: nats.ErrConnectionClosed}
	for _, v := range []Verdict{Done(), RetryAfter(0, "provider", "503"), DeadLetter("demo", "invalid", "bad")} {
		r.settle(context.Background(), msg, v, 1)
	}
	stop := r.keepAlive(msg, 5*time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for count(t, m, opInProgress) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	for _, op := range []string{opAck, opNak, opTerm, opInProgress} {
		if count(t, m, op) < 1 {
			t.Errorf("ack_errors_total{op=%q} not counted", op)
		}
	}
	// A keep-alive after the message was settled is no error.
	m2 := metrics.New()
	r.m = m2
	stop = r.keepAlive(lostMsg{err: jetstream.ErrMsgAlreadyAckd}, time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	stop()
	if n := count(t, m2, opInProgress); n != 0 {
		t.Fatalf("in-progress after settle counted %v times", n)
	}
}

func count(t *testing.T, m *metrics.Fleet, op string) float64 {
	t.Helper()
	var pb dto.Metric
	if err := m.AckErrors.WithLabelValues(events.StageIntents, op).Write(&pb); err != nil {
		t.Fatal(err)
	}
	return pb.GetCounter().GetValue()
}

// A dead letter's header and term reason is one line of at most 200 bytes,
// cut at a rune boundary, whatever the handler's reason holds.
func TestHeaderValue(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "plain", "plain"},
		{"control characters", "two\r\nlines\x00", "two  lines "},
		{"long", strings.Repeat("a", 300), strings.Repeat("a", 200)},
		{"long runes", strings.Repeat("é", 150), strings.Repeat("é", 100)},
		{"cut inside a rune", "a" + strings.Repeat("é", 150), "a" + strings.Repeat("é", 99)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := headerValue(tc.in); got != tc.want {
				t.Fatalf("headerValue = %q, want %q", got, tc.want)
			}
		})
	}
}
