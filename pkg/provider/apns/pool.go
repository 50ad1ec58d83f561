package apns

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net/http"
	"sync"

	"github.com/sideshow/apns2"
)

// errPoolRetired fails requests that reach a pool replaced by UpdateApps or
// closed by Close.
var errPoolRetired = errors.New("apns: credentials changed or sender closed")

// pool is the long-lived connections of one (credentials, environment): a
// fixed set of apns2 clients, each with its own HTTP/2 transport and dialer,
// and a bound on requests in flight per connection.
type pool struct {
	key   string
	label string
	conns []*conn
	// slots holds one element per request in flight, across the pool; its
	// capacity is conns × streams, so an acquired slot always finds a
	// connection below its own bound.
	slots chan struct{}

	mu       sync.Mutex
	inflight int
	retired  bool
	stopOnce sync.Once
}

// conn is one apns2 client with its transport.
type conn struct {
	client   *apns2.Client
	dialer   *dialer
	inflight int // guarded by pool.mu
}

// poolKey identifies the pool of credentials c in environment env at url.
func poolKey(c *credential, env Environment, url string) string {
	return c.id + "|" + string(env) + "|" + url
}

func newPool(cfg *Config, c *credential, sg *signer, env Environment, log *slog.Logger) *pool {
	url := cfg.baseURL(env)
	p := &pool{
		key:   poolKey(c, env, url),
		label: c.label() + "@" + string(env),
		slots: make(chan struct{}, cfg.ConnsPerPool*cfg.MaxStreamsPerConn),
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: cfg.RootCAs, NextProtos: []string{"h2"}}
	if c.cert != nil {
		tlsCfg.Certificates = []tls.Certificate{*c.cert}
	}
	log = log.With("pool", p.label)
	for range cfg.ConnsPerPool {
		d := &dialer{
			tls: tlsCfg, timeout: cfg.DialTimeout,
			backoffMin: cfg.ReconnectBackoffMin, backoffMax: cfg.ReconnectBackoffMax,
			metrics: cfg.Metrics, log: log, conns: map[*trackedConn]struct{}{},
		}
		var protocols http.Protocols
		protocols.SetHTTP2(true)
		tr := &http.Transport{
			Protocols:      &protocols,
			DialTLSContext: d.DialTLSContext,
			// Health pings on silent connections. StrictMaxConcurrentRequests
			// stays false: a second TCP connection beats stalled requests
			// when APNs lowers its stream limit.
			HTTP2:           &http.HTTP2Config{SendPingTimeout: cfg.PingInterval, PingTimeout: cfg.PingTimeout},
			MaxConnsPerHost: 1,
		}
		cl := &apns2.Client{Host: url, HTTPClient: &http.Client{Transport: captureTransport{next: tr}}}
		if sg != nil {
			cl.Token = sg.tok
		}
		if c.cert != nil {
			cl.Certificate = *c.cert
		}
		p.conns = append(p.conns, &conn{client: cl, dialer: d})
	}
	return p
}

// acquire waits for a free slot and returns the least busy connection.
func (p *pool) acquire(ctx context.Context) (*conn, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	p.mu.Lock()
	if p.retired {
		p.mu.Unlock()
		<-p.slots
		return nil, errPoolRetired
	}
	best := p.conns[0]
	for _, c := range p.conns[1:] {
		if c.inflight < best.inflight {
			best = c
		}
	}
	best.inflight++
	p.inflight++
	p.mu.Unlock()
	return best, nil
}

// release returns c's slot; the last request of a retired pool closes it.
func (p *pool) release(c *conn) {
	p.mu.Lock()
	c.inflight--
	p.inflight--
	drained := p.retired && p.inflight == 0
	p.mu.Unlock()
	<-p.slots
	if drained {
		p.stop()
	}
}

// retire stops new requests; the connections close once the requests in
// flight are answered (at once when there are none).
func (p *pool) retire() {
	p.mu.Lock()
	p.retired = true
	drained := p.inflight == 0
	p.mu.Unlock()
	if drained {
		p.stop()
	}
}

// close retires the pool and closes its connections now, failing requests
// in flight.
func (p *pool) close() {
	p.retire()
	p.stop()
}

func (p *pool) stop() {
	p.stopOnce.Do(func() {
		for _, c := range p.conns {
			c.dialer.closeAll()
			c.client.CloseIdleConnections()
		}
	})
}
