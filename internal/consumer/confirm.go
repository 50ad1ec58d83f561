package consumer

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Acknowledgements the consumer leader confirms.
//
// An ack, nak or term published without a reply subject is lost without a
// word when it reaches no consumer leader: the node leading the consumer
// died and its successor is not elected yet (4–9s of raft election timeout
// in nats-server), or the service's connection is cut off. The message then
// waits a whole AckWait (30s by default) before it is redelivered, handled
// a second time and, for a job, sent a second time: measured on a
// three-node cluster (internal/scaletest), every notification handled
// during the election stalled for the AckWait and was delivered twice.
// Sent as a request, the leader answers once the acknowledgement is
// applied (replicated, on an R3 consumer), so the runner knows and sends it
// again until one is confirmed.

// Bounds of a confirmed acknowledgement: each try waits confirmTry for the
// answer; tries are spaced by confirmRetryBase doubling to confirmRetryMax;
// all of them stop once the message's AckWait has passed (it is redelivered
// by then anyway) or the runner's context ends.
const (
	confirmTry       = 2 * time.Second
	confirmRetryBase = 100 * time.Millisecond
	confirmRetryMax  = time.Second
)

// ackBody is the wire form of each acknowledgement the runner confirms
// (the JetStream protocol's, as nats.go sends them).
func ackBody(op string, delay time.Duration, reason string) []byte {
	switch op {
	case opNak:
		if delay > 0 {
			return fmt.Appendf(nil, `-NAK {"delay": %d}`, delay.Nanoseconds())
		}
		return []byte("-NAK")
	case opTerm:
		if reason != "" {
			return []byte("+TERM " + reason)
		}
		return []byte("+TERM")
	}
	return []byte("+ACK")
}

// requester is what confirm needs of the connection.
type requester interface {
	RequestWithContext(ctx context.Context, subj string, data []byte) (*nats.Msg, error)
}

// requester returns the connection acknowledgements can be requested on,
// or nil when the JetStream handle does not expose one.
func (r *Runner) requester() requester {
	if nc := r.conn(); nc != nil {
		return nc
	}
	return nil
}

// conn is the runner's NATS connection, or nil when the JetStream handle
// does not expose it.
func (r *Runner) conn() *nats.Conn {
	if c, ok := r.js.(interface{ Conn() *nats.Conn }); ok {
		return c.Conn()
	}
	return nil
}

// acknowledge settles msg with op (ack, nak with delay, term with reason)
// and waits until the consumer leader confirmed it, retrying within the
// message's AckWait. Without a connection to request on (or a reply
// subject) it falls back to the unconfirmed form.
func (r *Runner) acknowledge(ctx context.Context, msg jetstream.Msg, op string, delay time.Duration, reason string) error {
	nc := r.requester()
	if nc == nil || msg.Reply() == "" {
		switch op {
		case opNak:
			return msg.NakWithDelay(delay)
		case opTerm:
			return msg.TermWithReason(reason)
		}
		return msg.Ack()
	}
	body := ackBody(op, delay, reason)
	deadline := time.Now().Add(r.cfg.AckWait)
	var err error
	for attempt := 1; ; attempt++ {
		tctx, cancel := context.WithTimeout(ctx, min(confirmTry, time.Until(deadline)))
		_, err = nc.RequestWithContext(tctx, msg.Reply(), body)
		cancel()
		if err == nil {
			if attempt > 1 {
				r.cfg.Logger.Info(op+" confirmed after retries (consumer leader changed?)", "stage", r.cfg.Stage, "tries", attempt)
			}
			return nil
		}
		wait := Backoff(attempt, confirmRetryBase, confirmRetryMax)
		if ctx.Err() != nil || time.Until(deadline) < wait {
			return fmt.Errorf("%s not confirmed after %d tries: %w", op, attempt, err)
		}
		r.m.AckRetries.WithLabelValues(r.cfg.Stage, op).Inc()
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%s not confirmed after %d tries: %w", op, attempt, err)
		case <-t.C:
		}
	}
}
