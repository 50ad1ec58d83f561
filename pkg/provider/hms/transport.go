package hms

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

// Platform is Huawei Push Kit's platform name. pkg/events does not list it
// yet (see docs/providers-hms.md for the integration); until it does, jobs
// for this sender carry this value.
const Platform = events.Platform("hms")

// platform labels metrics.
const platform = string(Platform)

// newTransport is the one transport every app of a sender shares, for Push
// Kit and the token endpoint alike: long-lived HTTP/2 connections (ALPN),
// pinged when idle so that a dead one is noticed before a request waits on
// it.
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
