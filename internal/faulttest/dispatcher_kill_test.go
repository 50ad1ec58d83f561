package faulttest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// Counts of the dispatcher-sigkill scenario: intents of dispatcherKillTokens
// tokens each, spread over the three platforms (10 jobs per intent).
const (
	dispatcherKillIntents     = 5
	dispatcherKillIntentsRace = 3
	dispatcherKillTokens      = 2000
)

// The dispatcher process is killed with SIGKILL the moment it has stored
// the first job of a batch of large intents, and restarted. The intents it
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
	var targets []events.Target
	for i := range n {
		tgs := make([]events.Target, dispatcherKillTokens)
		for j := range tgs {
			p := events.Platforms[j%len(events.Platforms)]
			tgs[j] = events.Target{Platform: p, Token: token(p, i*dispatcherKillTokens+j)}
		}
		targets = append(targets, h.publish(intent(fmt.Sprintf("dk-%d", i), tgs))...)
	}

	// Kill it from the first job's publish: it then holds every intent.
	dispatcher := &proc{h: h, name: "dispatcher", args: []string{"--log-level", "info"}}
	t.Cleanup(dispatcher.stop)
	started, killed := make(chan struct{}), make(chan struct{})
	dispatcher.onStart = func() { close(started) }
	var once sync.Once
	sub, err := h.nc.Subscribe(events.SendRoot+".>", func(*nats.Msg) {
		once.Do(func() {
			<-started
			dispatcher.kill()
			close(killed)
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	dispatcher.launch()
	dispatcher.onStart = nil
	select {
	case <-killed:
	case <-time.After(30 * time.Second):
		t.Fatal("the dispatcher published no job in 30s")
	}
	_ = sub.Unsubscribe()

	msgs, tokens := h.inFlight(events.StreamIntents, events.DurableDispatcher)
	jobs := h.jobsStored()
	if msgs == 0 {
		t.Fatalf("no intent in flight at the kill (%d jobs stored): the kill was not mid-batch", jobs)
	}
	dispatcher.restart()

	h.settle()
	tl := h.count(targets)
	tl.InFlight, tl.InFlightMsgs = tokens, msgs
	tl.Extra = append(tl.Extra, fmt.Sprintf("jobs_stored_at_kill=%d/%d", jobs, n*10))
	final := h.jobsStored()
	tl.Extra = append(tl.Extra, fmt.Sprintf("jobs_stored_total=%d", final))
	h.report(tl)
	if tl.DeadLetters != 0 {
		t.Errorf("%d dead letters, want none", tl.DeadLetters)
	}
	if final != uint64(n*10) {
		t.Errorf("%d jobs stored in all, want %d: a redelivered intent must not store its jobs twice", final, n*10)
	}
}

// jobsStored is the number of jobs ever stored on the three job streams
// (their last sequence numbers; re-queued retries would count too).
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
