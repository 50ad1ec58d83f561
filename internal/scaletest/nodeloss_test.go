package scaletest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// nodeLossSize is the load of a node-loss run.
type nodeLossSize struct {
	intents, tokens int           // intents of tokens APNs tokens each
	rate            float64       // intents a second
	down            time.Duration // how long the victim stays down
	senders         int
	ackWait         time.Duration // the services' --ack-wait, when set
}

// The node leading the streams and consumers in use (intents, jobs,
// feedback, the token and intent-id buckets, and the dispatcher's,
// apns-sender's and sink's consumers) is killed with SIGKILL while a paced
// load runs, and restarted from its store later. Nothing is lost, no
// notification is handled twice beyond what was in flight, and the longest
// time without a delivery is reported.
func TestNodeLoss(t *testing.T) {
	requireFull(t)
	runNodeLoss(t, "node-loss", nodeLossSize{intents: 3000, tokens: 5, rate: 150, down: 10 * time.Second, senders: 2})
}

// The CI variant of TestNodeLoss: a smaller load, the same fault.
func TestNodeLossShort(t *testing.T) {
	if testing.Short() {
		t.Skip("builds nats-server and the services and runs a three-node cluster")
	}
	if full() {
		t.Skip("TestNodeLoss runs instead")
	}
	// --ack-wait 10s (docs/SCALING.md): the few deliveries lost with the
	// node come back within it, which keeps the run under a minute.
	runNodeLoss(t, "node-loss-short", nodeLossSize{intents: 600, tokens: 5, rate: 100, down: 4 * time.Second, senders: 1,
		ackWait: 10 * time.Second})
}

func runNodeLoss(t *testing.T, name string, sz nodeLossSize) {
	h := newHarness(t, name)
	if sz.ackWait > 0 {
		h.ackWait = sz.ackWait
	}
	h.sb.APNs.SetLatency(20 * time.Millisecond)
	h.dispatcher("dispatcher", h.c.urls(0))
	for i := range sz.senders {
		h.sender(i, i+1, 0)
	}
	h.sink("feedback-sink", h.c.urls(2))
	victim := h.c.nodes[0]
	led := h.moveLeaders(victim, allInUse()...)
	t.Logf("victim %s leads %s", victim.name, strings.Join(led, ","))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	prog := h.watchProgress()
	defer prog.stop()
	stopTrace := make(chan struct{})
	defer close(stopTrace)
	go h.c.traceConsumers(stopTrace)
	l := h.runLoad(ctx, name, sz.intents, sz.tokens, sz.rate)
	waitFor(t, 60*time.Second, "a third of the intents published", func() bool { return l.published.Load() >= int64(sz.intents/3) })

	before := h.inFlight(sz.tokens)
	killAt := time.Now()
	t.Logf("kill %s at %s", victim.name, killAt.Format("15:04:05.000"))
	h.c.kill(victim)
	after := -1
	waitFor(t, 30*time.Second, "new leaders answer", func() bool {
		after = h.inFlight(sz.tokens)
		return after >= 0 && h.ackPending("PUSH_SEND_APNS", "apns-sender") >= 0
	})
	time.Sleep(max(0, sz.down-time.Since(killAt)))
	h.c.restart(victim, 60*time.Second)
	down := time.Since(killAt)

	l.wait(t, 120*time.Second)
	h.settle(120 * time.Second)
	prog.stop()
	stall, stallEnd, tail := prog.stall(l.endedAt)
	tl := h.tally(max(before, after), stall, tail)
	tl.Extra = append(tl.Extra, fmt.Sprintf("victim=%s led=%s down=%.1fs publish_retries=%d stall_ended=+%.1fs_after_kill",
		victim.name, strings.Join(led, "+"), down.Seconds(), l.retries.Load(), stallEnd.Sub(killAt).Seconds()))
	h.report(tl)
}
