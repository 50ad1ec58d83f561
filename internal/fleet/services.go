package fleet

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/apps"
	"github.com/pushfleet/pushfleet/internal/config"
	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/internal/dispatch"
	"github.com/pushfleet/pushfleet/internal/registry"
	"github.com/pushfleet/pushfleet/internal/send"
	"github.com/pushfleet/pushfleet/internal/sink"
	"github.com/pushfleet/pushfleet/internal/tokens"
	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider"
)

// Service is one runnable part of the fleet.
type Service interface {
	// Run works until ctx ends, then drains and returns.
	Run(ctx context.Context) error
}

var errNotReady = errors.New("consumer not bound")

// runner builds a consumer runner with the settings every consumer of the
// process shares (Env's; zero: the consumer's defaults).
func (e *Env) runner(name string, cfg consumer.Config, h consumer.Handler) (*consumer.Runner, error) {
	cfg.Logger = e.Logger.With("component", name)
	cfg.DrainTimeout = e.DrainTimeout
	cfg.AckWait = e.AckWait
	cfg.MaxAttempts = e.MaxAttempts
	r, err := consumer.New(e.JS, cfg, h, e.Metrics)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	e.record(func(b *Built) {
		if b.Consumers == nil {
			b.Consumers = map[string]consumer.Config{}
		}
		b.Consumers[name] = cfg.WithDefaults()
	})
	if e.Health != nil {
		e.Health.AddCheck("nats", e.connected)
		e.Health.AddCheck(name, func() error {
			if !r.Ready() {
				return errNotReady
			}
			return nil
		})
	}
	return r, nil
}

// Dispatcher builds the dispatcher service: alias and tag targets resolve
// through the token registry, and tokens the registry marks invalid are
// suppressed by a watch-fed cache. The dispatcher starts consuming only once
// the cache holds a full snapshot, so no dead token slips through at start.
func (e *Env) Dispatcher(ctx context.Context, o config.Dispatcher) (Service, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	kv, err := e.bucket(ctx, events.TokensBucket)
	if err != nil {
		return nil, fmt.Errorf("token bucket: %w", err)
	}
	// Intent ids taken per app, for dedup that survives restarts.
	ids, err := e.bucket(ctx, events.IntentIDsBucket)
	if err != nil {
		return nil, fmt.Errorf("intent ids bucket: %w", err)
	}
	if o.AppsFile != "" {
		f, err := apps.Load(o.AppsFile)
		if err != nil {
			return nil, err
		}
		// Clipped: appending never writes into the caller's --apps list.
		o.Dispatch.Apps = slices.Clip(o.Dispatch.Apps)
		for name := range f.Apps {
			o.Dispatch.Apps = append(o.Dispatch.Apps, name)
		}
	}
	log := e.Logger.With("component", "dispatcher")
	cache := tokens.NewCache(kv, tokens.CacheConfig{Logger: log})
	o.Dispatch.Logger = log
	o.Dispatch.IDs = ids
	d, err := dispatch.New(o.Dispatch, e.JS, e.Metrics, tokens.NewDevices(e.JS, kv), cache)
	if err != nil {
		return nil, err
	}
	e.record(func(b *Built) { dc := o.Dispatch.WithDefaults(); b.Dispatcher = &dc })
	r, err := e.runner("dispatcher", consumer.Config{
		Stream: events.StreamIntents, Durable: events.DurableDispatcher, Stage: events.StageIntents,
		FilterSubjects: []string{events.IntentsRoot + ".>"}, MaxInFlight: o.MaxInFlight,
	}, d)
	if err != nil {
		return nil, err
	}
	// send_at intents come back from the dispatcher's own schedules when due.
	due, err := e.runner("dispatcher-schedules", consumer.Config{
		Stream: events.StreamSchedules, Durable: events.DurableDispatcher, Stage: events.StageIntents,
		FilterSubjects: []string{events.DueRoot + ".>"}, MaxInFlight: o.MaxInFlight,
	}, d)
	if err != nil {
		return nil, err
	}
	return withCache(e, cache, Group{r, due}), nil
}

