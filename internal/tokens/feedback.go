package tokens

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// Change names what applying a feedback event did to token state.
type Change string

// Changes reported by Apply.
const (
	Unchanged   Change = ""
	Invalidated Change = "invalidated"
	Replaced    Change = "replaced"
)

// Apply turns one feedback event into token state. invalid_token marks the
// token invalid unless it was registered again after the event's time (a
// stale event never overrides a newer registration); token_replaced retires
// the old token and records the new one. Delivered events are not written
// here: they go through the batched LastSuccess updater.
//
// The event's app, platform, token and new token are validated first (an
// error wrapping ErrInvalidDevice): a name that is not a key token must
// never reach a key. Whether the event's sender may report it at all (its
// subject, its platform's capabilities) is the caller's to check
// (events.Feedback.CheckSubject and CheckOutcome).
func (s *Store) Apply(ctx context.Context, f *events.Feedback) (Change, error) {
	if f.Outcome != events.InvalidToken && f.Outcome != events.TokenReplaced {
		return Unchanged, nil
	}
	if events.IsTopicKey(f.Token) {
		// A topic outcome ("topic:news"): no device, no token state. A
		// topic is never invalidated, suppressed or replaced.
		return Unchanged, nil
	}
	if err := checkRef(f.App, f.Platform, f.Token); err != nil {
		return Unchanged, err
	}
	if f.NewToken != "" {
		if err := checkToken("new_token", f.Platform, f.NewToken); err != nil {
			return Unchanged, err
		}
	}
	switch f.Outcome {
	case events.InvalidToken:
		at := f.EffectiveTime().UTC()
		ok, err := s.Update(ctx, f.App, f.Platform, f.Token, func(r *Record) bool {
			if r.RegisteredAt != nil && r.RegisteredAt.After(at) {
				return false // registered again since: the event is stale
			}
			if r.State == Invalid && r.InvalidAt != nil && !at.After(*r.InvalidAt) {
				return false // already known
			}
			r.State, r.Reason, r.InvalidAt = Invalid, f.Reason, &at
			return true
		})
		if ok {
			return Invalidated, err
		}
		return Unchanged, err
	case events.TokenReplaced:
		if f.NewToken == "" || f.NewToken == f.Token {
			return Unchanged, nil
		}
		var old Record
		ok, err := s.Update(ctx, f.App, f.Platform, f.Token, func(r *Record) bool {
			old = *r
			if r.State == Retired && r.ReplacedBy == f.NewToken {
				return false
			}
			r.State, r.ReplacedBy, r.Reason = Retired, f.NewToken, f.Reason
			return true
		})
		if err != nil {
			return Unchanged, err
		}
		_, err = s.Update(ctx, f.App, f.Platform, f.NewToken, func(r *Record) bool {
			// A zero UpdatedAt is a fresh record: the new token must be written.
			exists := !r.UpdatedAt.IsZero()
			if exists && r.State == Active && r.Alias == old.Alias && slices.Equal(r.Tags, old.Tags) {
				return false
			}
			now := f.EffectiveTime().UTC()
			r.State, r.RegisteredAt = Active, &now
			r.Alias, r.Tags, r.Locale, r.Attributes = old.Alias, old.Tags, old.Locale, old.Attributes
			return true
		})
		if ok {
			return Replaced, err
		}
		return Unchanged, err
	}
	return Unchanged, nil
}

// TouchSuccess records a delivery time if it is newer than the stored one.
// Only existing, active tokens are touched: a delivery never revives an
// invalid token, and unregistered tokens pushed to explicitly get no record.
// With a ready Cache (UseCache) tokens it does not know, or knows are not
// active, cost no KV read at all; a record younger than the cache's view
// may miss one touch, which is harmless for a hint.
func (s *Store) TouchSuccess(ctx context.Context, app string, p events.Platform, token string, at time.Time) error {
	if err := checkRef(app, p, token); err != nil {
		return err
	}
	if events.IsTopicKey(token) {
		return nil // a topic's delivery: no device record
	}
	if c := s.cache.Load(); c != nil {
		if st, known, ready := c.lookup(Key(app, p, token)); ready && (!known || st != Active) {
			return nil
		}
	}
	_, _, err := s.update(ctx, app, p, token, updateMode{}, func(r *Record) bool {
		if r.State != Active || (r.LastSuccess != nil && !at.After(*r.LastSuccess)) {
			return false
		}
		at := at.UTC()
		r.LastSuccess = &at
		return true
	})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}
