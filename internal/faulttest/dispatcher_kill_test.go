package faulttest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/internal/dispatch"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// Counts of the dispatcher-sigkill scenario: intents of dispatcherKillTokens
// tokens each, spread over the platforms (dispatcherKillJobsPerIntent jobs
// per intent).
const (
	dispatcherKillIntents     = 5
	dispatcherKillIntentsRace = 3
	dispatcherKillTokens      = 2000
	// dispatcherKillJobs jobs are stored when the dispatcher dies.
	dispatcherKillJobs = 4
)

// The dispatcher process is killed with SIGKILL once it has stored the
// first few jobs of a batch of large intents, and restarted. The intents it
// held come back after the AckWait and are split again; the jobs stored
// before the kill are deduplicated by their ids, so every token is delivered
// once. The three senders run as processes too.
func TestDispatcherSIGKILL(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "dispatcher-sigkill")
	apps := h.appsFile()
	for _, p := range events.Platforms {
		h.startProc(senderBinary(p), h.senderArgs(p, apps)...)
	}
	h.runInProcess(services{sink: true})

	// Every intent is stored before the dispatcher starts, so it takes them
	// all at once (it handles up to 32 at a time).
	n := pick(dispatcherKillIntents, dispatcherKillIntentsRace)
	for i := range n {
		tgs := make([]events.Target, dispatcherKillTokens)
		for j := range tgs {
			p := events.Platforms[j%len(events.Platforms)]
			tgs[j] = events.Target{Platform: p, Token: h.token(p, i*dispatcherKillTokens+j)}
		}
		h.publish(intent(fmt.Sprintf("dk-%d", i), tgs))
	}

	// The dispatcher reaches NATS through a gate that lets its first
	// dispatcherKillJobs job publishes through and drops everything after
	// them: fewer than one intent's jobs, so no intent can be acknowledged
	// and the kill falls mid-batch however loaded the machine is.
	gate := newPubGate(t, strings.TrimPrefix(h.js.URL(), "nats://"), events.SendRoot+".", dispatcherKillJobs)
	dispatcher := &proc{h: h, name: "dispatcher", args: []string{"--nats-url", gate.URL(), "--log-level", "info"}}
	t.Cleanup(dispatcher.stop)
	killed := make(chan struct{})
	dispatcher.onStart = func() {
		go func() {
			defer close(killed)
			select {
			case <-gate.Held():
				dispatcher.kill()
			case <-time.After(30 * time.Second):
			}
		}()
	}
	dispatcher.launch()
	dispatcher.onStart = nil
	<-killed
	select {
	case <-gate.Held():
	default:
		t.Fatalf("the dispatcher published no more than %d jobs in 30s", gate.passed.Load())
	}
	h.waitFor(10*time.Second, "the jobs let through stored", func() bool { return h.jobsStored() == dispatcherKillJobs })

	msgs, tokens := h.inFlight(events.StreamIntents, events.DurableDispatcher)
	jobs := h.jobsStored()
	if msgs == 0 {
		t.Fatalf("no intent in flight at the kill (%d jobs stored): the kill was not mid-batch", jobs)
	}
	dispatcher.args = []string{"--log-level", "info"} // straight to the server
	dispatcher.restart()

	h.settle()
	if got := h.ackWait(events.StreamIntents, events.DurableDispatcher); got != ackWait {
		t.Errorf("dispatcher consumer AckWait %v, want the --ack-wait given, %v", got, ackWait)
	}
	tl := h.tally()
	tl.InFlight, tl.InFlightMsgs = tokens, msgs
	want := n * dispatcherKillJobsPerIntent()
	tl.Extra = append(tl.Extra, fmt.Sprintf("jobs_stored_at_kill=%d/%d", jobs, want))
	final := h.jobsStored()
	tl.Extra = append(tl.Extra, fmt.Sprintf("jobs_stored_total=%d", final))
	h.report(tl)
	if tl.DeadLetters != 0 {
		t.Errorf("%d dead letters, want none", tl.DeadLetters)
	}
	if tl.Duplicates != 0 || tl.ProviderDups != 0 {
		t.Errorf("%d duplicate outcomes and %d duplicate deliveries, want none: the jobs stored before the kill were sent again",
			tl.Duplicates, tl.ProviderDups)
	}
	if final != uint64(want) {
		t.Errorf("%d jobs stored in all, want %d: a redelivered intent must not store its jobs twice", final, want)
	}
}

// dispatcherKillJobsPerIntent is the jobs one intent of the scenario
// becomes: its tokens of each platform in batches of the dispatcher's
// default size for that platform.
func dispatcherKillJobsPerIntent() int {
	batch := map[events.Platform]int{
		events.APNs: dispatch.DefaultBatchAPNs, events.FCM: dispatch.DefaultBatchFCM, events.Mi: dispatch.DefaultBatchMi,
		events.HMS: dispatch.DefaultBatchHMS, events.WebPush: dispatch.DefaultBatchWebPush,
	}
	jobs := 0
	for i, p := range events.Platforms {
		tokens := dispatcherKillTokens / len(events.Platforms)
		if i < dispatcherKillTokens%len(events.Platforms) {
			tokens++
		}
		b := batch[p]
		if b == 0 {
			b = dispatch.DefaultBatchCustom
		}
		jobs += (tokens + b - 1) / b
	}
	return jobs
}

// jobsStored is the number of jobs ever stored on the three job streams
// (their last sequence numbers; re-queued retries would count too).
// allDispatched reports whether PUSH_INTENTS is empty: every intent was
// acknowledged, which the dispatcher does once the jobs holding its tokens
// are stored, however they were coalesced.
func (h *harness) allDispatched() bool {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := h.jsc.Stream(ctx, events.StreamIntents)
	if err != nil {
		h.t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	return info.State.Msgs == 0
}

func (h *harness) jobsStored() uint64 {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var n uint64
	for _, p := range events.Platforms {
		s, err := h.jsc.Stream(ctx, events.SendStream(p))
		if err != nil {
			h.t.Fatal(err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			h.t.Fatal(err)
		}
		n += info.State.LastSeq
	}
	return n
}
