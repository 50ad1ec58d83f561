package mi

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
)

const platform = "mi"

// dialer dials TCP connections with a per-address reconnect backoff, so a
// host that refuses connections is not hammered in a tight loop, and counts
// open connections in the metrics.
type dialer struct {
	net      net.Dialer
	min, max time.Duration
	metrics  *provider.Metrics
	log      *slog.Logger

	mu    sync.Mutex
	hosts map[string]*dialState
}

type dialState struct {
	failures int
	until    time.Time
}

// backoffError is a dial refused locally because the address is backing off.
type backoffError struct {
	addr string
	wait time.Duration
}

func (e *backoffError) Error() string {
	return fmt.Sprintf("mi: %s is backing off after failed dials; next dial in %v", e.addr, e.wait.Round(time.Millisecond))
}

func newDialer(min, max time.Duration, m *provider.Metrics, log *slog.Logger) *dialer {
	return &dialer{
		net: net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second},
		min: min, max: max, metrics: m, log: log, hosts: map[string]*dialState{},
	}
}

// DialContext is the http.Transport dial hook.
func (d *dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	if wait := d.backoff(addr, time.Now()); wait > 0 {
		return nil, &backoffError{addr: addr, wait: wait}
	}
	c, err := d.net.DialContext(ctx, network, addr)
	if err != nil {
		// A dial cut short by its caller says nothing about the host.
		if ctx.Err() == nil {
			d.failed(addr, err)
		}
		return nil, err
	}
	d.succeeded(addr)
	d.metrics.AddConnections(platform, 1)
	return &countedConn{Conn: c, d: d}, nil
}

func (d *dialer) backoff(addr string, now time.Time) time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	if st := d.hosts[addr]; st != nil && now.Before(st.until) {
		return st.until.Sub(now)
	}
	return 0
}

func (d *dialer) failed(addr string, err error) {
	d.mu.Lock()
	st := d.hosts[addr]
	if st == nil {
		st = &dialState{}
		d.hosts[addr] = st
	}
	st.failures++
	wait := d.min << min(st.failures-1, 20)
	if wait > d.max || wait <= 0 {
		wait = d.max
	}
	// Full jitter on the upper half: many senders must not redial in step.
	wait = wait/2 + rand.N(wait/2+1)
	st.until = time.Now().Add(wait)
	n := st.failures
	d.mu.Unlock()
	d.log.Warn("mi dial failed; backing off", "addr", addr, "failures", n, "wait", wait, "err", err)
}

func (d *dialer) succeeded(addr string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.hosts, addr)
}

// countedConn decrements the open count once when closed.
type countedConn struct {
	net.Conn
	d    *dialer
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.d.metrics.AddConnections(platform, -1)
	})
	return c.Conn.Close()
}