// SenderService builds platform p's sender service around a provider.
func (e *Env) SenderService(p events.Platform, s provider.Sender, o config.SenderOptions) (Service, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	name := events.SenderDurable(p)
	o.Send.Platform = p
	o.Send.Logger = e.Logger.With("component", name)
	// One retry budget for the token and its messages (zero: the default).
	o.Send.MaxAttempts = cmp.Or(e.MaxAttempts, o.Send.MaxAttempts)
	if o.Send.IDs == nil {
		o.Send.IDs = &jobIDs{js: e.JS}
	}
	svc, err := send.New(o.Send, s, e.JS, e.Metrics)
	if err != nil {
		return nil, err
	}
	e.record(func(b *Built) {
		if b.Senders == nil {
			b.Senders = map[events.Platform]send.Config{}
		}
		b.Senders[p] = o.Send.WithDefaults()
	})
	jobs, err := e.runner(name, consumer.Config{
		Stream: events.SendStream(p), Durable: name, Stage: events.SenderStage(p),
		FilterSubjects: []string{events.SendRoot + "." + string(p) + ".*"},
		MaxInFlight:    o.MaxInFlight,
	}, svc)
	if err != nil {
		return nil, err
	}
	// Re-queued tokens come back from the sender's own schedules when due;
	// both consumers share the service, so its provider bounds hold for both.
	retries, err := e.runner(name+"-retries", consumer.Config{
		Stream: events.RetryStream(p), Durable: name, Stage: events.SenderStage(p),
		FilterSubjects: []string{events.RetryRoot + "." + string(p) + ".due.>"},
		MaxInFlight:    o.MaxInFlight,
	}, svc)
	if err != nil {
		return nil, err
	}
	return Group{jobs, retries}, nil
}

// FeedbackSink builds the feedback-sink service. It also serves the token
// registry's request/reply API (pushfleet-registry), since it owns token state.
func (e *Env) FeedbackSink(ctx context.Context, o config.Sink) (Service, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	kv, err := e.bucket(ctx, events.TokensBucket)
	if err != nil {
		return nil, fmt.Errorf("token bucket: %w", err)
	}
	log := e.Logger.With("component", "feedback-sink")
	cache := tokens.NewCache(kv, tokens.CacheConfig{Logger: log})
	reg := tokens.NewDevices(e.JS, kv)
	// Delivered events for tokens without a record then cost no KV read.
	reg.Store().UseCache(cache)
	cfg := o.Sink
	cfg.Logger = log
	s := sink.New(cfg, reg.Store(), e.Metrics)
	e.record(func(b *Built) { sc := cfg.WithDefaults(); b.Sink = &sc })
	r, err := e.runner("feedback-sink", consumer.Config{
		Stream: events.StreamFeedback, Durable: events.DurableFeedbackSink, Stage: events.StageFeedback,
		MaxInFlight: o.MaxInFlight,
	}, s)
	if err != nil {
		return nil, err
	}
	svc, err := registry.NewService(e.NC, reg, registry.Config{Cache: cache, Logger: e.Logger.With("component", "registry")})
	if err != nil {
		return nil, fmt.Errorf("registry service: %w", err)
	}
	return Group{withCache(e, cache, r), s, micro(svc)}, nil
}

// bucket binds a KV bucket, waiting (with backoff, until ctx ends) while it
// does not exist yet or does not answer: a service run with
// --provision=false may start before the admin provisioned, or while the
// bucket's stream elects a leader, and then becomes ready by itself, like
// its consumers (consumer.Runner binds the same way).
func (e *Env) bucket(ctx context.Context, name string) (jetstream.KeyValue, error) {
	for attempt := 1; ; attempt++ {
		kv, err := e.JS.KeyValue(ctx, name)
		why := waitFor(ctx, err)
		if why == "" {
			return kv, err
		}
		delay := consumer.Backoff(attempt, 500*time.Millisecond, 15*time.Second)
		e.Logger.Warn(why, "bucket", name, "retry_in", delay, "err", err)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w (stopped while waiting for it)", err)
		case <-t.C:
		}
	}
}

// waitFor says why a bucket that could not be opened (err) is worth
// waiting for, or "" when err is final (nil, or a refusal such as a
// permissions violation): not provisioned yet, or no answer while its
// stream has no leader (a cluster electing one after a node was lost).
func waitFor(ctx context.Context, err error) string {
	switch {
	case err == nil || ctx.Err() != nil:
		return ""
	case errors.Is(err, jetstream.ErrBucketNotFound):
		return "bucket not provisioned yet; waiting"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout), errors.Is(err, nats.ErrNoResponders),
		errors.Is(err, jetstream.ErrJetStreamNotEnabled):
		return "bucket not answering (no leader yet?); waiting"
	}
	return ""
}
