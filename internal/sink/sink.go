// Package sink is the feedback-sink: it consumes PUSH_FEEDBACK and turns
// provider outcomes into token state, so that a dead token is never pushed
// to again and a replaced token is followed.
//
// It trusts the subject, not the body: every event of a message on
// push.feedback.<platform>.<app> must name that platform and app, carry
// valid names, and an outcome that platform's provider can produce
// (events.Platform.Reports); a message with anything else is
// dead-lettered whole on push.dead.feedback.<subject's app> and changes no
// token state.
package sink

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/pushfleet/pushfleet/internal/config/invalid"
	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/internal/tokens"
	"github.com/pushfleet/pushfleet/internal/tracing"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// Config tunes the sink. Zero values take the documented defaults.
type Config struct {
	// FlushInterval batches last-success updates of delivered tokens (default
	// DefaultFlushInterval): one KV write per token per interval instead of
	// one per push.
	FlushInterval time.Duration
	Logger        *slog.Logger
}

// Defaults of Config and of the sink's consumer, declared once: New applies
// them and the command-line flags (internal/config) show them.
const (
	DefaultFlushInterval = 5 * time.Second
	// DefaultMaxInFlight is the feedback messages (each up to 1,000
	// events) one feedback-sink process handles at once (--sink-in-flight).
	DefaultMaxInFlight = 64
)

// WithDefaults returns c with every zero field set to its default: the
// configuration New runs a Sink with.
func (c Config) WithDefaults() Config {
	c.FlushInterval = cmp.Or(c.FlushInterval, DefaultFlushInterval)
	c.Logger = cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
	return c
}

// Validate reports an unusable configuration; its errors wrap
// config.ErrInvalid.
func (c Config) Validate() error {
	if c.FlushInterval < 0 {
		return invalid.Errorf("sink", "flush interval %v must not be negative", c.FlushInterval)
	}
	return nil
}

// Sink is the consumer.Handler of PUSH_FEEDBACK.
type Sink struct {
	cfg   Config
	store *tokens.Store
	m     *metrics.Fleet

	mu      sync.Mutex
	success map[successKey]time.Time
}

type successKey struct {
	app      string
	platform events.Platform
	token    string
}

// New returns a Sink writing to store.
func New(cfg Config, store *tokens.Store, m *metrics.Fleet) *Sink {
	return &Sink{cfg: cfg.WithDefaults(), store: store, m: m, success: map[successKey]time.Time{}}
}

// Dead-letter categories of the sink (bounded metric label values).
const (
	categoryMalformed  = "malformed"
	categorySubject    = "subject_mismatch"
	categoryNotAllowed = "not_allowed"
)

// Handle applies one feedback message: the per-token events it carries
// (events.DecodeFeedbackEvents), in one pass. The subject is the
// authority, not the body: NATS permissions confine each sender to
// push.feedback.<its platform>.*, so every event must name the subject's
// platform and app, and carry an outcome that platform can produce (no
// token_replaced from a provider that never replaces tokens) on that
// subject (confirmed and unconfirmed on the confirmation service's
// subject only). A message is all or nothing: anything refused
// dead-letters the whole message, with a reason naming the event, before
// any token state is read. Honest senders never publish such a batch.
//
// Each message is one span (tracing.SpanSink) under the trace its headers
// carry (the send or dispatch that reported it), counting its events.
func (s *Sink) Handle(ctx context.Context, msg jetstream.Msg) consumer.Verdict {
	ctx, span := tracing.Start(ctx, tracing.SpanSink, trace.SpanKindConsumer)
	v := s.handle(ctx, span, msg)
	consumer.EndSpan(span, v)
	return v
}

