package consumer

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	dto "github.com/prometheus/client_model/go"

	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// withConn is a JetStream handle that exposes its connection, as
// jetstream.JetStream does.
type withConn struct {
	acceptAll
	nc *nats.Conn
}

func (w withConn) Conn() *nats.Conn { return w.nc }

// replyMsg is a delivered message whose acknowledgements go to reply.
type replyMsg struct {
	lostMsg
	reply string
}

func (m replyMsg) Reply() string { return m.reply }

// An ack the consumer leader does not confirm at once (a leader being
// elected) is sent again, and counted in pushfleet_ack_retries_total.
func TestUnconfirmedAckIsRetriedAndCounted(t *testing.T) {
	nc, _ := natstest.Connect(t, natstest.RunServer(t))
	var tries atomic.Int32
	sub, err := nc.Subscribe("test.ack.reply", func(m *nats.Msg) {
		if tries.Add(1) == 1 {
			return // the first ack reaches no leader
		}
		_ = m.Respond(nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	m := metrics.New()
	r, err := New(withConn{nc: nc}, Config{Stream: events.StreamIntents, Durable: "test", Stage: events.StageIntents,
		AckWait: 30 * time.Second}, nil, m)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.acknowledge(context.Background(), replyMsg{reply: "test.ack.reply"}, opAck, 0, ""); err != nil {
		t.Fatalf("ack: %v", err)
	}
	var pb dto.Metric
	if err := m.AckRetries.WithLabelValues(events.StageIntents, opAck).Write(&pb); err != nil {
		t.Fatal(err)
	}
	if tries.Load() != 2 || pb.GetCounter().GetValue() != 1 {
		t.Fatalf("%d tries, %v retries counted; want 2 tries, 1 retry", tries.Load(), pb.GetCounter().GetValue())
	}
}
