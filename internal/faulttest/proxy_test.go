package faulttest

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync/atomic"
	"testing"
)

// outageProxy stands between a sender and its fake provider (HTTP/2 over
// TLS both ways) and, while down, answers every request itself the way
// APNs does when it is unavailable: 503 {"reason":"ServiceUnavailable"}.
// The fake keeps counting what reaches it; an outage of a given length is
// then a matter of time, not of counting requests.
type outageProxy struct {
	srv      *httptest.Server
	down     atomic.Bool
	answered atomic.Int64 // 503s given
	passed   atomic.Int64 // requests forwarded
}

func newOutageProxy(t *testing.T, backend string, backendCAs *x509.CertPool) *outageProxy {
	t.Helper()
	u, err := url.Parse(backend)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: backendCAs}, ForceAttemptHTTP2: true,
		MaxIdleConnsPerHost: 64}
	rp.Transport = tr
	rp.ErrorLog = log.New(io.Discard, "", 0)
	p := &outageProxy{}
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.down.Load() {
			p.answered.Add(1)
			if id := r.Header.Get("apns-id"); id != "" {
				w.Header().Set("apns-id", id)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			_ = json.NewEncoder(w).Encode(map[string]string{"reason": "ServiceUnavailable"})
			return
		}
		p.passed.Add(1)
		rp.ServeHTTP(w, r)
	}))
	p.srv.EnableHTTP2 = true
	p.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	p.srv.StartTLS()
	t.Cleanup(func() { p.srv.Close(); tr.CloseIdleConnections() })
	return p
}

// URL is the proxy's base URL.
func (p *outageProxy) URL() string { return p.srv.URL }

// CertPool trusts the proxy's certificate.
func (p *outageProxy) CertPool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.srv.Certificate())
	return pool
}
