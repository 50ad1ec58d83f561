package send

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// dedup takes job for this platform in the bucket of jobs taken
// (Config.IDs), valued with the message's stream and sequence, so that a
// redelivery of the same message goes on. done is true, with the verdict,
// when another message already took the job: the dispatcher stored it
// again after its stream forgot the first one's id (work queues delete a
// consumed job, and a restarted server or a new leader rebuilds its
// duplicate window from what is still stored), and sending it would push
// its notifications twice.
func (s *Service) dedup(ctx context.Context, msg jetstream.Msg, job *events.Job) (consumer.Verdict, bool) {
	if s.cfg.IDs == nil {
		return consumer.Verdict{}, false
	}
	meta, err := msg.Metadata()
	if err != nil {
		return consumer.RetryAfter(0, "dedup", "no stream sequence: "+err.Error()), true
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.PublishTimeout)
	defer cancel()
	key, mine := events.JobIDKey(job.Platform, job.App, job.ID), fmt.Sprintf("%s:%d", meta.Stream, meta.Sequence.Stream)
	_, err = s.cfg.IDs.Create(ctx, key, []byte(mine))
	if err == nil {
		return consumer.Verdict{}, false
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return consumer.RetryAfter(0, "dedup", "job ids: "+err.Error()), true
	}
	e, err := s.cfg.IDs.Get(ctx, key)
	if err != nil { // expired or deleted meanwhile: the next try takes it
		return consumer.RetryAfter(0, "dedup", "job ids: "+err.Error()), true
	}
	if string(e.Value()) == mine {
		return consumer.Verdict{}, false
	}
	s.m.DuplicateJobs.WithLabelValues(string(job.Platform)).Inc()
	s.cfg.Logger.Info("duplicate job dropped", "app", job.App, "job_id", job.ID, "stream", meta.Stream,
		"seq", meta.Sequence.Stream, "first", string(e.Value()))
	return consumer.Done(), true
}
