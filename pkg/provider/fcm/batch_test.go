package fcm_test

import (
	"errors"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm/fcmfake"
	"github.com/pushfleet/pushfleet/pkg/provider/providertest"
)

// TestMixedBatch sends 500 tokens whose answers mix delivered, dead,
// malformed and foreign tokens with 50 injected 500s. Only the tokens hit by
// a 500 may come back Retry; resending exactly those ends with every good
// token delivered once and none twice.
func TestMixedBatch(t *testing.T) {
	t.Parallel()
	f := startFake(t, fcmfake.Options{})
	s := newSender(t, f, fcm.Config{BatchTimeout: slowBatchTimeout}, map[string]fcm.AppConfig{"app": sandboxApp(t, f, "app", "proj")})
	toks := tokens(1000, fcm.MaxBatch)
	final := make(map[string]provider.Kind, len(toks))
	for i, tok := range toks {
		switch i % 10 {
		case 1:
			f.SetDead(tok)
			final[tok] = provider.InvalidToken
		case 2:
			f.SetMalformed(tok)
			final[tok] = provider.InvalidToken
		case 3:
			f.SetForeign(tok)
			final[tok] = provider.InvalidToken
		default:
			final[tok] = provider.Delivered
		}
	}
	const failures = 50
	f.FailNext(failures, providertest.Internal, 0)

	rs := send(t, s, newJob("app", toks...), 30*time.Second)
	var retry []string
	for _, r := range rs {
		switch r.Kind {
		case final[r.Token]:
		case provider.Retry:
			if !errors.Is(r.Err, provider.ErrUnavailable) || r.Reason != "INTERNAL" {
				t.Fatalf("retry for %s: %s %v", r.Token, r.Reason, r.Err)
			}
			retry = append(retry, r.Token)
		default:
			t.Fatalf("token %s: %v (%s), want %v or retry", r.Token, r.Kind, r.Reason, final[r.Token])
		}
		if r.Kind == provider.Retry && f.Delivered(r.Token) != 0 {
			t.Fatalf("token %s reported retry but was delivered", r.Token)
		}
	}
	if len(retry) != failures {
		t.Fatalf("%d retry results, want exactly the %d injected failures", len(retry), failures)
	}

	for _, r := range send(t, s, newJob("app", retry...), 30*time.Second) {
		if r.Kind != final[r.Token] {
			t.Fatalf("resent token %s: %v (%s), want %v", r.Token, r.Kind, r.Reason, final[r.Token])
		}
	}
	for _, tok := range toks {
		want := 0
		if final[tok] == provider.Delivered {
			want = 1
		}
		if n := f.Delivered(tok); n != want {
			t.Fatalf("token %s delivered %d times, want %d", tok, n, want)
		}
	}
	if n := f.SendRequests(); n != int64(len(toks)+failures) {
		t.Fatalf("%d send requests, want one per token plus one per resent token (%d)", n, len(toks)+failures)
	}
}

// TestLargeJobIsChunked checks a job above 500 tokens goes out in SendEach
// batches with results still in order.
func TestLargeJobIsChunked(t *testing.T) {
	t.Parallel()
	f := startFake(t, fcmfake.Options{})
	s := newSender(t, f, fcm.Config{}, map[string]fcm.AppConfig{"app": sandboxApp(t, f, "app", "proj")})
	toks := tokens(5000, fcm.MaxBatch+7)
	f.SetDead(toks[len(toks)-1])
	rs := send(t, s, newJob("app", toks...), 30*time.Second)
	k := countKinds(rs)
	if k[provider.Delivered] != len(toks)-1 || rs[len(rs)-1].Kind != provider.InvalidToken {
		t.Fatalf("kinds %v, last %v", k, rs[len(rs)-1].Kind)
	}
}
