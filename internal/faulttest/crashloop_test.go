package faulttest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
)

const (
	// crashLoopAttempts is the sender's --max-attempts: deliveries of a
	// message before it is dead-lettered.
	crashLoopAttempts = 2
	// crashLoopMaxCrashes bounds the loop (the job must be dead-lettered
	// after crashLoopAttempts crashes).
	crashLoopMaxCrashes = crashLoopAttempts + 3
	// crashLoopTokens is the tokens of the one job.
	crashLoopTokens = 3
)

// A job that kills its sender every time: APNs never answers, and the
// apns-sender process is SIGKILLed each time it has the job at APNs, then
// restarted (--ack-wait 1s, --max-attempts 2). The handler never reaches a
// verdict, so the runner must dead-letter the job itself once it is
// delivered more than --max-attempts times ("exhausted"), without handing it
// to the handler again. It used to be parked for good by the consumer's
// MaxDeliver instead: no outcome, no dead letter.
func TestCrashLoop(t *testing.T) {
	t.Parallel()
	h := newHarness(t, "crash-loop")
	h.apns.SetLatency(time.Hour) // every request stays unanswered
	h.runInProcess(services{dispatcher: true, sink: true})
	tgs := make([]events.Target, crashLoopTokens)
	for i := range tgs {
		tgs[i] = events.Target{Platform: events.APNs, Token: h.token(events.APNs, i)}
	}
	h.publish(intent("crash-loop", tgs))
	h.waitFor(10*time.Second, "the job stored", func() bool { return h.jobsStored() == 1 })

	// The handler never reaches a verdict by itself: its requests outlast
	// the scenario.
	args := append(h.senderArgs(events.APNs, h.appsFile()),
		"--ack-wait", "1s", "--max-attempts", fmt.Sprint(crashLoopAttempts), "--request-timeout", "5m")
	sender := h.startProc("apns-sender", args...)
	crashes := 0
	var seen int64 // APNs requests made by the senders killed so far
	for ; crashes < crashLoopMaxCrashes; crashes++ {
		var dead bool
		h.waitFor(15*time.Second, "the job at APNs again, or dead-lettered", func() bool {
			dead = h.messages(events.StreamDead) > 0
			return dead || h.apns.Requests() > seen
		})
		if dead {
			break
		}
		sender.kill()
		seen = h.apns.Requests()
		sender.restart()
	}
	if crashes == crashLoopMaxCrashes {
		t.Errorf("no dead letter after %d crashes of the sender holding the job, with --max-attempts %d", crashes, crashLoopAttempts)
	}
	h.apns.SetLatency(0)

	settled := h.settleWithin(15 * time.Second)
	tl := h.tally()
	tl.Extra = append(tl.Extra, fmt.Sprintf("crashes=%d max_attempts=%d apns_requests=%d", crashes, crashLoopAttempts, h.apns.Requests()))
	h.report(tl)
	if !settled {
		t.Errorf("the job is still on %s after %d crashes of its sender: parked, never dead-lettered", events.SendStream(events.APNs), crashes)
	}
	tl.wantEach(t, app, "crash-loop", tgs, kindDead, "a job no handler ever answered")
	if len(tl.letters) != 1 {
		return
	}
	d := tl.letters[0]
	if !strings.Contains(d.Reason, "exhausted") {
		t.Errorf("dead letter reason %q, want it to say the deliveries were exhausted", d.Reason)
	}
	if d.Attempts != crashLoopAttempts+1 {
		t.Errorf("dead-lettered at delivery %d, want %d (the first past --max-attempts %d)", d.Attempts, crashLoopAttempts+1, crashLoopAttempts)
	}
	if got := h.apns.Requests(); got > int64(crashLoopAttempts*crashLoopTokens) {
		t.Errorf("APNs got %d requests for %d tokens: the job reached it after its last allowed delivery", got, crashLoopTokens)
	}
}
