package consumer

import (
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// feed is the runner's pull iterator, replaced by a fresh one whenever pull
// requests may have been left behind: after a reconnect and after missed
// heartbeats (a consumer leader lost, a server that stopped answering).
//
// Why replace it: nats.go's iterator then forgets what it asked for and
// pulls a whole batch again on the same inbox, while the earlier pull
// requests may still be alive (parked on a consumer leader that survived,
// or queued in the socket of a server that was frozen and resumes). Both
// are served into the iterator's buffer, which holds one batch: the client
// drops the rest ("slow consumer, messages dropped") and the server, which
// delivered them, waits a whole AckWait before it sends them again. A fresh
// iterator pulls on a fresh inbox. The old one stays subscribed until its
// pull requests have expired on the server (what they still bring fits its
// buffer: nothing pulls on it any more), then is drained and unsubscribed,
// and what it holds is handled; the server discards pull requests whose
// inbox has no interest left instead of serving them.
type feed struct {
	cons jetstream.Consumer
	opts []jetstream.PullMessagesOpt
	nc   *nats.Conn // nil when the JetStream handle does not expose it
	log  *slog.Logger
	// late handles what a retired iterator still held; wg counts the
	// goroutines that do it, with the runner's workers.
	late func(jetstream.Msg)
	wg   *sync.WaitGroup
	// done is closed when the runner stops: retired iterators drain at once.
	done chan struct{}

	mu     sync.Mutex
	it     jetstream.MessagesContext
	gen    uint64
	closed bool
	failAt time.Time // last failed renewal, to space retries
}

// Bounds of renewals: a connection that does not answer a flush within
// probeTimeout after missed heartbeats is abandoned for another server; a
// renewal that failed is not tried again before renewRetry.
const (
	probeTimeout = 2 * time.Second
	renewRetry   = 500 * time.Millisecond
	// retireAfter outlasts the pull requests of a retired iterator on the
	// server (they expire after pullExpiry).
	retireAfter = pullExpiry + time.Second
	// retireBound bounds the handling of what a retired iterator held.
	retireBound = time.Minute
)

func newFeed(cons jetstream.Consumer, nc *nats.Conn, log *slog.Logger, wg *sync.WaitGroup, late func(jetstream.Msg),
	opts ...jetstream.PullMessagesOpt) (*feed, error) {
	f := &feed{cons: cons, nc: nc, log: log, wg: wg, late: late, done: make(chan struct{}),
		// Missed heartbeats come back from Next, to renew the iterator.
		opts: append(opts, jetstream.WithMessagesErrOnMissingHeartbeat(true))}
	it, err := cons.Messages(f.opts...)
	if err != nil {
		return nil, err
	}
	f.it = it
	return f, nil
}

// current is the iterator to pull from and its generation.
func (f *feed) current() (jetstream.MessagesContext, uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.it, f.gen
}

// isClosed reports whether the runner is stopping.
func (f *feed) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

// renew replaces iterator generation gen (a no-op when it was replaced
// already or the runner is stopping) by a fresh one and drains the old.
func (f *feed) renew(gen uint64, why string) {
	if why == whyHeartbeats {
		f.probe()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || gen != f.gen {
		return
	}
	if wait := renewRetry - time.Since(f.failAt); wait > 0 {
		f.mu.Unlock()
		time.Sleep(wait) // a closed connection: do not spin
		f.mu.Lock()
		if f.closed || gen != f.gen {
			return
		}
	}
	it, err := f.cons.Messages(f.opts...)
	if err != nil {
		f.failAt = time.Now()
		f.log.Debug("cannot renew the pull iterator yet", "why", why, "err", err)
		return
	}
	old := f.it
	f.it, f.gen = it, f.gen+1
	f.wg.Go(func() { f.retire(old) })
	f.log.Info("pull iterator renewed", "why", why)
}

// retire drains an iterator replaced by renew once its pull requests have
// expired (at once when the runner stops) and hands what it held to late.
func (f *feed) retire(old jetstream.MessagesContext) {
	t := time.NewTimer(retireAfter)
	select {
	case <-t.C:
	case <-f.done:
		t.Stop()
	}
	old.Drain()
	deadline := time.Now().Add(retireBound)
	for time.Now().Before(deadline) {
		msg, err := old.Next()
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			return
		}
		if err == nil {
			f.late(msg)
		}
	}
	old.Stop()
}

// Reasons for renew.
const (
	whyHeartbeats = "missed heartbeats"
	whyReconnect  = "reconnected"
	whyClosed     = "iterator closed"
)

// probe abandons a connection that does not answer a flush in time (the
// server is frozen or cut off: its TCP connection stays open, and the
// client's own pings would notice only after minutes) for another server.
func (f *feed) probe() {
	if f.nc == nil || !f.nc.IsConnected() {
		return
	}
	if err := f.nc.FlushTimeout(probeTimeout); err != nil && f.nc.IsConnected() {
		f.log.Warn("NATS server not answering; reconnecting elsewhere", "err", err)
		if err := f.nc.ForceReconnect(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
			f.log.Warn("reconnect", "err", err)
		}
	}
}

// watchReconnects renews the iterator after each reconnect until done is
// closed.
func (f *feed) watchReconnects(done <-chan struct{}) {
	if f.nc == nil {
		return
	}
	ch := f.nc.StatusChanged(nats.CONNECTED)
	defer f.nc.RemoveStatusListener(ch)
	for {
		select {
		case <-done:
			return
		case _, ok := <-ch:
			if !ok {
				return
			}
			_, gen := f.current()
			f.renew(gen, whyReconnect)
		}
	}
}

// drain stops pulling for good: buffered messages are still handed out,
// then Next reports the iterator closed.
func (f *feed) drain() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		close(f.done)
	}
	f.it.Drain()
}

// stop stops pulling at once (drain timeout).
func (f *feed) stop() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		close(f.done)
	}
	f.it.Stop()
}
