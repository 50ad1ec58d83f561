package scaletest

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/internal/proctest"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// Shape of the scale-out-in run: a backlog of intents of scaleTokens
// tokens, which the dispatcher batches into jobs of up to 100 tokens; each
// sender replica holds one job at a time (--sender-in-flight) and APNs
// answers in scaleLatency, so one replica drains a few hundred
// notifications a second when the CPU allows: what more replicas add is
// visible on two cores.
const (
	scaleIntents  = 2000
	scaleTokens   = 10
	scaleInFlight = 1
	scaleLatency  = 200 * time.Millisecond
	scaleWindow   = 4 * time.Second
)

// A backlog waits for the apns-sender; one replica starts, then a second,
// a third and a fourth, each measured over a window; then they leave one
// by one: SIGTERM (a graceful drain), SIGKILL (its jobs come back after
// the AckWait), SIGTERM, and the last one drains the rest. Each window
// prints the drain rate and the CPU per notification (the senders' own,
// and every process's including the servers, the fake and the test). The
// KEDA table is printed at the backlog's peak, at four replicas and once
// drained.
func TestScaleOutIn(t *testing.T) {
	requireFull(t)
	h := newHarness(t, "scale-out-in")
	h.sb.APNs.SetLatency(scaleLatency)
	h.dispatcher("dispatcher", h.c.urls(0))
	h.sink("feedback-sink", h.c.urls(2))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	l := h.runLoad(ctx, "scale", scaleIntents, scaleTokens, 2000)
	l.wait(t, 120*time.Second)
	waitFor(t, 120*time.Second, "every intent dispatched into jobs", func() bool {
		left, err := h.streamMsgs(events.StreamIntents)
		return err == nil && left == 0
	})
	jobs, _ := h.streamMsgs(events.SendStream(events.APNs))
	t.Logf("backlog: %d jobs of %d tokens", jobs, scaleTokens)
	h.kedaTable("backlog-0-senders")

	prog := h.watchProgress()
	defer prog.stop()
	w := h.newWindows()
	var senders []*proctest.Proc
	for i := range 4 {
		senders = append(senders, h.sender(i, i, scaleInFlight))
		w.measure(len(senders), senders)
		if i == 3 {
			h.kedaTable("4-senders")
		}
	}
	inFlight := 0
	for _, step := range []struct {
		i    int
		kill bool
	}{{3, false}, {2, true}, {1, false}} {
		s := senders[step.i]
		if step.kill {
			inFlight += scaleTokens * scaleInFlight // what it may hold: its jobs come back after the AckWait
			s.Kill(t)
		} else if !s.Terminate(30 * time.Second) {
			t.Fatalf("%s did not drain and exit in 30s after SIGTERM", s.Name())
		}
		w.measure(step.i, senders[:step.i])
	}
	h.settle(180 * time.Second)
	prog.stop()
	h.kedaTable("drained")
	stall, _, _ := prog.stall(time.Now())
	tl := h.tally(inFlight, stall, 0)
	tl.Extra = append(tl.Extra, "rates=["+strings.Join(w.lines, " ")+"]")
	h.report(tl)
}

// streamMsgs is the messages stream holds.
func (h *harness) streamMsgs(stream string) (uint64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	s, err := h.admin.Stream(ctx, stream)
	if err != nil {
		return 0, err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return 0, err
	}
	return info.State.Msgs, nil
}

// windows measures the drain rate and CPU over consecutive windows.
type windows struct {
	h     *harness
	lines []string
}

func (h *harness) newWindows() *windows { return &windows{h: h} }

// measure waits one window with the given replicas running and records it.
func (w *windows) measure(replicas int, running []*proctest.Proc) {
	start, d0, all0 := time.Now(), w.h.sb.APNs.TotalDelivered(), w.h.allCPU()
	var cpu0 time.Duration
	for _, s := range running {
		cpu0 += s.CPU()
	}
	time.Sleep(scaleWindow)
	var cpu1 time.Duration
	for _, s := range running {
		cpu1 += s.CPU()
	}
	w.record(replicas, time.Since(start), w.h.sb.APNs.TotalDelivered()-d0, cpu1-cpu0, w.h.allCPU()-all0)
}

func (w *windows) record(replicas int, d time.Duration, n int64, cpu, all time.Duration) {
	per := func(c time.Duration) string {
		if n == 0 {
			return "-"
		}
		return fmt.Sprintf("%.0fµs", float64(c.Microseconds())/float64(n))
	}
	line := fmt.Sprintf("%d:%.0f/s,sender_cpu=%s,all_cpu=%s", replicas, float64(n)/d.Seconds(), per(cpu), per(all))
	w.lines = append(w.lines, line)
	out := fmt.Sprintf("scale replicas=%d window=%.1fs delivered=%d rate=%.0f/s sender_cpu_per_notification=%s all_cpu_per_notification=%s",
		replicas, d.Seconds(), n, float64(n)/d.Seconds(), per(cpu), per(all))
	w.h.t.Log(out)
	fmt.Println(out)
	summary.add(out)
}

// allCPU is the CPU time of every process of the scenario: the nodes, the
// services (the test's own process included: the fake runs in it).
func (h *harness) allCPU() time.Duration {
	var total time.Duration
	for _, n := range h.c.nodes {
		total += n.proc.CPU()
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		total += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	for _, p := range h.procs() {
		total += p.CPU()
	}
	return total
}
