package events

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"
)

// Job is one delivery job: a batch of tokens of one platform and app. The
// dispatcher publishes it on push.send.<platform>.<app> with Nats-Msg-Id
// "<app>:<ID>" (IDs derive from intent ids, unique only within an app), so
// a dispatcher redelivery never doubles it. It carries no TTL: the sender
// checks Expired before each provider request.
//
// A job holds one notification (IntentID, Notification, Overrides, Topics,
// CreatedAt) or, coalesced from several intents, several: then Parts holds
// them, Of maps each token to its part, and the single-notification fields
// are empty. One-token intents are coalesced so that a busy fleet stores one
// job, not one per notification; Split turns such a job back into
// single-notification jobs for a provider.Sender.
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
	// Parts are the notifications of a coalesced job (at least two), Of the
	// index in Parts of each token's notification.
	Parts []Part `json:"parts,omitempty"`
	Of    []int  `json:"of,omitempty"`
}

// Part is one notification of a coalesced job: what a single-notification
// job carries in its own fields.
type Part struct {
	IntentID     string       `json:"intent_id"`
	Topics       []Topic      `json:"topics,omitempty"`
	Notification Notification `json:"notification"`
	Overrides    *Overrides   `json:"overrides,omitempty"`
	CreatedAt    time.Time    `json:"created_at"`
	// Trace is the W3C traceparent of the intent's dispatch, so that each
	// notification's send continues its own trace.
	Trace string `json:"trace,omitempty"`
}

// MaxJobParts bounds the notifications of one coalesced job (the
// dispatcher flushes at the platform's batch size, at most 1,000 tokens).
const MaxJobParts = 1000

// Coalesced reports whether the job carries several notifications.
func (j *Job) Coalesced() bool { return len(j.Parts) > 0 }

// PartOf returns the notification of token i.
func (j *Job) PartOf(i int) Part {
	if len(j.Parts) == 0 {
		return Part{IntentID: j.IntentID, Topics: j.Topics, Notification: j.Notification, Overrides: j.Overrides,
			CreatedAt: j.CreatedAt}
	}
	return j.Parts[j.Of[i]]
}

// IntentOf returns the intent id of token i, without copying its part.
func (j *Job) IntentOf(i int) string {
	if len(j.Parts) == 0 {
		return j.IntentID
	}
	return j.Parts[j.Of[i]].IntentID
}

// CreatedOf returns when the intent of token i was accepted.
func (j *Job) CreatedOf(i int) time.Time {
	if len(j.Parts) == 0 {
		return j.CreatedAt
	}
	return j.Parts[j.Of[i]].CreatedAt
}

// ExpiresBy reports whether token i's notification expires at or before t.
func (j *Job) ExpiresBy(i int, t time.Time) bool {
	e := j.Notification.Expiry
	if len(j.Parts) > 0 {
		e = j.Parts[j.Of[i]].Notification.Expiry
	}
	return e != nil && !e.After(t)
}

// SubJob is one notification of a job with its tokens, as a
// single-notification Job for a provider.Sender; Index maps each of its
// tokens to its position in the whole job.
type SubJob struct {
	Job   *Job
	Index []int
}

// Split returns the job's notifications as single-notification jobs, in
// part order, each with the positions of its tokens. A job that is not
// coalesced is returned as is.
func (j *Job) Split() []SubJob {
	if len(j.Parts) == 0 {
		idx := make([]int, len(j.Tokens))
		for i := range idx {
			idx[i] = i
		}
		return []SubJob{{Job: j, Index: idx}}
	}
	subs := make([]SubJob, len(j.Parts))
	for k := range j.Parts {
		subs[k].Job = j.single(k)
	}
	for i, t := range j.Tokens {
		k := j.Of[i]
		subs[k].Job.Tokens = append(subs[k].Job.Tokens, t)
		subs[k].Index = append(subs[k].Index, i)
	}
	out := subs[:0]
	for _, s := range subs {
		if len(s.Index) > 0 {
			out = append(out, s)
		}
	}
	return out
}

// single is part k of a coalesced job as a single-notification job, its
// tokens to be added; its id names the part ("<job id>/<k>").
func (j *Job) single(k int) *Job {
	p := &j.Parts[k]
	return &Job{ID: j.ID + "/" + strconv.Itoa(k), IntentID: p.IntentID, App: j.App, Platform: j.Platform,
		Topics: p.Topics, Notification: p.Notification, Overrides: p.Overrides, CreatedAt: p.CreatedAt,
		Attempt: j.Attempt, Generation: j.Generation}
}

