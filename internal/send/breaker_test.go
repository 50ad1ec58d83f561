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
		if err := b.wait(ctx); err != nil {
			t.Fatal(err)
		}
		b.failure()
	}
	if opened.Load() != 1 {
		t.Fatal("breaker did not open after 3 consecutive failures")
	}
	// While open, callers wait; a short context gives up.
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if err := b.wait(short); err == nil {
		t.Fatal("wait returned while the breaker was open")
	}
	// After the cool-down exactly one probe goes through.
	start := time.Now()
	if err := b.wait(ctx); err != nil {
		t.Fatal(err)
	}
	if time.Since(start) < 30*time.Millisecond {
		t.Fatal("probe let through before the cool-down")
	}
	second, cancel2 := context.WithTimeout(ctx, 30*time.Millisecond)
	defer cancel2()
	if err := b.wait(second); err == nil {
		t.Fatal("a second caller passed while the probe was out")
	}
	b.failure() // probe failed: open again, for longer
	start = time.Now()
	if err := b.wait(ctx); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 80*time.Millisecond {
		t.Fatalf("reopened cool-down %v, want doubled (~100ms)", el)
	}
	b.success()
	if closedN.Load() != 1 {
		t.Fatal("breaker did not report closing after a successful probe")
	}
	if err := b.wait(ctx); err != nil {
		t.Fatal("closed breaker blocks")
	}
}
