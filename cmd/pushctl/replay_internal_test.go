package main

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// Replaying a sender's dead letter of a coalesced job re-publishes only
// its dead tokens, each with its own notification, as a job the sender
// accepts: one device may be in the job for two notifications.
func TestReplayOfACoalescedJobKeepsEachTokensNotification(t *testing.T) {
	job := events.Job{ID: "c-1", App: "shop", Platform: events.APNs,
		Tokens: []string{"aa", "bb", "aa", "cc"}, Of: []int{0, 0, 1, 2},
		Parts: []events.Part{{IntentID: "i1", Notification: events.Notification{Title: "one"}},
			{IntentID: "i2", Notification: events.Notification{Title: "two"}},
			{IntentID: "i3", Notification: events.Notification{Title: "three"}}}}
	body, err := json.Marshal(&job)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		dead    []string
		intents []string
	}{
		{[]string{"aa", "aa"}, []string{"i1", "i2"}},
		{[]string{"cc", "bb"}, []string{"i3", "i1"}},
		{[]string{"cc"}, []string{"i3"}},
	}
	for _, tt := range tests {
		d := events.DeadLetter{Stage: "apns", App: "shop", Subject: events.SendSubject(events.APNs, "shop"), Tokens: tt.dead}
		d.SetPayload(body)
		msg, id, err := replayMsg(entry{seq: 7, d: d})
		if err != nil {
			t.Fatalf("%v: %v", tt.dead, err)
		}
		got, err := events.DecodeJob(msg.Data)
		if err != nil {
			t.Fatalf("%v: the replayed job is refused: %v", tt.dead, err)
		}
		var intents []string
		for i := range got.Tokens {
			intents = append(intents, got.IntentOf(i))
		}
		if !reflect.DeepEqual(got.Tokens, tt.dead) || !reflect.DeepEqual(intents, tt.intents) || id != events.JobMsgID("shop", got.ID) || got.ID != "c-1.replay7" {
			t.Errorf("%v: replayed %v of intents %v as %s (msg id %s), want intents %v", tt.dead, got.Tokens, intents, got.ID, id, tt.intents)
		}
	}
	d := events.DeadLetter{Stage: "apns", App: "shop", Subject: events.SendSubject(events.APNs, "shop"), Tokens: []string{"zz"}}
	d.SetPayload(body)
	if _, _, err := replayMsg(entry{seq: 8, d: d}); err == nil {
		t.Error("a dead token that is not in the job was replayed")
	}
}

// A whole job given up on (a dead letter naming no tokens, or one from the
// retry stream) is replayed under a new job id: under its old one the
// sender, which remembers the jobs it took (push_job_ids), would drop it
// unsent, without an outcome.
func TestReplayedJobsGetANewID(t *testing.T) {
	job := events.Job{ID: "i1.apns.0.abcd", IntentID: "i1", App: "shop", Platform: events.APNs, Tokens: []string{"aa", "bb"},
		Notification: events.Notification{Title: "t"}}
	body, err := json.Marshal(&job)
	if err != nil {
		t.Fatal(err)
	}
	for _, subject := range []string{events.SendSubject(events.APNs, "shop"), events.RetryDueSubject(events.APNs, "shop")} {
		d := events.DeadLetter{Stage: "apns", App: "shop", Subject: subject}
		d.SetPayload(body)
		msg, id, err := replayMsg(entry{seq: 9, d: d})
		if err != nil {
			t.Fatal(err)
		}
		got, err := events.DecodeJob(msg.Data)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID == job.ID || id != events.JobMsgID("shop", got.ID) || !reflect.DeepEqual(got.Tokens, job.Tokens) {
			t.Errorf("%s: replayed as %s (msg id %s) with %v, want a new id and every token", subject, got.ID, id, got.Tokens)
		}
	}
}
