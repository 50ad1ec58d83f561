// Package feedback publishes feedback events, the per-token outcomes that
// senders and the dispatcher report on push.feedback.<platform>.<app>.
package feedback

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/puback"
	"github.com/pushfleet/pushfleet/internal/tracing"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// Bounds of one feedback message: a group of events larger than either
// is split. 1,000 events of a typical 200-byte event is ~200 KiB, well
// under the server's max_payload (1 MiB by default; PUSH_FEEDBACK sets
// no lower limit). On a server whose max_payload is lower, the byte bound
// is that less headerRoom.
const (
	MaxBatchEvents = 1000
	MaxBatchBytes  = 256 << 10
	// headerRoom is left for a message's headers (trace context,
	// Nats-Msg-Id) under a low max_payload.
	headerRoom = 4 << 10
)

// Publisher publishes feedback events and waits until the stream stored them.
type Publisher struct {
	js jetstream.Publisher
}

// conner is a Publisher that tells its connection (jetstream.JetStream
// does), hence the server's max_payload.
type conner interface{ Conn() *nats.Conn }

// maxBytes is the byte bound of a message on p's connection.
func (p *Publisher) maxBytes() int {
	c, ok := p.js.(conner)
	if !ok {
		return MaxBatchBytes
	}
	if mp := int(c.Conn().MaxPayload()) - headerRoom; mp > 0 && mp < MaxBatchBytes {
		return mp
	}
	return MaxBatchBytes
}

// NewPublisher returns a Publisher over js.
func NewPublisher(js jetstream.Publisher) *Publisher { return &Publisher{js: js} }

// Publish stores fbs in PUSH_FEEDBACK in the batch form: one message per
// group of events that share a platform, an app, a subject (the
// confirmation service's outcomes go to ConfirmFeedbackSubject) and
// finality, split at MaxBatchEvents or MaxBatchBytes (less on a server
// with a lower max_payload). It returns once all are acknowledged, or the
// first error.
//
// A message of final outcomes carries a Nats-Msg-Id derived from its
// events' ids (BatchMsgID). A job redelivered after its feedback was
// stored (a server restart lost the ack) settles to the same final
// events, so its batch gets the same id, and inside the dedup window the
// stream keeps one: subscribers see each token's final outcome once.
// (Should the provider answer a token differently the second time, the
// events differ, so does the id, and the tokens answered alike are seen
// twice: duplicates no worse than the second push itself.) Large groups are split after sorting by event id, so the same events
// split into the same messages whatever their order. `failed` events go
// in messages of their own, without an id: every attempt is news.
func (p *Publisher) Publish(ctx context.Context, fbs []events.Feedback) error {
	if len(fbs) == 0 {
		return nil
	}
	// Each message carries the trace of the span that reports it.
	trace := tracing.Header(ctx)
	maxBytes := p.maxBytes()
	var futures []jetstream.PubAckFuture
	for _, g := range groupOf(fbs) {
		if g.key.final && chunkLen(g.fbs, maxBytes) < len(g.fbs) {
			g.fbs = sortedByID(g.fbs)
		}
		for len(g.fbs) > 0 {
			n := chunkLen(g.fbs, maxBytes)
			data, n, err := encode(g.fbs[:n], maxBytes)
			if err != nil {
				return err
			}
			msg := &nats.Msg{Subject: g.key.subject(), Data: data, Header: tracing.Copy(trace)}
			var opts []jetstream.PublishOpt
			if g.key.final {
				opts = append(opts, jetstream.WithMsgID(BatchMsgID(g.fbs[:n])))
			}
			f, err := p.js.PublishMsgAsync(msg, opts...)
			if err != nil {
				return fmt.Errorf("publish feedback: %w", err)
			}
			futures = append(futures, f)
			g.fbs = g.fbs[n:]
		}
	}
	return puback.WaitAll(ctx, futures)
}

// groupKey is what the events of one message share.
type groupKey struct {
	platform events.Platform
	app      string
	confirm  bool // outcomes of the confirmation service, on its subject
	final    bool // every outcome but failed: carries a Nats-Msg-Id
}

func keyOf(f *events.Feedback) groupKey {
	return groupKey{f.Platform, f.App, f.Outcome == events.Confirmed || f.Outcome == events.Unconfirmed, f.Outcome != events.Failed}
}

func (k groupKey) subject() string {
	if k.confirm {
		return events.ConfirmFeedbackSubject(k.platform, k.app)
	}
	return events.FeedbackSubject(k.platform, k.app)
}

type group struct {
	key groupKey
	fbs []events.Feedback
}

// groupOf splits fbs into groups, keeping their order within each. The
// usual call, one settled job with every outcome final, is one group over
// fbs itself, copied nowhere.
func groupOf(fbs []events.Feedback) []group {
	first := keyOf(&fbs[0])
	same := true
	for i := 1; i < len(fbs) && same; i++ {
		same = keyOf(&fbs[i]) == first
	}
	if same {
		return []group{{first, fbs}}
	}
	var gs []group
next:
	for i := range fbs {
		k := keyOf(&fbs[i])
		for j := range gs { // a handful of groups at most
			if gs[j].key == k {
				gs[j].fbs = append(gs[j].fbs, fbs[i])
				continue next
			}
		}
		gs = append(gs, group{k, []events.Feedback{fbs[i]}})
	}
	return gs
}

