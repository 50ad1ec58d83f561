package mi

import (
	"context"
	"sync"
)

// warmup lets the first request to a host open the connection alone.
// Without it a burst of requests on a fresh generation (at start, or right
// after a recycle) would each dial: http.Transport opens a connection per
// waiting request until one is up, up to MaxConnsPerHost, and over HTTP/2
// all but one are then thrown away. With it the burst waits for the
// opener's connection (not its answer) and multiplexes on it.
type warmup struct {
	mu    sync.Mutex
	gates map[string]chan struct{} // closed once host has a connection
}

// enter returns opener=true for the first caller for host, who must call
// open once it has a connection (or has failed). Later callers wait for
// that, or for ctx.
func (w *warmup) enter(ctx context.Context, host string) (opened func(), err error) {
	w.mu.Lock()
	ch, ok := w.gates[host]
	if !ok {
		if w.gates == nil {
			w.gates = map[string]chan struct{}{}
		}
		ch = make(chan struct{})
		w.gates[host] = ch
		w.mu.Unlock()
		return sync.OnceFunc(func() { close(ch) }), nil
	}
	w.mu.Unlock()
	select {
	case <-ch:
		return nil, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
