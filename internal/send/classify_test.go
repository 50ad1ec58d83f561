package send

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

// classify sorts each kind of answer: its feedback outcome (or none), and
// whether its token is done, retried, re-queued for a rate limit or dead.
func TestClassify(t *testing.T) {
	created := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	now := created.Add(time.Minute)
	answeredAt := now.Add(-time.Second)
	providerAt := time.Date(2026, 12, 1, 0, 0, 0, 0, time.FixedZone("x", 3600))
	job := &events.Job{ID: "j1", IntentID: "i1", App: "shop", Platform: events.APNs, CreatedAt: created}
	rateLimited := fmt.Errorf("429: %w", provider.ErrRateLimited)
	notSent := fmt.Errorf("quota hold: %w", provider.ErrNotSent)
	fb := func(token string, o events.Outcome, reason string) events.Feedback {
		return events.Feedback{App: "shop", Platform: events.APNs, Token: token, Outcome: o, Reason: reason,
			IntentID: "i1", JobID: "j1", At: now}
	}

	for _, tc := range []struct {
		name    string
		results []provider.Result
		budget  time.Duration // rate-limit budget (0: one hour)
		want    answers       // total and feedback are checked too
	}{
		{
			name:    "delivered",
			results: []provider.Result{{Token: "a", Kind: provider.Delivered, AnsweredAt: answeredAt}},
			want: answers{answered: true, feedback: []events.Feedback{
				func() events.Feedback { f := fb("a", events.Delivered, ""); f.At = answeredAt; return f }()}},
		},
		{
			name:    "invalid token, with the provider's time",
			results: []provider.Result{{Token: "a", Kind: provider.InvalidToken, Reason: "Unregistered", ProviderAt: providerAt}},
			want: answers{answered: true, feedback: []events.Feedback{
				func() events.Feedback {
					f := fb("a", events.InvalidToken, "Unregistered")
					pat := providerAt.UTC()
					f.ProviderAt = &pat
					return f
				}()}},
		},
		{
			name:    "token replaced",
			results: []provider.Result{{Token: "a", Kind: provider.TokenReplaced, NewToken: "b"}},
			want: answers{answered: true, feedback: []events.Feedback{
				func() events.Feedback { f := fb("a", events.TokenReplaced, ""); f.NewToken = "b"; return f }()}},
		},
		{
			name:    "new token only with token replaced",
			results: []provider.Result{{Token: "a", Kind: provider.Delivered, NewToken: "b"}},
			want:    answers{answered: true, feedback: []events.Feedback{fb("a", events.Delivered, "")}},
		},
		{
			name:    "permanent: dead with the error's detail",
			results: []provider.Result{{Token: "a", Kind: provider.Permanent, Reason: "10017", Err: errors.New("bad payload")}},
			want: answers{answered: true, dead: []int{0}, deadReason: "10017: bad payload",
				feedback: []events.Feedback{fb("a", events.Dead, "10017")}},
		},
		{
			name:    "expired: final, neither retried nor an answer",
			results: []provider.Result{{Token: "a", Kind: provider.Expired, Reason: "expired before sending", Err: provider.ErrExpired}},
			want:    answers{feedback: []events.Feedback{fb("a", events.Expired, "expired before sending")}},
		},
		{
			name:    "credentials rejected: retried, not an answer",
			results: []provider.Result{{Token: "a", Kind: provider.CredentialError, Reason: "InvalidProviderToken"}},
			want: answers{retry: []int{0}, credReason: "InvalidProviderToken",
				feedback: []events.Feedback{fb("a", events.Failed, "InvalidProviderToken")}},
		},
		{
			name: "retry: the longest wait, the last reason",
			results: []provider.Result{
				{Token: "a", Kind: provider.Retry, Reason: "503", RetryAfter: 5 * time.Second},
				{Token: "b", Kind: provider.Retry, Reason: "500", RetryAfter: time.Second},
			},
			want: answers{retry: []int{0, 1}, retryAfter: 5 * time.Second, retryReason: "500",
				feedback: []events.Feedback{fb("a", events.Failed, "503"), fb("b", events.Failed, "500")}},
		},
		{
			name:    "retry without a reason: the error's text",
			results: []provider.Result{{Token: "a", Kind: provider.Retry, Err: errors.New("connection reset")}},
			want: answers{retry: []int{0}, retryReason: "connection reset",
				feedback: []events.Feedback{fb("a", events.Failed, "")}},
		},
		{
			name: "rate limited inside the budget: re-queued, spends no attempt",
			results: []provider.Result{
				{Token: "a", Kind: provider.Retry, Reason: "429", RetryAfter: 3 * time.Second, Err: rateLimited},
				{Token: "b", Kind: provider.Retry, Reason: "429", RetryAfter: 7 * time.Second, Err: rateLimited},
			},
			want: answers{limited: []int{0, 1}, limitedAfter: 7 * time.Second, answered: true,
				feedback: []events.Feedback{fb("a", events.Failed, "429"), fb("b", events.Failed, "429")}},
		},
		{
			name:    "rate limited past the budget: retried",
			budget:  30 * time.Second,
			results: []provider.Result{{Token: "a", Kind: provider.Retry, Reason: "429", RetryAfter: 3 * time.Second, Err: rateLimited}},
			want: answers{retry: []int{0}, retryAfter: 3 * time.Second, retryReason: "429",
				feedback: []events.Feedback{fb("a", events.Failed, "429")}},
		},
		{
			name: "held back before any request: retried, no feedback",
			results: []provider.Result{
				{Token: "a", Kind: provider.Retry, Reason: "held", Err: notSent},
				{Token: "b", Kind: provider.CredentialError, Reason: "held", Err: notSent},
			},
			want: answers{retry: []int{0, 1}, retryReason: "held", credReason: "held", feedback: []events.Feedback{}},
		},
		{
			name:    "a kind this version does not know: failed and retried",
			results: []provider.Result{{Token: "a", Kind: provider.Kind(99)}},
			want: answers{retry: []int{0}, retryReason: "Kind(99)",
				feedback: []events.Feedback{fb("a", events.Failed, "")}},
		},
		{
			name: "mixed",
			results: []provider.Result{
				{Token: "a", Kind: provider.Delivered},
				{Token: "b", Kind: provider.Permanent, Reason: "BadTopic"},
				{Token: "c", Kind: provider.Retry, Reason: "503"},
			},
			want: answers{answered: true, dead: []int{1}, deadReason: "BadTopic", retry: []int{2}, retryReason: "503",
				feedback: []events.Feedback{fb("a", events.Delivered, ""), fb("b", events.Dead, "BadTopic"), fb("c", events.Failed, "503")}},
		},
		{
			name: "no results",
			want: answers{feedback: []events.Feedback{}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			budget := tc.budget
			if budget == 0 {
				budget = time.Hour
			}
			got := classify(job, tc.results, now, budget)
			tc.want.total = len(tc.results)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("classify:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// Every kind maps to one outcome; retried and unknown kinds are failed.
func TestOutcomeOf(t *testing.T) {
	for k, want := range map[provider.Kind]events.Outcome{
		provider.Delivered: events.Delivered, provider.InvalidToken: events.InvalidToken,
		provider.TokenReplaced: events.TokenReplaced, provider.Permanent: events.Dead,
		provider.Expired: events.Expired, provider.Retry: events.Failed,
		provider.CredentialError: events.Failed, provider.Kind(0): events.Failed, provider.Kind(99): events.Failed,
	} {
		if got := outcomeOf(k); got != want {
			t.Errorf("outcomeOf(%v) = %s, want %s", k, got, want)
		}
	}
}