// estimate is an event's encoded size, short of escapes: enough to plan
// chunks, which encode checks.
func estimate(f *events.Feedback) int {
	return 160 + len(f.Token) + len(f.Reason) + len(f.IntentID) + len(f.JobID) + len(f.NewToken)
}

// chunkLen is how many of fbs the next message takes, by count and
// estimated size.
func chunkLen(fbs []events.Feedback, maxBytes int) int {
	size := 64
	for i := range fbs {
		size += estimate(&fbs[i])
		if i == MaxBatchEvents || i > 0 && size > maxBytes {
			return i
		}
	}
	return len(fbs)
}

// encode encodes fbs, or as many of them as fit maxBytes once escapes
// are counted (halving; an event too large alone goes alone, for the
// server to refuse), and returns how many it took.
func encode(fbs []events.Feedback, maxBytes int) ([]byte, int, error) {
	for n := len(fbs); ; n = (n + 1) / 2 {
		b, err := events.AppendFeedbackBatch(make([]byte, 0, chunkBytes(fbs[:n])), fbs[:n])
		if err != nil {
			return nil, 0, fmt.Errorf("encode feedback: %w", err)
		}
		if len(b) <= maxBytes || n == 1 {
			return b, n, nil
		}
	}
}

func chunkBytes(fbs []events.Feedback) int {
	size := 64
	for i := range fbs {
		size += estimate(&fbs[i])
	}
	return size
}

// eventSum is the 128-bit digest behind an event's id: one per app,
// intent, job, platform, token and outcome.
func eventSum(f *events.Feedback) (sum [16]byte) {
	// One stack buffer, hashed at once: the same bytes as writing each
	// part and its NUL separator in turn, without a hasher or per-part
	// conversions on the heap.
	var stack [512]byte
	buf := stack[:0]
	for _, part := range [...]string{f.App, f.IntentID, f.JobID, string(f.Platform), f.Token, string(f.Outcome)} {
		buf = append(buf, part...)
		buf = append(buf, 0)
	}
	full := sha256.Sum256(buf)
	copy(sum[:], full[:16])
	return sum
}

// MsgID is the id of one final outcome, the Nats-Msg-Id a single-form
// event carried: one per app, intent, job, platform, token and outcome;
// "" for failed, which is never deduplicated.
func MsgID(f *events.Feedback) string {
	if f.Outcome == events.Failed {
		return ""
	}
	sum := eventSum(f)
	var out [3 + 32]byte
	copy(out[:], "fb-")
	hex.Encode(out[3:], sum[:])
	return string(out[:])
}

// BatchMsgID is the Nats-Msg-Id of a message of final outcomes, all of one
// app: a digest of its events' ids, sorted, so the same events give the
// same id in any order, prefixed "fb:<app>:" so ids stay app-scoped like
// intents' ("<app>:<id>").
func BatchMsgID(fbs []events.Feedback) string {
	var stack [64][16]byte // a job's events, hashed without the heap
	sums := stack[:0]
	for i := range fbs {
		sums = append(sums, eventSum(&fbs[i]))
	}
	slices.SortFunc(sums, func(a, b [16]byte) int { return bytes.Compare(a[:], b[:]) })
	h := sha256.New()
	for i := range sums {
		h.Write(sums[i][:])
	}
	var full [sha256.Size]byte
	h.Sum(full[:0])
	app := ""
	if len(fbs) > 0 {
		app = fbs[0].App
	}
	var out [len("fb::") + 64 + 32]byte // app names are at most 64 bytes
	id := append(out[:0], "fb:"...)
	id = append(id, app...)
	id = append(id, ':')
	return string(hex.AppendEncode(id, full[:16]))
}

// sortedByID returns fbs ordered by their ids (fbs, the caller's, stays
// as is), so that a group too large for one message splits the same way
// each time it is published.
func sortedByID(fbs []events.Feedback) []events.Feedback {
	type keyed struct {
		sum [16]byte
		i   int
	}
	ks := make([]keyed, len(fbs))
	for i := range fbs {
		ks[i] = keyed{eventSum(&fbs[i]), i}
	}
	slices.SortStableFunc(ks, func(a, b keyed) int { return bytes.Compare(a.sum[:], b.sum[:]) })
	out := make([]events.Feedback, len(fbs))
	for i, k := range ks {
		out[i] = fbs[k.i]
	}
	return out
}

// WaitAll is puback.WaitAll, under the name internal/dispatch still calls
// for its job publishes; it waits for any publish acknowledgements, not
// only feedback's. New code calls puback.WaitAll.
func WaitAll(ctx context.Context, futures []jetstream.PubAckFuture) error {
	return puback.WaitAll(ctx, futures)
}
