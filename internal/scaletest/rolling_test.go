package scaletest

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// The three nodes are restarted one at a time while a paced load runs, as
// a chart upgrade does: lame duck mode (leaderships handed over, clients
// moved away), exit, start from the store, wait until healthy, next node.
// Nothing is lost, duplicates stay within what was in flight at each
// restart, and no delivery is dropped by the client (no batch waits a
// whole AckWait).
func TestRollingRestart(t *testing.T) {
	requireFull(t)
	const intents, tokens = 4000, 5
	h := newHarness(t, "rolling-restart")
	h.sb.APNs.SetLatency(20 * time.Millisecond)
	h.dispatcher("dispatcher", h.c.urls(0))
	h.sender(0, 1, 0)
	h.sender(1, 2, 0)
	h.sink("feedback-sink", h.c.urls(2))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	prog := h.watchProgress()
	defer prog.stop()
	stopTrace := make(chan struct{})
	defer close(stopTrace)
	go h.c.traceConsumers(stopTrace)
	l := h.runLoad(ctx, "rr", intents, tokens, 100)
	waitFor(t, 60*time.Second, "the load under way", func() bool { return l.published.Load() >= 300 })

	inFlight := 0
	var steps []string
	for _, n := range h.c.nodes {
		inFlight += max(0, h.inFlight(tokens))
		at := time.Now()
		h.c.lameDuckStop(n)
		stopped := time.Since(at)
		h.c.restart(n, 90*time.Second)
		inFlight += max(0, h.inFlight(tokens)) // what the restart may have cut
		steps = append(steps, fmt.Sprintf("%s:ldm=%.1fs,back=%.1fs", n.name, stopped.Seconds(), time.Since(at).Seconds()))
		time.Sleep(2 * time.Second)
	}
	l.wait(t, 180*time.Second)
	h.settle(120 * time.Second)
	prog.stop()
	stall, _, tail := prog.stall(l.endedAt)
	tl := h.tally(inFlight, stall, tail)
	tl.Extra = append(tl.Extra, fmt.Sprintf("restarts=%v publish_retries=%d", steps, l.retries.Load()))
	h.report(tl)
}
