package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sideshow/apns2"
	apnstoken "github.com/sideshow/apns2/token"
	"golang.org/x/net/http2"

	"github.com/pushfleet/pushfleet/internal/sandbox"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// apns2Res is the bare apns2 ceiling: one client (one HTTP/2 transport)
// shared by many goroutines, against the fleet's APNs fake.
type apns2Res struct {
	Goroutines   int     `json:"goroutines"`
	Count        int64   `json:"count"`
	LatencyMS    float64 `json:"latency_ms"`
	PerSec       float64 `json:"per_s"`
	CPUMicrosPer float64 `json:"cpu_us_per_push"`
	Failed       int64   `json:"failed"`
}

// runAPNs2Ceiling pushes up to count notifications with the sideshow/apns2
// client (its own x/net HTTP/2 transport, only taught to trust the fake)
// from goroutines goroutines, for at most maxDur, and measures this
// process's CPU while doing it.
func runAPNs2Ceiling(ctx context.Context, info *fakesInfo, goroutines, count int, maxDur time.Duration, pool int, latency time.Duration) (apns2Res, error) {
	res := apns2Res{Goroutines: goroutines, LatencyMS: float64(latency) / float64(time.Millisecond)}
	roots, err := certPool(info.APNs.CA)
	if err != nil {
		return res, err
	}
	key, err := apnstoken.AuthKeyFromBytes([]byte(info.APNs.App.Key))
	if err != nil {
		return res, fmt.Errorf("apns2: %w", err)
	}
	c := apns2.NewTokenClient(&apnstoken.Token{AuthKey: key, KeyID: info.APNs.App.KeyID, TeamID: info.APNs.App.TeamID})
	c.Host = info.APNs.URL
	tr, ok := c.HTTPClient.Transport.(*http2.Transport)
	if !ok {
		return res, errors.New("apns2: unexpected transport")
	}
	tr.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	defer tr.CloseIdleConnections()
	payload := []byte(`{"aps":{"alert":{"title":"pushbench","body":"Your order has shipped and is on its way."}},"order":"4711"}`)
	topic := info.APNs.App.Topic
	toks := make([]string, min(pool, 10000))
	for i := range toks {
		toks[i] = sandbox.Token(events.APNs, i, false)
	}
	// Connect and mint the JWT before the clock starts.
	if r, err := c.PushWithContext(ctx, &apns2.Notification{DeviceToken: toks[0], Topic: topic, Payload: payload}); err != nil || !r.Sent() {
		return res, fmt.Errorf("apns2 warm-up: %v %v", err, r)
	}
	var next, done, failed atomic.Int64
	cpu0, _ := selfRusage()
	start := time.Now()
	deadline := start.Add(maxDur)
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := next.Add(1)
				if i > int64(count) || (i%256 == 0 && time.Now().After(deadline)) {
					return
				}
				n := &apns2.Notification{DeviceToken: toks[int(i)%len(toks)], Topic: topic, Payload: payload}
				r, err := c.PushWithContext(ctx, n)
				if err != nil || !r.Sent() {
					failed.Add(1)
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	wall := time.Since(start)
	cpu1, _ := selfRusage()
	res.Count, res.Failed = done.Load(), failed.Load()
	if res.Count == 0 {
		return res, errors.New("apns2: nothing pushed")
	}
	res.PerSec = float64(res.Count) / wall.Seconds()
	res.CPUMicrosPer = float64((cpu1 - cpu0).Microseconds()) / float64(res.Count)
	return res, nil
}
