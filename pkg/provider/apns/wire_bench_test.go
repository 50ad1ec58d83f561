package apns_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/apns"
	"github.com/pushfleet/pushfleet/pkg/provider/providertest"
	"github.com/sideshow/apns2"
	apnstoken "github.com/sideshow/apns2/token"
	"golang.org/x/net/http2"
)

// wireStreams is how many pushes each client keeps in flight: the Sender's
// default bound (2 connections × 100 streams).
const wireStreams = 200

// BenchmarkWireAPNS compares what one push costs on the wire and in the
// fake's CPU, bare apns2 against pushfleet's Sender, on the same fake in a
// child process counting the wire (fakeserver.WireCounter), with the same
// payload and wireStreams pushes in flight:
//   - apns2: one apns2 client, one goroutine per push in flight;
//   - sender-1: the Sender, one-token jobs (S1's shape), one goroutine per
//     push in flight;
//   - sender-100: the Sender, jobs of 100 tokens, 2 jobs in flight (S2's
//     shape);
//   - sender-1-conns=1: sender-1 over one connection (200 streams), as
//     apns2 uses, instead of the default two.
//
// Per push it reports the client-to-fake bytes, header bytes, TLS reads and
// frames by type, the fake-to-client bytes, the fake process's CPU
// (fake-cpu-µs/req) and this process's (cpu-µs/req).
func BenchmarkWireAPNS(b *testing.B) {
	n := events.Notification{Title: "hello", Body: "world"}
	payload, err := events.APNsPayload(&n, "alert", nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("apns2", func(b *testing.B) {
		fp := startFakeProcess(b, true)
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(fp.CA)
		key, err := apnstoken.AuthKeyFromBytes([]byte(fp.App.Key))
		if err != nil {
			b.Fatal(err)
		}
		c := apns2.NewTokenClient(&apnstoken.Token{AuthKey: key, KeyID: fp.App.KeyID, TeamID: fp.App.TeamID})
		c.Host = fp.URL
		c.HTTPClient.Transport.(*http2.Transport).TLSClientConfig = &tls.Config{RootCAs: pool}
		push := func(tok string) bool {
			res, err := c.PushWithContext(context.Background(), &apns2.Notification{DeviceToken: tok, Topic: testTopic, Payload: payload})
			return err == nil && res.Sent()
		}
		measureWire(b, fp, func(toks []string) int { return count(toks, push) }, 1)
	})
	for _, bc := range []struct {
		name         string
		batch, conns int // conns 0: the default
	}{{"sender-1", 1, 0}, {"sender-100", 100, 0}, {"sender-1-conns=1", 1, 1}} {
		b.Run(bc.name, func(b *testing.B) {
			fp := startFakeProcess(b, true)
			pool := x509.NewCertPool()
			pool.AppendCertsFromPEM(fp.CA)
			cfg := apns.Config{SandboxURL: fp.URL, RootCAs: pool}
			if bc.conns > 0 {
				cfg.ConnsPerPool, cfg.MaxStreamsPerConn = bc.conns, wireStreams/bc.conns
			}
			s, err := apns.New(cfg, map[string]apns.AppConfig{testApp: fp.App})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			var seq atomic.Int64
			measureWire(b, fp, func(toks []string) int {
				job := &events.Job{ID: "job", App: testApp, Platform: events.APNs, Tokens: toks, Notification: n,
					IntentID: fmt.Sprint("intent-", seq.Add(1)), CreatedAt: time.Now()}
				return count(s.Send(context.Background(), job), func(r provider.Result) bool { return r.Kind == provider.Delivered })
			}, bc.batch)
		})
	}
}

// count is how many of xs satisfy ok.
func count[T any](xs []T, ok func(T) bool) int {
	n := 0
	for _, x := range xs {
		if ok(x) {
			n++
		}
	}
	return n
}

// measureWire runs providertest.MeasureWire against the fake process.
func measureWire(b *testing.B, fp *fakeProcess, push func(toks []string) int, batch int) {
	providertest.MeasureWire(b, providertest.WireLoad{
		Tokens: tokens(0, 1000), Batch: batch, InFlight: wireStreams, Push: push,
		Sample: func() providertest.WireSample {
			st := fp.stats(b)
			return providertest.WireSample{Wire: st.Wire, CPU: st.CPU, Requests: st.Requests}
		},
	})
}
