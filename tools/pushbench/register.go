package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/tokens"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// registerDevices registers --tag-devices devices of the scenario's mix
// with the benchmark tag through the token registry (internal/tokens), from
// --registrars goroutines, before the clock starts.
func registerDevices(ctx context.Context, js jetstream.JetStream, sc scenario, o *options, info *fakesInfo, w io.Writer) (time.Duration, error) {
	start := time.Now()
	kv, err := js.KeyValue(ctx, events.TokensBucket)
	if err != nil {
		return 0, fmt.Errorf("token bucket: %w", err)
	}
	reg := tokens.NewDevices(js, kv)
	var next, done atomic.Int64
	var mu sync.Mutex
	var firstErr error
	failed := func() bool { mu.Lock(); defer mu.Unlock(); return firstErr != nil }
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				fmt.Fprintf(w, "[%s] registering devices: %d/%d (%.0f/s)\n", sc.Name, done.Load(), o.TagDevices,
					float64(done.Load())/time.Since(start).Seconds())
			}
		}
	}()
	var wg sync.WaitGroup
	for range o.Registrars {
		wg.Go(func() {
			for ctx.Err() == nil && !failed() {
				i := int(next.Add(1)) - 1
				if i >= o.TagDevices {
					return
				}
				p := sc.platformAt(i)
				d := tokens.Device{App: benchApp, Platform: p, Token: info.benchToken(p, i, isDead(i, o.DeadPercent)), Tags: []string{benchTag}}
				rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				_, err := reg.Register(rctx, d)
				cancel()
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	close(stop)
	if firstErr != nil {
		return time.Since(start), fmt.Errorf("register device: %w", firstErr)
	}
	return time.Since(start), ctx.Err()
}
