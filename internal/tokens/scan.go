package tokens

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// errStop ends a scan early; scan's callers turn it into success.
var errStop = errors.New("stop scanning")

// scanBatch bounds the messages a scan holds at once.
const scanBatch = 256

// scanIdle is how long a scan waits for the next message before asking the
// server whether anything is left (entries can vanish under a running scan).
const scanIdle = 2 * time.Second

// scanner reads the bucket's backing stream with pull-based ordered
// consumers: a walk over a million keys holds at most scanBatch messages,
// where a KV watcher (push, flow-controlled by a 32 MiB window) would buffer
// tens of megabytes when the reader is slower than the server. It relies on
// the KV wire layout (stream KV_<bucket>, subjects $KV.<bucket>.<key>,
// KV-Operation and Nats-Marker-Reason headers on deletions).
type scanner struct {
	js     jetstream.StreamConsumerManager
	stream string
	prefix string
}

func newScanner(js jetstream.StreamConsumerManager, bucket string) scanner {
	return scanner{js: js, stream: "KV_" + bucket, prefix: "$KV." + bucket + "."}
}

// scan passes the entries matching filter that exist now to fn, in revision
// order, skipping deletions: the latest revision of each key, or with from
// > 0 every revision from that one on (the same with History 1). It ends
// when nothing is left, fn returns an error, or ctx ends. The value passed
// to fn is only valid during the call.
func (s scanner) scan(ctx context.Context, filter string, from uint64, fn func(key string, rev uint64, value []byte) error) error {
	return s.scanAll(ctx, []string{filter}, from, fn)
}

// scanAll is scan over the entries matching any of filters (which must not
// overlap): the server does the filtering, so entries left out (another
// platform's devices, say) are never sent to the scan.
func (s scanner) scanAll(ctx context.Context, filters []string, from uint64, fn func(key string, rev uint64, value []byte) error) error {
	subjects := make([]string, len(filters))
	for i, f := range filters {
		subjects[i] = s.prefix + f
	}
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects:    subjects,
		DeliverPolicy:     jetstream.DeliverLastPerSubjectPolicy,
		InactiveThreshold: time.Minute,
	}
	if from > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, from
	}
	cons, err := s.js.OrderedConsumer(ctx, s.stream, cfg)
	if err != nil {
		return err
	}
	defer s.cleanup(ctx, cons)
	if info := cons.CachedInfo(); info != nil && info.NumPending == 0 {
		return nil
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(scanBatch))
	if err != nil {
		return err
	}
	defer it.Stop()
	for {
		msg, err := s.next(ctx, cons, it)
		if err != nil || msg == nil {
			return err
		}
		md, err := msg.Metadata()
		if err != nil {
			return err
		}
		if h := msg.Headers(); h.Get("KV-Operation") == "" && h.Get(jetstream.MarkerReasonHeader) == "" {
			if err := fn(msg.Subject()[len(s.prefix):], md.Sequence.Stream, msg.Data()); err != nil {
				return err
			}
		}
		if md.NumPending == 0 {
			return nil
		}
	}
}

// next returns the next message, or nil once the server has nothing left
// for the consumer.
func (s scanner) next(ctx context.Context, cons jetstream.Consumer, it jetstream.MessagesContext) (jetstream.Msg, error) {
	for {
		nctx, cancel := context.WithTimeout(ctx, scanIdle)
		msg, err := it.Next(jetstream.NextContext(nctx))
		cancel()
		if err == nil {
			return msg, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, nats.ErrTimeout) {
			return nil, err
		}
		info, err := cons.Info(ctx)
		if err != nil {
			return nil, err
		}
		if info.NumPending == 0 && info.NumAckPending == 0 {
			return nil, nil
		}
	}
}

// cleanup deletes the scan's consumer rather than leaving it to expire.
func (s scanner) cleanup(ctx context.Context, cons jetstream.Consumer) {
	info := cons.CachedInfo()
	if info == nil {
		return
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	_ = s.js.DeleteConsumer(dctx, s.stream, info.Name)
}
