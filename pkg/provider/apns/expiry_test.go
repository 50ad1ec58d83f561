package apns_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/apns"
	"github.com/pushfleet/pushfleet/pkg/provider/apns/apnsfake"
)

// TestBacklogNeverSendsAfterExpiry queues four jobs of ten tokens behind a
// pool of two workers while APNs answers in 200ms: the backlog takes 4s, the
// notifications expire after 600ms. The pool worker checks the expiry right
// before each request, so no request reaches APNs after it (the old check,
// when a job started, let requests out for seconds after), every token not
// sent is Expired, and every token sent before the expiry is delivered.
func TestBacklogNeverSendsAfterExpiry(t *testing.T) {
	f := newFixture(t, apnsfake.Options{}, func(c *apns.Config) { c.ConnsPerPool, c.MaxStreamsPerConn = 1, 2 })
	f.fake.SetLatency(200 * time.Millisecond)
	expiry := time.Now().Add(500 * time.Millisecond)
	jobs := make([]*events.Job, 4)
	results := make([][]provider.Result, len(jobs))
	var wg sync.WaitGroup
	for i := range jobs {
		jobs[i] = newJob(testApp, tokens(i*10, 10)...)
		jobs[i].ID = "backlog-" + string(rune('a'+i))
		jobs[i].Notification.Expiry = &expiry
		wg.Go(func() { results[i] = send(t, f.sender, jobs[i]) })
	}
	wg.Wait()

	// From the check to the request's arrival; without the check, requests
	// arrive 300ms to 3.5s after the expiry.
	const slack = 250 * time.Millisecond
	for _, at := range f.fake.RequestTimes() {
		if late := at.Sub(expiry); late > slack {
			t.Fatalf("a request reached APNs %v after the notification's expiry", late.Round(time.Millisecond))
		}
	}
	var delivered, expired int
	for _, rs := range results {
		for _, r := range rs {
			switch r.Kind {
			case provider.Delivered:
				delivered++
			case provider.Expired:
				expired++
				if !errors.Is(r.Err, provider.ErrExpired) || f.fake.Delivered(r.Token) != 0 {
					t.Fatalf("token %s: expired result %v, delivered %d times", r.Token, r.Err, f.fake.Delivered(r.Token))
				}
			default:
				t.Fatalf("token %s: %v (%s), want delivered or expired", r.Token, r.Kind, r.Reason)
			}
		}
	}
	if int64(delivered) != f.fake.TotalDelivered() || int64(delivered) != f.fake.Requests() {
		t.Fatalf("%d delivered results, fake delivered %d of %d requests", delivered, f.fake.TotalDelivered(), f.fake.Requests())
	}
	if expired == 0 {
		t.Fatal("no token expired: the backlog did not outlast the expiry, the test proves nothing")
	}
}
