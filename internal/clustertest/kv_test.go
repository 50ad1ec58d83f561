package clustertest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/internal/tokens"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// On an R3 bucket a compare-and-swap conflict is JetStream error 10164
// (ErrKeyRevisionMismatch), not 10071 (ErrKeyExists) as on one server; the
// token store must retry on it so that concurrent writers on different
// nodes both keep their changes.
func TestKVCompareAndSwapOnR3Bucket(t *testing.T) {
	t.Parallel()
	c := natstest.StartCluster(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, adminJS := connect(t, c, 0, "admin")
	provision(ctx, t, adminJS, streams.Config{Replicas: 3})

	_, jsA := connect(t, c, 1, "writer-a")
	_, jsB := connect(t, c, 2, "writer-b")
	kvA, err := jsA.KeyValue(ctx, events.TokensBucket)
	if err != nil {
		t.Fatal(err)
	}
	kvB, err := jsB.KeyValue(ctx, events.TokensBucket)
	if err != nil {
		t.Fatal(err)
	}
	st, err := kvA.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r := st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Replicas; r != 3 {
		t.Fatalf("bucket has %d replicas, want 3", r)
	}

	t.Run("raw update with a stale revision", func(t *testing.T) {
		rev, err := kvA.Put(ctx, "cas.raw", []byte("v1"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kvB.Update(ctx, "cas.raw", []byte("v2"), rev); err != nil {
			t.Fatal(err)
		}
		_, err = kvA.Update(ctx, "cas.raw", []byte("v3"), rev)
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			t.Fatalf("stale update on R3: %v, want ErrKeyRevisionMismatch", err)
		}
		t.Logf("stale update on R3: %v (errors.Is ErrKeyExists: %v)", err, errors.Is(err, jetstream.ErrKeyExists))
		_, err = kvA.Create(ctx, "cas.raw", []byte("v4"))
		if !errors.Is(err, jetstream.ErrKeyExists) && !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			t.Fatalf("create of an existing key on R3: %v", err)
		}
		t.Logf("create of an existing key on R3: %v (ErrKeyExists: %v, ErrKeyRevisionMismatch: %v)",
			err, errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyRevisionMismatch))
	})

	// A stale revision is caught when the leader applies the write (10071);
	// writes racing for a key whose previous write is still in the raft
	// proposal pipeline are refused before the proposal (10164), which only
	// a replicated stream does. Both must read as ErrKeyRevisionMismatch.
	t.Run("racing raw updates", func(t *testing.T) {
		codes := map[jetstream.ErrorCode]int{}
		for round := range 30 {
			key := fmt.Sprintf("cas.race%d", round)
			rev, err := kvA.Put(ctx, key, []byte("v0"))
			if err != nil {
				t.Fatal(err)
			}
			start := make(chan struct{})
			results := make(chan error, 8)
			var wg sync.WaitGroup
			for i := range 8 {
				kv := kvA
				if i%2 == 1 {
					kv = kvB
				}
				wg.Go(func() {
					<-start
					_, err := kv.Update(ctx, key, []byte(fmt.Sprint(i)), rev)
					results <- err
				})
			}
			close(start)
			wg.Wait()
			close(results)
			won := 0
			for err := range results {
				if err == nil {
					won++
					continue
				}
				if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
					t.Fatalf("losing update: %v, want ErrKeyRevisionMismatch", err)
				}
				var apiErr *jetstream.APIError
				if errors.As(err, &apiErr) {
					codes[apiErr.ErrorCode]++
				}
			}
			if won != 1 {
				t.Fatalf("%d racing updates of one revision succeeded, want 1", won)
			}
			if codes[jetstream.JSErrCodeStreamWrongLastSequenceConstant] > 0 && codes[jetstream.JSErrCodeStreamWrongLastSequence] > 0 {
				break
			}
		}
		t.Logf("losing updates by error code: %v (10071 stale revision, 10164 in-flight conflict on R3)", codes)
	})

	storeA, storeB := tokens.NewStore(kvA), tokens.NewStore(kvB)
	const app, token = "demo", "fcm:cas-token"
	set := func(s *tokens.Store, k string, calls *atomic.Int32, before func()) error {
		_, err := s.Update(ctx, app, events.FCM, token, func(r *tokens.Record) bool {
			if calls.Add(1) == 1 && before != nil {
				before()
			}
			if r.Attributes == nil {
				r.Attributes = map[string]string{}
			}
			r.Attributes[k] = "1"
			return true
		})
		return err
	}

	t.Run("store update loses a race and retries", func(t *testing.T) {
		var seed atomic.Int32
		if err := set(storeA, "seed", &seed, nil); err != nil {
			t.Fatal(err)
		}
		// A reads the record, then B writes it, then A writes: A's revision
		// is stale, its first write fails and it must retry on a fresh read.
		var callsA, callsB atomic.Int32
		aRead, bWrote := make(chan struct{}), make(chan struct{})
		errB := make(chan error, 1)
		go func() {
			<-aRead
			errB <- set(storeB, "b", &callsB, nil)
			close(bWrote)
		}()
		err := set(storeA, "a", &callsA, func() {
			close(aRead)
			<-bWrote
		})
		if err != nil {
			t.Fatalf("writer A: %v", err)
		}
		if err := <-errB; err != nil {
			t.Fatalf("writer B: %v", err)
		}
		if n := callsA.Load(); n < 2 {
			t.Fatalf("writer A ran its change %d time(s): the conflict was not detected", n)
		}
		r, _, err := storeA.Get(ctx, app, events.FCM, token)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"seed", "a", "b"} {
			if r.Attributes[k] != "1" {
				t.Fatalf("record lost %q: %v", k, r.Attributes)
			}
		}
	})

	t.Run("concurrent writers on different nodes keep every change", func(t *testing.T) {
		const perWriter = 25
		var calls atomic.Int32
		var wg sync.WaitGroup
		errs := make(chan error, 2*perWriter)
		for w, s := range map[string]*tokens.Store{"a": storeA, "b": storeB} {
			wg.Go(func() {
				for i := range perWriter {
					if err := set(s, fmt.Sprintf("%s%02d", w, i), &calls, nil); err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		r, _, err := storeB.Get(ctx, app, events.FCM, token)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range []string{"a", "b"} {
			for i := range perWriter {
				if k := fmt.Sprintf("%s%02d", w, i); r.Attributes[k] != "1" {
					t.Fatalf("record lost %q", k)
				}
			}
		}
		t.Logf("%d writes, %d conflicts retried", 2*perWriter, int(calls.Load())-2*perWriter)
	})
}
