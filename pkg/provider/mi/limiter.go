package mi

import (
	"context"
	"sync"
)

// limiter bounds the requests in flight per host. Over HTTP/2 this keeps
// a host on one connection: Go's transport opens another connection as
// soon as one has as many streams as the server allows (100 assumed until
// the server's SETTINGS arrive), and its strict mode, which would queue
// instead, stalls requests for good when the server's limit is lower than
// the queue (seen with go1.26.8). Over HTTP/1.1, MaxConnsPerHost is the
// tighter bound and requests queue in the transport.
type limiter struct {
	size  int
	mu    sync.Mutex
	slots map[string]chan struct{}
}

// acquire waits for a slot for host, or for ctx.
func (l *limiter) acquire(ctx context.Context, host string) (release func(), err error) {
	l.mu.Lock()
	ch, ok := l.slots[host]
	if !ok {
		if l.slots == nil {
			l.slots = map[string]chan struct{}{}
		}
		ch = make(chan struct{}, l.size)
		l.slots[host] = ch
	}
	l.mu.Unlock()
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
