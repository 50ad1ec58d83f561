// Package httpclient holds the HTTP client side the HTTP-API providers
// share: the HTTP/2 transport every app of a sender uses (fcm, hms) and a
// round trip that reads the whole, bounded answer (hms, mi).
package httpclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
)

// TransportConfig configures Transport.
type TransportConfig struct {
	// Platform labels the connection metrics.
	Platform string
	// RootCAs verifies the servers (nil: the system's roots).
	RootCAs *x509.CertPool
	// MaxConnsPerHost caps connections per host (0: no cap). Without a cap,
	// a burst beyond one HTTP/2 connection's streams dials a connection per
	// waiting request.
	MaxConnsPerHost int
	// Metrics receives the open-connections gauge.
	Metrics *provider.Metrics
}

// Transport is one transport for every app of a sender: long-lived HTTP/2
// connections (ALPN), pinged when idle so that a dead one is noticed before
// a request waits on it, counted in cfg.Metrics while open.
func Transport(cfg TransportConfig) *http.Transport {
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:       http.ProxyFromEnvironment,
		DialContext: countConns(dialer.DialContext, cfg.Platform, cfg.Metrics),
		TLSClientConfig: &tls.Config{
			RootCAs:    cfg.RootCAs,
			MinVersion: tls.VersionTLS12,
		},
		// A custom dialer and TLS config turn HTTP/2 off unless forced.
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   10 * time.Second,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   100,
		MaxConnsPerHost:       cfg.MaxConnsPerHost,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		HTTP2:                 &http.HTTP2Config{SendPingTimeout: 30 * time.Second, PingTimeout: 15 * time.Second},
	}
}

type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// countConns reports open connections to m.
func countConns(dial dialFunc, platform string, m *provider.Metrics) dialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		m.AddConnections(platform, 1)
		return &countedConn{Conn: c, platform: platform, m: m}, nil
	}
}

type countedConn struct {
	net.Conn
	platform string
	m        *provider.Metrics
	once     sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.m.AddConnections(c.platform, -1) })
	return c.Conn.Close()
}
