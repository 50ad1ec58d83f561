package scaletest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// The node the dispatcher and the feedback-sink are connected to dies with
// both of them (SIGKILL: a Kubernetes node lost with its pods) while a
// paced load runs; their replacements start against the other nodes. The
// intents the dispatcher held come back after the AckWait and their jobs
// are deduplicated by id; nothing is lost.
func TestServiceNodeLoss(t *testing.T) {
	requireFull(t)
	const intents, tokens = 3000, 5
	h := newHarness(t, "service-node-loss")
	h.sb.APNs.SetLatency(20 * time.Millisecond)
	victim := h.c.nodes[0]
	// Both on the victim alone: they do not fail over, they die with it.
	d := h.dispatcher("dispatcher", victim.url())
	s := h.sink("feedback-sink", victim.url())
	h.sender(0, 1, 0)
	h.sender(1, 2, 0)
	led := h.moveLeaders(victim, allInUse()...)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	prog := h.watchProgress()
	defer prog.stop()
	l := h.runLoad(ctx, "svc", intents, tokens, 100)
	waitFor(t, 60*time.Second, "the load under way", func() bool { return l.published.Load() >= 500 })

	inFlight := max(0, h.inFlight(tokens))
	killAt := time.Now()
	d.Kill(t)
	s.Kill(t)
	h.c.kill(victim)
	// The replacements start once the streams and buckets they open at
	// start have new leaders: started earlier, the dispatcher exits
	// ("token bucket: context deadline exceeded") and Kubernetes would
	// restart it.
	waitFor(t, 60*time.Second, "new leaders for every asset in use", func() bool {
		l := h.c.leaders()
		for _, a := range allInUse() {
			if l[a] == "" || l[a] == victim.name {
				return false
			}
		}
		return true
	})
	elected := time.Since(killAt)
	others := strings.Join([]string{h.c.nodes[1].url(), h.c.nodes[2].url()}, ",")
	h.dispatcher("dispatcher-replacement", others)
	h.sink("feedback-sink-replacement", others)
	replacedIn := time.Since(killAt)
	inFlight += max(0, h.inFlight(tokens))
	time.Sleep(5 * time.Second)
	h.c.restart(victim, 90*time.Second)

	l.wait(t, 180*time.Second)
	h.settle(150 * time.Second)
	prog.stop()
	stall, stallEnd, tail := prog.stall(l.endedAt)
	tl := h.tally(inFlight, stall, tail)
	tl.Extra = append(tl.Extra, fmt.Sprintf("victim=%s(%s) elected_in=%.1fs replacements_ready_in=%.1fs stall_ended=+%.1fs_after_kill publish_retries=%d",
		victim.name, strings.Join(led, "+"), elected.Seconds(), replacedIn.Seconds(), stallEnd.Sub(killAt).Seconds(), l.retries.Load()))
	h.report(tl)
}
