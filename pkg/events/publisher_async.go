package events

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Defaults of an AsyncPublisher, declared once.
const (
	// DefaultAsyncMaxPending is the most intents of an AsyncPublisher
	// published and not yet settled. It stays well below nats.go's own
	// bound per JetStream context (4000 by default), past which nats.go
	// fails a publish with jetstream.ErrTooManyStalledMsgs after 200ms.
	DefaultAsyncMaxPending = 1000
	// DefaultAsyncAckWait bounds the wait for one acknowledgement.
	DefaultAsyncAckWait = 10 * time.Second
)

// ErrConfig is wrapped by every error of AsyncConfig.Validate.
var ErrConfig = errors.New("events: invalid configuration")

// AsyncConfig configures an AsyncPublisher. Zero values take the defaults.
type AsyncConfig struct {
	// MaxPending is the most intents published and not yet settled
	// (acknowledged or failed); PublishAsync waits for room beyond it
	// (default DefaultAsyncMaxPending). The JetStream context bounds its
	// async publishes too (jetstream.WithPublishAsyncMaxPending, 4000 by
	// default) for every publisher sharing it: keep the sum below that.
	MaxPending int
	// AckWait bounds the wait for one acknowledgement (default
	// DefaultAsyncAckWait); past it the intent fails with
	// jetstream.ErrAsyncPublishTimeout. It is also what ends the wait when
	// the connection is closed for good: nats.go fails pending publishes
	// when it starts reconnecting, not when it gives up.
	AckWait time.Duration
}

// Validate reports a negative setting; the errors wrap ErrConfig.
func (c AsyncConfig) Validate() error {
	switch {
	case c.MaxPending < 0:
		return fmt.Errorf("%w: async publisher: max pending %d is negative", ErrConfig, c.MaxPending)
	case c.AckWait < 0:
		return fmt.Errorf("%w: async publisher: ack wait %v is negative", ErrConfig, c.AckWait)
	}
	return nil
}

func (c AsyncConfig) withDefaults() AsyncConfig {
	if c.MaxPending == 0 {
		c.MaxPending = DefaultAsyncMaxPending
	}
	if c.AckWait == 0 {
		c.AckWait = DefaultAsyncAckWait
	}
	return c
}

// PublishError is an intent PublishAsync published that the stream did not
// acknowledge: Err is why (errors.Is matches it, e.g.
// jetstream.ErrNoStreamResponse when no stream takes the subject,
// jetstream.ErrAsyncPublishTimeout after AckWait, nats.ErrDisconnected when
// the connection was lost). It may still have been stored: publish it again
// with the same id, which the stream stores once.
type PublishError struct {
	App, ID string
	Err     error
}

func (e *PublishError) Error() string {
	return fmt.Sprintf("publish intent %s: %v", IntentMsgID(e.App, e.ID), e.Err)
}

func (e *PublishError) Unwrap() error { return e.Err }

// AsyncSummary is what an AsyncPublisher's intents came to.
type AsyncSummary struct {
	// Acked intents are stored; Duplicates (counted in Acked too) were
	// stored before (PubAck.Duplicate), as Publish tells.
	Acked, Duplicates int
	// Failed are the intents not acknowledged, in publish order.
	Failed []*PublishError
}

// Err is nil when no intent failed, else an error matching each failure
// with errors.Is and errors.As (the first *PublishError for As).
func (s AsyncSummary) Err() error {
	if len(s.Failed) == 0 {
		return nil
	}
	return &failedError{s.Failed}
}

// failedError joins the failures of a summary without joining their text:
// there may be thousands.
type failedError struct{ failed []*PublishError }

func (e *failedError) Error() string {
	if len(e.failed) == 1 {
		return e.failed[0].Error()
	}
	return fmt.Sprintf("%d intents not published; the first: %v", len(e.failed), e.failed[0])
}

func (e *failedError) Unwrap() []error {
	errs := make([]error, len(e.failed))
	for i, f := range e.failed {
		errs[i] = f
	}
	return errs
}

// PublishFuture is one intent published by PublishAsync: Done is closed
// once it is settled, acknowledged or failed.
type PublishFuture struct {
	app, id  string
	fut      jetstream.PubAckFuture
	deadline time.Time
	done     chan struct{}
	// Set before done is closed.
	ack *jetstream.PubAck
	err error
}

// ID is the intent's id.
func (f *PublishFuture) ID() string { return f.id }

// Done is closed when the intent is settled.
func (f *PublishFuture) Done() <-chan struct{} { return f.done }

