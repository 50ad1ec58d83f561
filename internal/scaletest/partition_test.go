package scaletest

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// freeze is how long the partitioned node stays stopped: beyond
// nats-server's largest raft election timeout (9s), so that the others
// elect new leaders while it still believes it leads.
const freeze = 15 * time.Second

// The node leading the streams and consumers in use is frozen with SIGSTOP
// (a partition: its connections stay open, nothing answers) for longer than
// the election timeout, then resumed with SIGCONT, while a paced load runs:
// the others take over, the old leader steps down when it wakes, nothing
// is lost and no notification is sent twice beyond what was in flight.
func TestPartition(t *testing.T) {
	requireFull(t)
	const intents, tokens = 3000, 5
	h := newHarness(t, "partition")
	h.sb.APNs.SetLatency(20 * time.Millisecond)
	h.dispatcher("dispatcher", h.c.urls(1))
	h.sender(0, 1, 0)
	h.sender(1, 2, 0)
	h.sink("feedback-sink", h.c.urls(2))
	victim := h.c.nodes[0]
	led := h.moveLeaders(victim, allInUse()...)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	prog := h.watchProgress()
	defer prog.stop()
	stopTrace := make(chan struct{})
	defer close(stopTrace)
	go h.c.traceConsumers(stopTrace)
	l := h.runLoad(ctx, "part", intents, tokens, 100)
	waitFor(t, 60*time.Second, "the load under way", func() bool { return l.published.Load() >= 500 })

	inFlight := max(0, h.inFlight(tokens))
	if err := victim.proc.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopAt := time.Now()
	time.Sleep(freeze / 2)
	newLeaders := h.c.leaders() // from the nodes still running (the frozen one does not answer)
	inFlight += max(0, h.inFlight(tokens))
	time.Sleep(freeze - time.Since(stopAt))
	if err := victim.proc.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	h.c.waitHealthy(90 * time.Second)

	l.wait(t, 180*time.Second)
	h.settle(120 * time.Second)
	prog.stop()
	stall, stallEnd, tail := prog.stall(l.endedAt)
	tl := h.tally(inFlight, stall, tail)
	tl.Extra = append(tl.Extra, fmt.Sprintf("frozen=%s(%s) for=%s leaders_during=%s stall_ended=+%.1fs_after_stop publish_retries=%d",
		victim.name, strings.Join(led, "+"), freeze, leadersOf(newLeaders), stallEnd.Sub(stopAt).Seconds(), l.retries.Load()))
	h.report(tl)
}

// leadersOf summarises who leads the assets in use.
func leadersOf(m map[string]string) string {
	var out []string
	for _, a := range allInUse() {
		if strings.Contains(a, "/") {
			out = append(out, a[strings.Index(a, "/")+1:]+"@"+m[a])
		}
	}
	return strings.Join(out, ",")
}
