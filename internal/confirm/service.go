package confirm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/confirmstate"
	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/internal/metrics"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// Watches reads a watch record still waiting in PUSH_CONFIRM
// (jetstream.Stream satisfies it).
type Watches interface {
	GetLastMsgForSubject(ctx context.Context, subject string) (*jetstream.RawStreamMsg, error)
}

// Service is the consumer.Handler of the confirmation service's three
// consumers: PUSH_CONFIRM (watch records and confirmations),
// PUSH_CONFIRM_TIMERS (ticks) and PUSH_FEEDBACK (delivered tokens).
type Service struct {
	cfg     Config
	js      jetstream.Publisher
	kv      jetstream.KeyValue
	watches Watches
	m       *metrics.Confirm

	// seen remembers, by app and intent id, whether an intent is watched,
	// as found while handling its feedback: the dispatcher records a watch
	// before any job, so the answer then is final (the watch's own state
	// is read afresh where it matters), and later feedback of the intent
	// costs no look-up.
	mu   sync.Mutex
	seen map[string]bool
}

// maxSeen bounds seen; it is cleared when full.
const maxSeen = 100_000

// New returns a Service over the bucket push_confirm (kv) and the stream
// PUSH_CONFIRM (watches).
func New(cfg Config, js jetstream.Publisher, kv jetstream.KeyValue, watches Watches, m *metrics.Confirm) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	return &Service{cfg: cfg, js: js, kv: kv, watches: watches, m: m, seen: map[string]bool{}}, nil
}

// Handle routes a message by its subject.
func (s *Service) Handle(ctx context.Context, msg jetstream.Msg) consumer.Verdict {
	subj := msg.Subject()
	switch {
	case strings.HasPrefix(subj, events.FeedbackRoot+"."):
		return s.handleFeedback(ctx, msg)
	case strings.HasPrefix(subj, events.ConfirmRoot+".watch."):
		return s.handleWatch(ctx, msg)
	case strings.HasPrefix(subj, events.ConfirmRoot+".due."):
		return s.handleTick(ctx, msg)
	}
	if app, ok := events.ParseConfirmSubject(subj); ok {
		return s.handleConfirmation(ctx, app, msg)
	}
	return consumer.DeadLetter("", "subject", fmt.Sprintf("subject %q is not a confirmation service subject", subj))
}

// timeout bounds one step's waits.
func (s *Service) timeout(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.cfg.PublishTimeout)
}

// lookup returns the watch of intent id of app, or nil when it is not
// watched. A watch record not yet handled (still in PUSH_CONFIRM) is taken
// at once, so feedback or a confirmation that overtakes it is not lost.
// The stream is read before the bucket: handling a record writes the
// bucket before it removes the record, so a record gone from the stream
// is in the bucket.
func (s *Service) lookup(ctx context.Context, app, id string) (*confirmstate.Entry[confirmstate.Watch], error) {
	key := confirmstate.WatchKey(app, id)
	raw, err := s.watches.GetLastMsgForSubject(ctx, events.ConfirmWatchSubject(app, id))
	switch {
	case errors.Is(err, jetstream.ErrMsgNotFound):
	case err != nil:
		return nil, err
	default:
		w, err := s.newWatch(app, raw.Data, raw.Time)
		if err != nil {
			return nil, err
		}
		if _, err := createJSON(ctx, s.kv, key, w); err != nil && !isConflict(err) {
			return nil, err
		}
	}
	w, err := confirmstate.Get[confirmstate.Watch](ctx, s.kv, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	return w, err
}

// watched reports a remembered answer of watchOf.
func (s *Service) watched(key string) (watched, known bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	watched, known = s.seen[key]
	return watched, known
}

func (s *Service) remember(key string, watched bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.seen) >= maxSeen {
		clear(s.seen)
	}
	s.seen[key] = watched
}
