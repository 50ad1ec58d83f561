package consumer

import (
	"testing"
	"time"
)

// The confirmed acknowledgements are the JetStream protocol's bodies, as
// nats.go sends them unconfirmed.
func TestAckBody(t *testing.T) {
	for _, tc := range []struct {
		name   string
		op     string
		delay  time.Duration
		reason string
		want   string
	}{
		{"ack", opAck, 0, "", "+ACK"},
		{"nak with delay", opNak, 1500 * time.Millisecond, "", `-NAK {"delay": 1500000000}`},
		{"nak", opNak, 0, "", "-NAK"},
		{"term with reason", opTerm, 0, "invalid intent", "+TERM invalid intent"},
		{"term", opTerm, 0, "", "+TERM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(ackBody(tc.op, tc.delay, tc.reason)); got != tc.want {
				t.Errorf("ackBody = %q, want %q", got, tc.want)
			}
		})
	}
}