// Subset returns a copy of the job holding only the tokens at positions
// idx (in order) and the notifications they need: what a re-queue of part
// of a job carries. A subset of one notification is a plain job.
func (j *Job) Subset(idx []int) *Job {
	next := *j
	next.Tokens = make([]string, len(idx))
	for n, i := range idx {
		next.Tokens[n] = j.Tokens[i]
	}
	if len(j.Parts) == 0 {
		return &next
	}
	remap := make(map[int]int, 4)
	next.Parts, next.Of = nil, make([]int, len(idx))
	for n, i := range idx {
		k := j.Of[i]
		nk, ok := remap[k]
		if !ok {
			nk = len(next.Parts)
			remap[k] = nk
			next.Parts = append(next.Parts, j.Parts[k])
		}
		next.Of[n] = nk
	}
	if len(next.Parts) == 1 {
		p := next.Parts[0]
		next.Parts, next.Of = nil, nil
		next.IntentID, next.Topics, next.Notification, next.Overrides, next.CreatedAt =
			p.IntentID, p.Topics, p.Notification, p.Overrides, p.CreatedAt
	}
	return &next
}

// CoalescedJobID derives a coalesced job's id from the intents, batch
// indexes and tokens of its parts, in order: the same parts give the same
// id, so a dispatcher that publishes the same coalesced job twice (a lost
// acknowledgement) stores it once. "c-" keeps it apart from single jobs'
// ids, which start with an intent id.
func CoalescedJobID(parts []string, tokens []string, of []int) string {
	h := fnv.New128a()
	for _, id := range parts {
		h.Write([]byte(id))
		h.Write([]byte{0})
	}
	var b []byte
	for i, t := range tokens {
		b = strconv.AppendInt(b[:0], int64(of[i]), 10)
		b = append(append(append(b, ':'), t...), 0)
		h.Write(b)
	}
	return "c-" + hex.EncodeToString(h.Sum(nil))
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

// JobIDKey is the key of a job taken by platform p's sender in the
// JobIDsBucket: "<platform>.<app>.<hash of the job id>", so that NATS
// permissions can confine each sender to its own platform's keys.
func JobIDKey(p Platform, app, jobID string) string {
	h := fnv.New128a()
	h.Write([]byte(jobID))
	return fmt.Sprintf("%s.%s.%x", p, app, h.Sum(nil))
}

// Expired reports whether the job's notification expiry has passed at now;
// for a coalesced job, whether every one of its notifications' has.
func (j *Job) Expired(now time.Time) bool {
	if len(j.Parts) == 0 {
		return j.Notification.Expiry != nil && !j.Notification.Expiry.After(now)
	}
	for k := range j.Parts {
		if e := j.Parts[k].Notification.Expiry; e == nil || e.After(now) {
			return false
		}
	}
	return true
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
	if err := j.checkParts(); err != nil {
		return nil, fmt.Errorf("%w job: %w", ErrMalformed, err)
	}
	for _, sub := range j.Split() {
		if err := sub.Job.checkTopics(); err != nil {
			return nil, fmt.Errorf("%w job: %w", ErrMalformed, err)
		}
	}
	return &j, nil
}

// checkParts checks a coalesced job's shape: at least two parts, each
// token mapped to one, and no single-notification fields beside them.
func (j *Job) checkParts() error {
	switch {
	case len(j.Parts) == 0 && len(j.Of) == 0:
		return nil
	case len(j.Parts) < 2 || len(j.Parts) > MaxJobParts:
		return fmt.Errorf("a coalesced job holds 2 to %d parts, not %d", MaxJobParts, len(j.Parts))
	case len(j.Of) != len(j.Tokens):
		return fmt.Errorf("%d part indexes for %d tokens", len(j.Of), len(j.Tokens))
	case j.IntentID != "" || len(j.Topics) > 0 || j.Overrides != nil:
		return errors.New("a coalesced job carries its notifications in parts only")
	}
	for _, k := range j.Of {
		if k < 0 || k >= len(j.Parts) {
			return fmt.Errorf("part index %d out of range", k)
		}
	}
	return nil
}

// checkTopics checks a single-notification topic job: every token is the
// key of one of its topics, of its platform.
func (j *Job) checkTopics() error {
	if len(j.Topics) == 0 {
		return nil
	}
	keys := j.TopicsByKey()
	for _, t := range j.Tokens {
		if _, ok := keys[t]; !ok {
			return fmt.Errorf("token %q of a topic job names none of its topics", t)
		}
	}
	for _, tp := range j.Topics {
		if tp.Platform != j.Platform || tp.Platform == APNs {
			return fmt.Errorf("a %s topic in a %s job", tp.Platform, j.Platform)
		}
	}
	return nil
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
