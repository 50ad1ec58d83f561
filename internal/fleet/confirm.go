package fleet

import (
	"context"
	"flag"
	"fmt"

	"github.com/pushfleet/pushfleet/internal/confirm"
	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// ConfirmOptions configure the confirmation service.
type ConfirmOptions struct {
	Confirm confirm.Config
	// MaxInFlight bounds the messages each of its consumers handles at once
	// (zero: consumer.DefaultMaxInFlight).
	MaxInFlight int
}

// Register adds the confirmation service's flags to fs.
func (o *ConfirmOptions) Register(fs *flag.FlagSet) {
	fs.IntVar(&o.MaxInFlight, "confirm-in-flight", consumer.DefaultMaxInFlight,
		"messages each consumer of the confirmation service handles at once")
	fs.IntVar(&o.Confirm.ResendBatch, "confirm-resend-batch", confirm.DefaultResendBatch,
		"most tokens of one re-send intent (larger re-sends are split)")
}

// ConfirmService builds the confirmation service (internal/confirm): its
// consumers on PUSH_CONFIRM (watch records and confirmations),
// PUSH_CONFIRM_TIMERS (its re-send timers) and PUSH_FEEDBACK (delivered
// tokens), all under the durable name confirm-service, so that replicas
// share the work; and its endpoint push.registry.confirm.<app>.
func (e *Env) ConfirmService(ctx context.Context, o ConfirmOptions) (Service, error) {
	kv, err := e.bucket(ctx, events.ConfirmBucket)
	if err != nil {
		return nil, fmt.Errorf("confirmation bucket: %w", err)
	}
	// Provisioned before the bucket (streams.StreamConfigs' order): once
	// the bucket is there, so is the stream.
	watches, err := e.JS.Stream(ctx, events.StreamConfirm)
	if err != nil {
		return nil, fmt.Errorf("confirmation stream: %w", err)
	}
	cfg := o.Confirm
	cfg.Logger = e.Logger.With("component", events.DurableConfirm)
	svc, err := confirm.New(cfg, e.JS, kv, watches, metrics.NewConfirm(e.Metrics))
	if err != nil {
		return nil, err
	}
	var g Group
	for _, c := range []struct {
		name, stream string
		filter       []string
	}{
		{events.DurableConfirm, events.StreamConfirm, nil},
		{events.DurableConfirm + "-timers", events.StreamConfirmTimers, []string{events.ConfirmRoot + ".due.>"}},
		// The senders' and the dispatcher's feedback, not this service's own.
		{events.DurableConfirm + "-feedback", events.StreamFeedback, []string{events.FeedbackRoot + ".*.*"}},
	} {
		r, err := e.runner(c.name, consumer.Config{
			Stream: c.stream, Durable: events.DurableConfirm, Stage: events.StageConfirm,
			FilterSubjects: c.filter, MaxInFlight: o.MaxInFlight,
		}, svc)
		if err != nil {
			return nil, err
		}
		g = append(g, r)
	}
	// The request/reply way to confirm, answered at once.
	ep, err := svc.NewEndpoint(e.NC)
	if err != nil {
		return nil, err
	}
	return append(g, micro(ep)), nil
}

// ConfirmServiceCommand registers the confirmation service's flags and
// builds it: cmd/confirm-service's part of RunCommand.
func ConfirmServiceCommand(fs *flag.FlagSet) Build {
	var o ConfirmOptions
	o.Register(fs)
	return func(ctx context.Context, env *Env) (Service, error) { return env.ConfirmService(ctx, o) }
}
