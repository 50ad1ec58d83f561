package events

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strings"
	"time"
)

// Job is one delivery job: a batch of tokens of one platform and app sharing
// one notification. The dispatcher publishes it on push.send.<platform>.<app>
// with Nats-Msg-Id "<app>:<ID>" (IDs derive from intent ids, unique only
// within an app), so a dispatcher redelivery never doubles it. It carries no
// TTL: the sender checks Expired before each provider request.
type Job struct {
	// ID is derived from the intent id, platform and batch index (and the
	// retry generation for re-queued partial failures).
	ID       string   `json:"id"`
	IntentID string   `json:"intent_id"`
	App      string   `json:"app"`
	Platform Platform `json:"platform"`
	Tokens   []string `json:"tokens"`
	// Topics makes a topic job: each token is then the Key of one of these
	// topic targets (a re-queued part keeps every topic and a subset of
	// the keys), sent to the topic instead of a device.
	Topics       []Topic      `json:"topics,omitempty"`
	Notification Notification `json:"notification"`
	Overrides    *Overrides   `json:"overrides,omitempty"`
	// CreatedAt is when the intent was accepted, for intent-to-provider latency.
	CreatedAt time.Time `json:"created_at"`
	// Attempt counts earlier tries of these tokens in re-queued jobs, so the
	// retry budget survives partial-failure splits.
	Attempt int `json:"attempt,omitempty"`
	// Generation counts how often a part of the job was re-queued; it makes
	// each re-queued job's id unique.
	Generation int `json:"generation,omitempty"`
}

// JobID derives a job's id from its intent, platform, batch index and the
// tokens it carries: a redelivered intent that resolves to the same batches
// yields the same ids (deduplicated by the stream), while a batch whose
// content changed (say, a token since suppressed) gets a new id instead of
// being mistaken for a duplicate and lost.
func JobID(intentID string, p Platform, batch int, tokens []string) string {
	h := fnv.New64a()
	for _, t := range tokens {
		h.Write([]byte(t))
		h.Write([]byte{0})
	}
	return fmt.Sprintf("%s.%s.%d.%08x", intentID, p, batch, uint32(h.Sum64()))
}

// RetryJobID is the id of a job's re-queued part at a generation: the
// original job's id with ".g<generation>", so ids stay short however often
// a job is re-queued. Like every job id it is unique only within its app:
// publish it with JobMsgID.
func RetryJobID(jobID string, generation int) string {
	root, _, _ := strings.Cut(jobID, ".g")
	return fmt.Sprintf("%s.g%d", root, generation)
}

// JobMsgID is the Nats-Msg-Id of a job, first or re-queued: "<app>:<id>".
// Job ids derive from intent ids, unique only within an app, while a stream
// deduplicates across all its subjects: two apps' jobs (or retries) with
// the same id must not be taken for one.
func JobMsgID(app, jobID string) string { return IntentMsgID(app, jobID) }

// Expired reports whether the job's notification expiry has passed at now.
func (j *Job) Expired(now time.Time) bool {
	return j.Notification.Expiry != nil && !j.Notification.Expiry.After(now)
}

// DecodeJob parses a delivery job; errors wrap ErrMalformed.
func DecodeJob(b []byte) (*Job, error) {
	var j Job
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, fmt.Errorf("%w job: %v", ErrMalformed, err)
	}
	switch {
	case !j.Platform.Valid():
		return nil, fmt.Errorf("%w job: unknown platform %q", ErrMalformed, j.Platform)
	case j.App == "" || len(j.Tokens) == 0:
		return nil, fmt.Errorf("%w job: app and tokens are required", ErrMalformed)
	}
	if len(j.Topics) > 0 {
		keys := j.TopicsByKey()
		for _, t := range j.Tokens {
			if _, ok := keys[t]; !ok {
				return nil, fmt.Errorf("%w job: token %q of a topic job names none of its topics", ErrMalformed, t)
			}
		}
		for _, tp := range j.Topics {
			if tp.Platform != j.Platform || tp.Platform == APNs {
				return nil, fmt.Errorf("%w job: a %s topic in a %s job", ErrMalformed, tp.Platform, j.Platform)
			}
		}
	}
	return &j, nil
}

// TopicsByKey maps the keys of a topic job's tokens to their topics (nil
// for a job to devices).
func (j *Job) TopicsByKey() map[string]Topic {
	if len(j.Topics) == 0 {
		return nil
	}
	m := make(map[string]Topic, len(j.Topics))
	for _, t := range j.Topics {
		m[t.Key()] = t
	}
	return m
}
