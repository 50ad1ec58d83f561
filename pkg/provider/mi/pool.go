package mi

import (
	"crypto/tls"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// drainGrace is how long after its last request a retired generation's
// connections get a second close: a connection that finished its last
// request can become idle a moment after the request returned.
const drainGrace = 500 * time.Millisecond

// pool hands requests the current generation of connections. A generation
// is one http.Transport: over HTTP/2 its connection multiplexes every
// request, over HTTP/1.1 it is a keep-alive pool of up to MaxConnsPerHost.
//
// When a generation is older than ConnMaxAge the next request starts a new
// one (fresh connections, like the Erlang client's scheduled reconnect) and
// the old one is retired: it takes no new request, its requests in flight
// finish on their connections, and those connections are closed once idle.
// Nothing in flight is ever dropped.
type pool struct {
	cfg    *Config
	dialer *dialer
	log    *slog.Logger

	mu     sync.Mutex
	cur    *generation
	closed bool
}

type generation struct {
	tr       *http.Transport
	expires  time.Time // zero: never
	inflight int       // guarded by pool.mu
	retired  bool      // guarded by pool.mu
	warm     warmup
}

func newPool(cfg *Config, d *dialer) *pool {
	return &pool{cfg: cfg, dialer: d, log: cfg.Logger}
}

// acquire returns the generation to send on; release it when the answer
// has been read.
func (p *pool) acquire(now time.Time) (*generation, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	if g := p.cur; g == nil || !g.expires.IsZero() && now.After(g.expires) {
		p.cur = p.newGeneration(now)
		if g != nil {
			p.log.Debug("mi connections recycled", "age_limit", p.cfg.ConnMaxAge, "in_flight_on_old", g.inflight)
			p.retireLocked(g)
		}
	}
	p.cur.inflight++
	return p.cur, nil
}

func (p *pool) release(g *generation) {
	p.mu.Lock()
	g.inflight--
	drain := g.retired && g.inflight == 0
	p.mu.Unlock()
	if drain {
		drainGeneration(g)
	}
}

// close retires the current generation; later acquires fail with ErrClosed.
func (p *pool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	if p.cur != nil {
		p.retireLocked(p.cur)
		p.cur = nil
	}
}

func (p *pool) retireLocked(g *generation) {
	g.retired = true
	// Closes idle connections now and, over HTTP/1.1, makes connections
	// close as they become idle (the transport takes no new requests).
	g.tr.CloseIdleConnections()
	if g.inflight == 0 {
		go drainGeneration(g)
	}
}

func drainGeneration(g *generation) {
	g.tr.CloseIdleConnections()
	time.AfterFunc(drainGrace, g.tr.CloseIdleConnections)
}

func (p *pool) newGeneration(now time.Time) *generation {
	g := &generation{tr: p.newTransport()}
	if age := p.cfg.ConnMaxAge; age > 0 {
		// Up to 10% earlier, so a fleet started together does not reconnect in step.
		g.expires = now.Add(age - rand.N(age/10+1))
	}
	return g
}

func (p *pool) newTransport() *http.Transport {
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(!p.cfg.DisableHTTP2)
	return &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         p.dialer.DialContext,
		TLSClientConfig:     &tls.Config{RootCAs: p.cfg.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: 10 * time.Second,
		MaxConnsPerHost:     p.cfg.MaxConnsPerHost,
		MaxIdleConnsPerHost: p.cfg.MaxConnsPerHost,
		IdleConnTimeout:     p.cfg.IdleConnTimeout,
		Protocols:           protocols,
		// Pings find a dead HTTP/2 connection before a request waits on it.
		HTTP2: &http.HTTP2Config{SendPingTimeout: 30 * time.Second, PingTimeout: 15 * time.Second},
	}
}
