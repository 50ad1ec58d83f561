package events_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// coalescedJob holds three notifications; the same device appears for two
// of them, which is why tokens are named by position, not by value.
func coalescedJob(t *testing.T) *events.Job {
	t.Helper()
	past, future := time.Now().Add(-time.Minute), time.Now().Add(time.Hour)
	created := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	return &events.Job{ID: "c-1", App: "shop", Platform: events.APNs,
		Tokens: []string{"aa", "bb", "aa", "cc"}, Of: []int{0, 0, 1, 2},
		Parts: []events.Part{
			{IntentID: "i1", Notification: events.Notification{Title: "one", Expiry: &future}, CreatedAt: created},
			{IntentID: "i2", Notification: events.Notification{Title: "two", Expiry: &past}, CreatedAt: created.Add(time.Second)},
			{IntentID: "i3", Notification: events.Notification{Title: "three"}, CreatedAt: created.Add(2 * time.Second)},
		}}
}

func TestCoalescedJobRoundTripAndSplit(t *testing.T) {
	job := coalescedJob(t)
	b, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	got, err := events.DecodeJob(b)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Coalesced() || got.IntentOf(2) != "i2" || got.IntentOf(3) != "i3" || got.PartOf(1).Notification.Title != "one" {
		t.Fatalf("decoded %+v", got)
	}
	subs := got.Split()
	if len(subs) != 3 {
		t.Fatalf("%d sub-jobs, want 3", len(subs))
	}
	want := []struct {
		intent string
		tokens []string
		index  []int
	}{{"i1", []string{"aa", "bb"}, []int{0, 1}}, {"i2", []string{"aa"}, []int{2}}, {"i3", []string{"cc"}, []int{3}}}
	for k, w := range want {
		s := subs[k]
		if s.Job.Coalesced() || s.Job.IntentID != w.intent || !reflect.DeepEqual(s.Job.Tokens, w.tokens) ||
			!reflect.DeepEqual(s.Index, w.index) || s.Job.App != "shop" || s.Job.Platform != events.APNs {
			t.Errorf("sub-job %d = %+v (index %v), want %s %v %v", k, s.Job, s.Index, w.intent, w.tokens, w.index)
		}
	}
	if subs[1].Job.Expired(time.Now()) != true || subs[0].Job.Expired(time.Now()) {
		t.Error("each sub-job must carry its own notification's expiry")
	}
}

// A coalesced job has expired only when every notification has; each
// token's expiry is its own notification's.
func TestCoalescedJobExpiry(t *testing.T) {
	job := coalescedJob(t)
	now := time.Now()
	if job.Expired(now) {
		t.Fatal("expired while two of three notifications are not")
	}
	for i, want := range []bool{false, false, true, false} {
		if got := job.ExpiresBy(i, now); got != want {
			t.Errorf("token %d expires by now: %v, want %v", i, got, want)
		}
	}
	if !job.ExpiresBy(0, now.Add(2*time.Hour)) || job.ExpiresBy(3, now.Add(1000*time.Hour)) {
		t.Error("ExpiresBy must follow each part's expiry (none for i3)")
	}
}

// A re-queued subset keeps only the notifications its tokens need; down
// to one, it is a plain job again.
func TestCoalescedJobSubset(t *testing.T) {
	job := coalescedJob(t)
	sub := job.Subset([]int{1, 3})
	if !sub.Coalesced() || len(sub.Parts) != 2 || !reflect.DeepEqual(sub.Tokens, []string{"bb", "cc"}) ||
		sub.IntentOf(0) != "i1" || sub.IntentOf(1) != "i3" {
		t.Fatalf("subset %+v", sub)
	}
	one := job.Subset([]int{2})
	if one.Coalesced() || one.IntentID != "i2" || one.Notification.Title != "two" || !reflect.DeepEqual(one.Tokens, []string{"aa"}) {
		t.Fatalf("one-part subset %+v", one)
	}
	if _, err := json.Marshal(one); err != nil {
		t.Fatal(err)
	}
	if len(job.Parts) != 3 || len(job.Tokens) != 4 {
		t.Fatal("Subset changed the job")
	}
}

func TestDecodeJobRefusesBadCoalescedShapes(t *testing.T) {
	tests := map[string]func(j *events.Job){
		"one part":            func(j *events.Job) { j.Parts, j.Of = j.Parts[:1], []int{0, 0, 0, 0} },
		"index out of range":  func(j *events.Job) { j.Of[3] = 3 },
		"negative index":      func(j *events.Job) { j.Of[0] = -1 },
		"missing indexes":     func(j *events.Job) { j.Of = j.Of[:2] },
		"single fields too":   func(j *events.Job) { j.IntentID = "x" },
		"indexes, no parts":   func(j *events.Job) { j.Parts = nil },
		"topic of a platform": func(j *events.Job) { j.Parts[0].Topics = []events.Topic{{Platform: events.FCM, Topic: "news"}} },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			j := coalescedJob(t)
			mutate(j)
			b, err := json.Marshal(j)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := events.DecodeJob(b); !errors.Is(err, events.ErrMalformed) {
				t.Fatalf("DecodeJob = %v, want ErrMalformed", err)
			}
		})
	}
}

// The same parts give the same id (a republished job is deduplicated);
// any other content gives another.
func TestCoalescedJobID(t *testing.T) {
	id := events.CoalescedJobID([]string{"i1#0", "i2#0"}, []string{"aa", "bb"}, []int{0, 1})
	if id != events.CoalescedJobID([]string{"i1#0", "i2#0"}, []string{"aa", "bb"}, []int{0, 1}) {
		t.Fatal("not deterministic")
	}
	for _, other := range []string{
		events.CoalescedJobID([]string{"i1#0", "i3#0"}, []string{"aa", "bb"}, []int{0, 1}),
		events.CoalescedJobID([]string{"i1#0", "i2#0"}, []string{"aa", "cc"}, []int{0, 1}),
		events.CoalescedJobID([]string{"i1#0", "i2#0"}, []string{"bb", "aa"}, []int{0, 1}),
		events.CoalescedJobID([]string{"i1#0", "i2#0"}, []string{"aa", "bb"}, []int{0, 0}),
	} {
		if other == id {
			t.Errorf("different parts, same id %s", id)
		}
	}
}
