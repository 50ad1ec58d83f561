package fcm

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

// platform labels metrics.
const platform = string(events.FCM)

// errExpiredBeforeRetry ends a message whose notification expired before
// the SDK's retry of it could be made.
var errExpiredBeforeRetry = errors.New("fcm: notification expired before the request")

// attempts travels in a message's context to every HTTP request the SDK
// makes for it (one, plus its own retries): the requests check the
// notification's expiry and record their durations. The SDK makes them one
// after the other, so no lock is needed.
type attempts struct {
	expiry    time.Time // zero: none
	cancel    context.CancelCauseFunc
	durations []time.Duration
}

type attemptsKey struct{}

// inFlight is the transport under each app's OAuth transport: it refuses a
// request whose notification expired (an SDK retry after the expiry), and
// reports requests waiting for FCM's answer and their durations.
type inFlight struct {
	base http.RoundTripper
	m    *provider.Metrics
}

func (t inFlight) RoundTrip(r *http.Request) (*http.Response, error) {
	a, _ := r.Context().Value(attemptsKey{}).(*attempts)
	if a != nil && !a.expiry.IsZero() && !a.expiry.After(time.Now()) {
		if r.Body != nil {
			r.Body.Close()
		}
		a.cancel(errExpiredBeforeRetry) // so the SDK stops retrying at once
		return nil, errExpiredBeforeRetry
	}
	t.m.AddInFlight(platform, 1)
	start := time.Now()
	resp, err := t.base.RoundTrip(r)
	t.m.AddInFlight(platform, -1)
	if a != nil {
		a.durations = append(a.durations, time.Since(start))
	}
	return resp, err
}
