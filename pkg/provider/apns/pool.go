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
// and the workers that make their requests.
//
// Requests are made by at most conns × streams long-lived workers, started
// as the load needs them, rather than by a goroutine per token: a job of
// many tokens waits in submit instead of parking goroutines whose stacks
// grow on every request (the HTTP/2 client path is deep).
type pool struct {
	key   string
	label string
	conns []*conn
	// work hands a request to an idle worker; maxWorkers is conns × streams,
	// so a worker always finds a connection below its own bound.
	work       chan func()
	quit       chan struct{}
	maxWorkers int

	mu       sync.Mutex
	workers  int
	inflight int
	retired  bool
	quitOnce sync.Once
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
		work:  make(chan func()), quit: make(chan struct{}),
		maxWorkers: cfg.ConnsPerPool * cfg.MaxStreamsPerConn,
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

// submit has f run by a worker: an idle one, a new one while the pool is
// below its bound, or else the first to become free. It fails when ctx
// ends or the pool is retired before a worker takes f.
func (p *pool) submit(ctx context.Context, f func()) error {
	select {
	case p.work <- f:
		return nil
	default:
	}
	p.mu.Lock()
	spawn := !p.retired && p.workers < p.maxWorkers
	if spawn {
		p.workers++
	}
	p.mu.Unlock()
	if spawn {
		go p.worker(f)
		return nil
	}
	select {
	case p.work <- f:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-p.quit:
		return errPoolRetired
	}
}

// worker runs submitted requests until the pool is retired. Workers never
// leave a live pool, so a blocked submit is always served.
func (p *pool) worker(f func()) {
	for {
		f()
		select {
		case f = <-p.work:
		case <-p.quit:
			return
		}
	}
}

// acquire returns the least busy connection for one request.
func (p *pool) acquire() (*conn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.retired {
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
	return best, nil
}

// release ends c's request; the last request of a retired pool closes it.
func (p *pool) release(c *conn) {
	p.mu.Lock()
	c.inflight--
	p.inflight--
	drained := p.retired && p.inflight == 0
	p.mu.Unlock()
	if drained {
		p.stop()
	}
}

// retire stops new requests; the connections close once the requests in
// flight are answered (at once when there are none).
func (p *pool) retire() {
	p.quitOnce.Do(func() { close(p.quit) })
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
