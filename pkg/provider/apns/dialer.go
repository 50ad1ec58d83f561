package apns

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
)

// errBackoff fails requests while a connection waits to redial.
var errBackoff = errors.New("apns: waiting to reconnect after a failed dial")

// errDialerClosed fails dials of a closed pool.
var errDialerClosed = errors.New("apns: connection pool closed")

// dialer opens the TLS connections of one pool connection slot. After a
// failed dial it refuses to dial again for a growing, jittered wait, so an
// unreachable APNs never sees a tight reconnect loop. It tracks its open
// connections so that they can be counted and closed.
type dialer struct {
	tls        *tls.Config
	timeout    time.Duration
	backoffMin time.Duration
	backoffMax time.Duration
	metrics    *provider.Metrics
	log        *slog.Logger

	mu        sync.Mutex
	failures  int
	notBefore time.Time
	conns     map[*trackedConn]struct{}
	closed    bool
}

// DialTLSContext has the signature of http.Transport.DialTLSContext. It
// returns a *tls.Conn so that net/http sees the negotiated ALPN protocol.
func (d *dialer) DialTLSContext(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	switch {
	case d.closed:
		d.mu.Unlock()
		return nil, errDialerClosed
	case time.Now().Before(d.notBefore):
		d.mu.Unlock()
		return nil, errBackoff
	}
	d.mu.Unlock()

	tc, raw, err := d.dial(ctx, network, addr)
	if err != nil {
		if ctx.Err() == nil { // a cancelled request is not the server's fault
			d.failed(addr, err)
		}
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		tc.Close()
		return nil, errDialerClosed
	}
	d.failures, d.notBefore = 0, time.Time{}
	d.conns[raw] = struct{}{}
	d.metrics.AddConnections(platform, 1)
	return tc, nil
}

func (d *dialer) dial(ctx context.Context, network, addr string) (*tls.Conn, *trackedConn, error) {
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	nd := net.Dialer{KeepAlive: 15 * time.Second}
	c, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, nil, err
	}
	raw := &trackedConn{Conn: c, d: d}
	cfg := d.tls.Clone()
	if host, _, err := net.SplitHostPort(addr); err == nil {
		cfg.ServerName = host
	}
	tc := tls.Client(raw, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, nil, fmt.Errorf("tls handshake with %s: %w", addr, err)
	}
	if p := tc.ConnectionState().NegotiatedProtocol; p != "h2" {
		c.Close()
		return nil, nil, fmt.Errorf("%s negotiated %q, APNs needs HTTP/2 (h2)", addr, p)
	}
	return tc, raw, nil
}

// failed starts or lengthens the wait before the next dial.
func (d *dialer) failed(addr string, err error) {
	d.mu.Lock()
	d.failures++
	wait := d.backoffMin << min(d.failures-1, 20)
	if wait > d.backoffMax || wait <= 0 {
		wait = d.backoffMax
	}
	wait = wait/2 + rand.N(wait/2+1) // jitter: spread redials of many senders
	d.notBefore = time.Now().Add(wait)
	n := d.failures
	d.mu.Unlock()
	d.log.Warn("apns dial failed", "addr", addr, "failures", n, "retry_in", wait, "err", err)
}

// closeAll closes every open connection and refuses further dials.
func (d *dialer) closeAll() {
	d.mu.Lock()
	d.closed = true
	conns := make([]*trackedConn, 0, len(d.conns))
	for c := range d.conns {
		conns = append(conns, c)
	}
	d.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// trackedConn is the TCP connection under a TLS connection; closing it,
// from either side, updates the open-connections count once.
type trackedConn struct {
	net.Conn
	d    *dialer
	once sync.Once
}

func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.d.mu.Lock()
		_, open := c.d.conns[c]
		delete(c.d.conns, c)
		c.d.mu.Unlock()
		if open {
			c.d.metrics.AddConnections(platform, -1)
		}
	})
	return err
}
