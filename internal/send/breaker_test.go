package send

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

func TestBreakerOpensProbesAndCloses(t *testing.T) {
	var opened, closedN atomic.Int32
	b := newBreaker(3, 50*time.Millisecond, 200*time.Millisecond, func(open bool) {
		if open {
			opened.Add(1)
		} else {
			closedN.Add(1)
		}
	})
	ctx := context.Background()
	for range 3 {
		done, err := b.wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		done(unreachable)
	}
	if opened.Load() != 1 {
		t.Fatal("breaker did not open after 3 consecutive failures")
	}
	// While open, callers wait; a short context gives up.
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := b.wait(short); err == nil {
		t.Fatal("wait returned while the breaker was open")
	}
	// After the cool-down exactly one probe goes through.
	start := time.Now()
	probe, err := b.wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 30*time.Millisecond {
		t.Fatal("probe let through before the cool-down")
	}
	second, cancel2 := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel2()
	if _, err := b.wait(second); err == nil {
		t.Fatal("a second caller passed while the probe was out")
	}
	probe(unreachable) // probe failed: open again, for longer
	start = time.Now()
	probe, err = b.wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 80*time.Millisecond {
		t.Fatalf("reopened cool-down %v, want doubled (~100ms)", el)
	}
	probe(answered)
	probe(unreachable) // a second call of done is ignored
	if closedN.Load() != 1 {
		t.Fatal("breaker did not report closing after a successful probe")
	}
	if _, err := b.wait(ctx); err != nil {
		t.Fatal("closed breaker blocks")
	}
}

// A probe that learns nothing (its job expired while it waited, its tokens
// were held back, it panicked) releases the half-open slot: the next caller
// becomes the probe at once, instead of every caller waiting for ever.
func TestBreakerProbeWithoutAnswerReleasesSlot(t *testing.T) {
	b := newBreaker(1, 20*time.Millisecond, time.Second, func(bool) {})
	ctx := context.Background()
	done, err := b.wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	done(unreachable) // open
	probe, err := b.wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// A waiter blocked behind the probe is woken when it gives up.
	next := make(chan error, 1)
	go func() {
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		d, err := b.wait(wctx)
		if err == nil {
			d(answered)
		}
		next <- err
	}()
	probe(noAnswer)
	if err := <-next; err != nil {
		t.Fatalf("the caller after a probe without answer: %v, want to become the probe", err)
	}
	if _, err := b.wait(ctx); err != nil {
		t.Fatal(err)
	}
}