// Wait waits until the intent is settled, or ctx ends, and returns its
// acknowledgement or a *PublishError, as Publish returns them.
func (f *PublishFuture) Wait(ctx context.Context) (*jetstream.PubAck, error) {
	select {
	case <-f.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if f.err != nil {
		return nil, f.err
	}
	return f.ack, nil
}

// await waits for the acknowledgement until the deadline. An answer that
// came while an older intent was awaited counts even if the deadline has
// passed since.
func (f *PublishFuture) await(timer *time.Timer) (*jetstream.PubAck, error) {
	ok, failed := f.fut.Ok(), f.fut.Err()
	select {
	case ack := <-ok:
		return ack, nil
	case err := <-failed:
		return nil, err
	default:
	}
	timer.Reset(time.Until(f.deadline))
	defer timer.Stop()
	select {
	case ack := <-ok:
		return ack, nil
	case err := <-failed:
		return nil, err
	case <-timer.C:
		return nil, jetstream.ErrAsyncPublishTimeout
	}
}

// AsyncPublisher publishes intents without waiting for each
// acknowledgement, for producers that publish many: at most MaxPending
// unsettled at once. It checks and encodes every intent as Publish does,
// and publishes the same message (subject, Nats-Msg-Id, headers).
//
// Every intent PublishAsync accepts is settled: acknowledged, or failed
// with a *PublishError (after at most AckWait). Flush waits for them and
// reports them all; a PublishFuture tells one. Failures are kept until the
// next Flush: a producer that publishes without end flushes now and then.
// An AsyncPublisher is safe for concurrent use and holds no goroutine while
// nothing is pending.
type AsyncPublisher struct {
	p     *Publisher
	cfg   AsyncConfig
	slots chan struct{} // one per pending intent

	mu sync.Mutex
	// queue holds the pending intents, oldest first; one goroutine (reap)
	// settles them in that order, while reaping.
	queue   []*PublishFuture
	reaping bool
	sum     AsyncSummary // since the last Flush
}

// Async returns an asynchronous publisher sharing p's limits and schedule
// horizon.
func (p *Publisher) Async(cfg AsyncConfig) (*AsyncPublisher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &AsyncPublisher{p: p, cfg: cfg, slots: make(chan struct{}, cfg.MaxPending)}, nil
}

// PublishAsync checks in and publishes it without waiting for its
// acknowledgement; while MaxPending intents are pending it waits for room
// first, until ctx ends. An error means in was not published: refused
// (*ValidationError, as by Publish), ctx ended while waiting, or the
// connection refused the message (a *PublishError). Otherwise the future
// and the next Flush tell how it ended.
func (a *AsyncPublisher) PublishAsync(ctx context.Context, in *Intent) (*PublishFuture, error) {
	msg, err := a.p.message(in)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case a.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	f := &PublishFuture{app: in.App, id: in.ID, done: make(chan struct{})}
	if f.fut, err = a.p.js.PublishMsgAsync(msg); err != nil {
		<-a.slots
		return nil, &PublishError{App: in.App, ID: in.ID, Err: err}
	}
	a.mu.Lock()
	// Stamped in queue order, so that deadlines follow it.
	f.deadline = time.Now().Add(a.cfg.AckWait)
	a.queue = append(a.queue, f)
	start := !a.reaping
	a.reaping = true
	a.mu.Unlock()
	if start {
		go a.reap()
	}
	return f, nil
}

// reap settles the pending intents in publish order until none is left.
// Acknowledgements come in that order (one connection, one stream), and
// deadlines follow it, so the oldest is always the next to settle.
func (a *AsyncPublisher) reap() {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		a.mu.Lock()
		if len(a.queue) == 0 {
			a.reaping = false
			a.mu.Unlock()
			return
		}
		f := a.queue[0]
		a.mu.Unlock()

		ack, err := f.await(timer)
		a.mu.Lock()
		a.queue[0] = nil
		a.queue = a.queue[1:]
		if err != nil {
			pe := &PublishError{App: f.app, ID: f.id, Err: err}
			f.err = pe
			a.sum.Failed = append(a.sum.Failed, pe)
		} else {
			f.ack = ack
			a.sum.Acked++
			if ack.Duplicate {
				a.sum.Duplicates++
			}
		}
		a.mu.Unlock()
		close(f.done)
		<-a.slots
	}
}

// Pending is the number of intents published and not yet settled.
func (a *AsyncPublisher) Pending() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.queue)
}

// Flush waits until every intent published before it was called is
// settled, then returns what the intents settled since the previous Flush
// came to, with Err's error when some failed. When ctx ends first it
// returns ctx's error and the intents stay pending for the next Flush.
func (a *AsyncPublisher) Flush(ctx context.Context) (AsyncSummary, error) {
	a.mu.Lock()
	var last *PublishFuture
	if n := len(a.queue); n > 0 {
		last = a.queue[n-1]
	}
	a.mu.Unlock()
	if last != nil {
		// Intents settle in order: once the last is, all are.
		select {
		case <-last.done:
		case <-ctx.Done():
			return AsyncSummary{}, ctx.Err()
		}
	}
	a.mu.Lock()
	sum := a.sum
	a.sum = AsyncSummary{}
	a.mu.Unlock()
	return sum, sum.Err()
}