func (s *Sink) handle(ctx context.Context, span trace.Span, msg jetstream.Msg) consumer.Verdict {
	subject := msg.Subject()
	_, app, ok := events.ParseFeedbackSubject(subject)
	if !ok {
		return consumer.DeadLetter("", categorySubject, fmt.Sprintf("feedback on subject %s: want %s.<platform>.<app> "+
			"with a supported platform and a valid app name", subject, events.FeedbackRoot))
	}
	fbs, err := events.DecodeFeedbackEvents(msg.Data())
	if err != nil {
		return consumer.DeadLetter(app, categoryMalformed, err.Error())
	}
	for i := range fbs {
		if err := fbs[i].CheckSubject(subject); err != nil {
			return consumer.DeadLetter(app, categorySubject, refused(i, len(fbs), err))
		}
		if err := fbs[i].CheckOutcome(); err != nil {
			return consumer.DeadLetter(app, categoryNotAllowed, refused(i, len(fbs), err))
		}
	}
	if span.IsRecording() {
		span.SetAttributes(spanAttributes(fbs)...)
	}
	s.touch(fbs)
	for i := range fbs {
		f := &fbs[i]
		if f.Outcome != events.InvalidToken && f.Outcome != events.TokenReplaced {
			continue // the rest change no token state
		}
		// A retry re-applies the events before f: Apply is idempotent.
		change, err := s.store.Apply(ctx, f)
		if errors.Is(err, tokens.ErrInvalidDevice) { // checked above; never retried
			return consumer.DeadLetter(app, categoryMalformed, refused(i, len(fbs), err))
		}
		if err != nil {
			return consumer.RetryAfter(0, "kv", err.Error())
		}
		if change != tokens.Unchanged {
			s.m.TokenUpdates.WithLabelValues(string(f.Platform), string(change)).Inc()
			s.cfg.Logger.Info("token state", "app", f.App, "platform", f.Platform,
				"token", tokens.Short(f.Token), "change", change, "reason", f.Reason)
		}
	}
	return consumer.Done()
}

// refused is the dead-letter reason of a message refused for its event i
// of n.
func refused(i, n int, err error) string {
	return fmt.Sprintf("event %d of %d: %v", i, n, err)
}

// touch batches the last-success times of delivered events: they are
// hints, written on the next Flush, and lost at worst on a crash.
func (s *Sink) touch(fbs []events.Feedback) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range fbs {
		f := &fbs[i]
		if f.Outcome != events.Delivered {
			continue
		}
		k := successKey{f.App, f.Platform, f.Token}
		if f.At.After(s.success[k]) {
			s.success[k] = f.At
		}
	}
}

// spanAttributes describe a message: its app and platform, how many
// events of each outcome it carries, and the intent and job when all its
// events share them. Never a token.
func spanAttributes(fbs []events.Feedback) []attribute.KeyValue {
	first := &fbs[0]
	attrs := []attribute.KeyValue{attribute.String(tracing.AttrApp, first.App),
		attribute.String(tracing.AttrPlatform, string(first.Platform)), attribute.Int(tracing.AttrTokens, len(fbs))}
	counts := make(map[events.Outcome]int, 2)
	intent, job := first.IntentID, first.JobID
	for i := range fbs {
		counts[fbs[i].Outcome]++
		if fbs[i].IntentID != intent {
			intent = ""
		}
		if fbs[i].JobID != job {
			job = ""
		}
	}
	if len(fbs) == 1 {
		attrs = append(attrs, attribute.String(tracing.AttrOutcome, string(first.Outcome)))
	}
	for _, o := range events.Outcomes { // in a stable order
		if n := counts[o]; n > 0 {
			attrs = append(attrs, attribute.Int(tracing.AttrOutcomePrefix+string(o), n))
		}
	}
	if intent != "" {
		attrs = append(attrs, attribute.String(tracing.AttrIntentID, intent))
	}
	if job != "" {
		attrs = append(attrs, attribute.String(tracing.AttrJobID, job))
	}
	return attrs
}

// Run flushes batched last-success times until ctx ends, then once more.
func (s *Sink) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			return s.Flush(fctx)
		case <-t.C:
			if err := s.Flush(ctx); err != nil && !errors.Is(err, context.Canceled) {
				s.cfg.Logger.Warn("flush last-success times", "err", err)
			}
		}
	}
}

// Flush writes the batched last-success times.
func (s *Sink) Flush(ctx context.Context) error {
	s.mu.Lock()
	batch := s.success
	s.success = make(map[successKey]time.Time, len(batch))
	s.mu.Unlock()
	var first error
	for k, at := range batch {
		if err := s.store.TouchSuccess(ctx, k.app, k.platform, k.token, at); err != nil && first == nil {
			first = err
		}
	}
	return first
}
