package events

import (
	"encoding/json"
	"fmt"
	"time"
)

// Job is one delivery job: a batch of tokens of one platform and app sharing
// one notification. The dispatcher publishes it on push.send.<platform>.<app>
// with Nats-Msg-Id set to ID, so a dispatcher redelivery never doubles it.
type Job struct {
	// ID is derived from the intent id, platform and batch index (and the
	// retry generation for re-queued partial failures).
	ID           string       `json:"id"`
	IntentID     string       `json:"intent_id"`
	App          string       `json:"app"`
	Platform     Platform     `json:"platform"`
	Tokens       []string     `json:"tokens"`
	Notification Notification `json:"notification"`
	Overrides    *Overrides   `json:"overrides,omitempty"`
	// CreatedAt is when the intent was accepted, for intent-to-provider latency.
	CreatedAt time.Time `json:"created_at"`
	// Attempt counts earlier tries of these tokens in re-queued jobs, so the
	// retry budget survives partial-failure splits.
	Attempt int `json:"attempt,omitempty"`
}

// JobID derives a job's id from its intent, platform, batch index and retry
// generation (0 for the dispatcher's first publish).
func JobID(intentID string, p Platform, batch, generation int) string {
	if generation == 0 {
		return fmt.Sprintf("%s.%s.%d", intentID, p, batch)
	}
	return fmt.Sprintf("%s.%s.%d.r%d", intentID, p, batch, generation)
}

// Expired reports whether the job's notification expiry has passed at now.
func (j *Job) Expired(now time.Time) bool {
	return j.Notification.Expiry != nil && !j.Notification.Expiry.After(now)
}

// DecodeJob parses a delivery job; errors wrap ErrMalformed.
func DecodeJob(b []byte) (*Job, error) {
	var j Job
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("%w: job: %v", ErrMalformed, err)
	}
	switch {
	case !j.Platform.Valid():
		return nil, fmt.Errorf("%w: job: unknown platform %q", ErrMalformed, j.Platform)
	case j.App == "" || len(j.Tokens) == 0:
		return nil, fmt.Errorf("%w: job: app and tokens are required", ErrMalformed)
	}
	return &j, nil
}
