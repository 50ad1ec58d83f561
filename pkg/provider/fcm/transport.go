package fcm

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

// platform labels metrics.
const platform = string(events.FCM)

// newTransport is the one HTTP/2 transport every app of a sender shares:
// FCM multiplexes all projects over the same connections to
// fcm.googleapis.com, so rotating an app's key never reconnects.
func newTransport(cfg Config) *http.Transport {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:       http.ProxyFromEnvironment,
		DialContext: countConns(dialer.DialContext, cfg.Metrics),
		TLSClientConfig: &tls.Config{
			RootCAs:    cfg.RootCAs,
			MinVersion: tls.VersionTLS12,
		},
		// A custom dialer and TLS config turn HTTP/2 off unless forced.
		ForceAttemptHTTP2:   true,
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConns:        100,
		MaxIdleConnsPerHost: 100,
		// Without a cap, a burst beyond one HTTP/2 connection's streams
		// dials a connection per waiting request.
		MaxConnsPerHost:       cfg.MaxConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		// Ping idle HTTP/2 connections so a dead one is noticed before a
		// request waits on it (Google's own transport does the same).
		HTTP2: &http.HTTP2Config{SendPingTimeout: 30 * time.Second, PingTimeout: 15 * time.Second},
	}
}

type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// countConns reports open connections to m.
func countConns(dial dialFunc, m *provider.Metrics) dialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		m.AddConnections(platform, 1)
		return &countedConn{Conn: c, m: m}, nil
	}
}

type countedConn struct {
	net.Conn
	m    *provider.Metrics
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.m.AddConnections(platform, -1) })
	return c.Conn.Close()
}

// errExpiredBeforeRetry ends a message whose notification expired before
// the SDK's retry of it could be made.
var errExpiredBeforeRetry = errors.New("fcm: notification expired before the request")

// attempts travels in a message's context to every HTTP request the SDK
// makes for it (one, plus its own retries): the requests check the
// notification's expiry and record their durations. The SDK makes them one
// after the other, so no lock is needed.
type attempts struct {
	expiry    time.Time // zero: none
	cancel    context.CancelCauseFunc
	durations []time.Duration
}

type attemptsKey struct{}

// inFlight is the transport under each app's OAuth transport: it refuses a
// request whose notification expired (an SDK retry after the expiry), and
// reports requests waiting for FCM's answer and their durations.
type inFlight struct {
	base http.RoundTripper
	m    *provider.Metrics
}

func (t inFlight) RoundTrip(r *http.Request) (*http.Response, error) {
	a, _ := r.Context().Value(attemptsKey{}).(*attempts)
	if a != nil && !a.expiry.IsZero() && !a.expiry.After(time.Now()) {
		if r.Body != nil {
			r.Body.Close()
		}
		a.cancel(errExpiredBeforeRetry) // so the SDK stops retrying at once
		return nil, errExpiredBeforeRetry
	}
	t.m.AddInFlight(platform, 1)
	start := time.Now()
	resp, err := t.base.RoundTrip(r)
	t.m.AddInFlight(platform, -1)
	if a != nil {
		a.durations = append(a.durations, time.Since(start))
	}
	return resp, err
}
