package mi_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
	"github.com/pushfleet/pushfleet/pkg/provider/mi"
	"github.com/pushfleet/pushfleet/pkg/provider/mi/mifake"
)

func TestPollInvalidPagesAndDrains(t *testing.T) {
	tests := []struct {
		name  string
		n     int
		calls int64 // a short page ends the poll
	}{
		{"empty", 0, 1},
		{"one page", 3, 1},
		{"exactly one full page", 1000, 2},
		{"several pages", 2500, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, fake := setup(t, mifake.Options{}, nil)
			want := regids(0, tc.n)
			fake.AddInvalidForPoll(want...)
			got, err := s.PollInvalid(context.Background(), testApp)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
				t.Fatalf("got %d regids, want %d", len(got), len(want))
			}
			if c := fake.FeedbackRequests(); c != tc.calls {
				t.Fatalf("%d feedback calls, want %d", c, tc.calls)
			}
			again, err := s.PollInvalid(context.Background(), testApp)
			if err != nil || len(again) != 0 {
				t.Fatalf("second poll: %d regids, %v; the feed hands each regid out once", len(again), err)
			}
		})
	}
}

func TestPollInvalidErrors(t *testing.T) {
	s, fake := setup(t, mifake.Options{}, nil)
	if _, err := s.PollInvalid(context.Background(), "nope"); !errors.Is(err, provider.ErrUnknownApp) {
		t.Fatalf("unknown app: %v", err)
	}
	// A region without a feedback host.
	s2, err := mi.New(mi.Config{Hosts: map[string]string{"lab": fake.URL()}, RootCAs: fake.CertPool()},
		map[string]mi.AppConfig{"lab": {PackageName: "com.example", AppSecret: "x", Region: "lab"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if _, err := s2.PollInvalid(context.Background(), "lab"); !errors.Is(err, mi.ErrNoFeedbackHost) {
		t.Fatalf("no feedback host: %v", err)
	}
	// A rejected secret is a credential error.
	if err := s.UpdateApps(map[string]mi.AppConfig{testApp: {PackageName: "com.example.demo", AppSecret: "wrong"}}); err != nil {
		t.Fatal(err)
	}
	var e *mi.Error
	if _, err := s.PollInvalid(context.Background(), testApp); !errors.As(err, &e) || e.Kind != provider.CredentialError {
		t.Fatalf("bad secret: %v", err)
	}
}

func TestPollerEmits(t *testing.T) {
	s, fake := setup(t, mifake.Options{}, nil)
	fake.AddInvalidForPoll("r1", "r2")
	p, err := mi.NewPoller(s, mi.PollerConfig{Interval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	type batch struct {
		app    string
		regids []string
	}
	got := make(chan batch, 10)
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, func(app string, r []string) { got <- batch{app, r} }) }()
	first := <-got
	if first.app != testApp || !slices.Equal(first.regids, []string{"r1", "r2"}) {
		t.Fatalf("first emit %+v", first)
	}
	// Later regids are picked up by a later tick.
	fake.AddInvalidForPoll("r3")
	if next := <-got; !slices.Equal(next.regids, []string{"r3"}) {
		t.Fatalf("next emit %+v", next)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run returned %v", err)
	}
	if c := fake.FeedbackRequests(); c < 2 {
		t.Fatalf("%d polls", c)
	}
}
