package providertest

import (
	"context"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

// Send sends j through s within timeout and fails the test unless there is
// exactly one result per token, in the job's order, as provider.Sender
// promises.
func Send(tb testing.TB, s provider.Sender, j *events.Job, timeout time.Duration) []provider.Result {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	rs := s.Send(ctx, j)
	if len(rs) != len(j.Tokens) {
		tb.Fatalf("Send returned %d results for %d tokens", len(rs), len(j.Tokens))
	}
	for i, r := range rs {
		if r.Token != j.Tokens[i] {
			tb.Fatalf("result %d is for token %q, want %q (results must follow the job's order)", i, r.Token, j.Tokens[i])
		}
	}
	return rs
}

// WantKind fails the test unless r is of kind k.
func WantKind(tb testing.TB, r provider.Result, k provider.Kind) {
	tb.Helper()
	if r.Kind != k {
		tb.Fatalf("token %s: kind %v (reason %q, err %v), want %v", r.Token, r.Kind, r.Reason, r.Err, k)
	}
}
