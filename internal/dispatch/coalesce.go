package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// DefaultLinger is the longest a coalesced job waits for more intents
// (--coalesce-linger) while other intents are still being handled.
const DefaultLinger = 2 * time.Millisecond

// maxCoalescedBytes bounds the intents' bytes one coalesced job gathers,
// well below the server's 1 MiB max payload (a 4 KiB notification times a
// 500-token FCM batch would not fit).
const maxCoalescedBytes = 256 << 10

// coalescer packs the last, partial batches of many intents for one app
// and platform into one job, so that a busy fleet stores one job (and the
// sender publishes one feedback message) for many one-token intents
// instead of one each.
//
// The linger adapts to load: a job is flushed as soon as no intent is
// being handled any more (an idle dispatcher adds no latency), when it is
// full (the platform's batch size or maxCoalescedBytes), or after the
// linger at the latest.
type coalescer struct {
	d      *Dispatcher
	linger time.Duration

	mu     sync.Mutex
	active int // intents between begin and end
	open   map[coalesceKey]*coalesced
	timer  *time.Timer // armed while a job is open
}

type coalesceKey struct {
	app      string
	platform events.Platform
}

// coalesced is a job being gathered, then published: done is closed once
// the stream stored it (err nil) or could not.
type coalesced struct {
	key    coalesceKey
	parts  []events.Part
	index  []int // per part: the intent's batch index, in the job id
	tokens []string
	of     []int
	bytes  int
	header nats.Header // the first intent's trace

	done chan struct{}
	err  error
}

func newCoalescer(d *Dispatcher, linger time.Duration) *coalescer {
	return &coalescer{d: d, linger: linger, open: map[coalesceKey]*coalesced{}}
}

// begin counts an intent being handled: while any is, an open job may
// still get its tokens.
func (c *coalescer) begin() {
	c.mu.Lock()
	c.active++
	c.mu.Unlock()
}

// end counts an intent done adding; the last one out flushes every open
// job, so that nobody waits for intents that are not coming.
func (c *coalescer) end() {
	c.mu.Lock()
	c.active--
	var ready []*coalesced
	if c.active == 0 {
		ready = c.takeAll()
	}
	c.mu.Unlock()
	c.publish(ready)
}

// add puts one intent's partial batch for platform p into the open job of
// its app and platform and returns that job; wait on it before acking the
// intent. size is the intent's encoded size, a bound of what its part
// adds to the job; trace is its trace header.
func (c *coalescer) add(app string, p events.Platform, part events.Part, batchIndex int, tokens []string, size int,
	trace nats.Header) *coalesced {
	k := coalesceKey{app, p}
	limit := c.d.cfg.batch(p)
	c.mu.Lock()
	var ready []*coalesced
	j := c.open[k]
	if j != nil && (len(j.tokens)+len(tokens) > limit || j.bytes+size > maxCoalescedBytes || len(j.parts) >= events.MaxJobParts) {
		delete(c.open, k)
		ready = append(ready, j)
		j = nil
	}
	if j == nil {
		// The job's headers carry its first intent's trace; each part
		// keeps its own (Part.Trace).
		j = &coalesced{key: k, done: make(chan struct{}), header: trace}
		c.open[k] = j
		if c.timer == nil {
			c.timer = time.AfterFunc(c.linger, c.expire)
		}
	}
	n := len(j.parts)
	j.parts = append(j.parts, part)
	j.index = append(j.index, batchIndex)
	j.tokens = append(j.tokens, tokens...)
	for range tokens {
		j.of = append(j.of, n)
	}
	j.bytes += size
	if len(j.tokens) >= limit {
		delete(c.open, k)
		ready = append(ready, j)
	}
	c.mu.Unlock()
	c.publish(ready)
	return j
}

// expire flushes every open job once the linger is over.
func (c *coalescer) expire() {
	c.mu.Lock()
	ready := c.takeAll()
	c.mu.Unlock()
	c.publish(ready)
}

// takeAll empties the open jobs; c.mu is held.
func (c *coalescer) takeAll() []*coalesced {
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	if len(c.open) == 0 {
		return nil
	}
	ready := make([]*coalesced, 0, len(c.open))
	for k, j := range c.open {
		ready = append(ready, j)
		delete(c.open, k)
	}
	return ready
}

// publish stores the jobs, outside the lock; each job's done is closed
// when its acknowledgement (or error) arrives.
func (c *coalescer) publish(jobs []*coalesced) {
	for _, j := range jobs {
		c.publishOne(j)
	}
}

func (c *coalescer) publishOne(j *coalesced) {
	job := j.job()
	data, err := json.Marshal(job)
	if err != nil {
		j.fail(fmt.Errorf("encode job: %w", err))
		return
	}
	msg := &nats.Msg{Subject: events.SendSubject(job.Platform, job.App), Data: data, Header: j.header}
	f, err := c.d.js.PublishMsgAsync(msg, jetstream.WithMsgID(events.JobMsgID(job.App, job.ID)))
	if err != nil {
		j.fail(fmt.Errorf("publish job: %w", err))
		return
	}
	c.d.m.Jobs.WithLabelValues(string(job.Platform)).Inc()
	go func() {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			j.err = fmt.Errorf("publish job: %w", err)
		}
		close(j.done)
	}()
}

func (j *coalesced) fail(err error) {
	j.err = err
	close(j.done)
}

// job is the job to publish: a plain job when one intent's tokens are all
// it holds, with the id that intent would have had alone, so that an
// intent dispatched alone again (a redelivery) is deduplicated.
func (j *coalesced) job() *events.Job {
	if len(j.parts) == 1 {
		p := j.parts[0]
		return &events.Job{ID: events.JobID(p.IntentID, j.key.platform, j.index[0], j.tokens), IntentID: p.IntentID,
			App: j.key.app, Platform: j.key.platform, Tokens: j.tokens, Notification: p.Notification,
			Overrides: p.Overrides, CreatedAt: p.CreatedAt}
	}
	ids := make([]string, len(j.parts))
	for k := range j.parts {
		ids[k] = j.parts[k].IntentID + "#" + strconv.Itoa(j.index[k])
	}
	return &events.Job{ID: events.CoalescedJobID(ids, j.tokens, j.of), App: j.key.app, Platform: j.key.platform,
		Tokens: j.tokens, Parts: j.parts, Of: j.of}
}

// wait waits until the job is stored, or ctx ends.
func (j *coalesced) wait(ctx context.Context) error {
	select {
	case <-j.done:
		return j.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// holdKey carries an intent's hold on the coalescer in its context.
type holdKey struct{}

// hold counts the intent in ctx as being handled (coalescer.begin) until
// the returned release, which batcher.release calls as soon as the intent
// has added its tokens, and Handle again when it returns: only the first
// call counts.
func (d *Dispatcher) hold(ctx context.Context) (context.Context, func()) {
	if d.coal == nil {
		return ctx, func() {}
	}
	d.coal.begin()
	release := sync.OnceFunc(d.coal.end)
	return context.WithValue(ctx, holdKey{}, release), release
}

// releaseHold ends the hold of the intent in ctx, if any.
func releaseHold(ctx context.Context) {
	if release, ok := ctx.Value(holdKey{}).(func()); ok {
		release()
	}
}
