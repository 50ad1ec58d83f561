// Package streams provisions pushfleet's JetStream streams and KV buckets
// idempotently: every service calls Provision at start (or an admin runs it
// once, with least-privilege services), so the first one up creates them and
// later ones (or later versions) update them in place.
//
// Two rules shape every configuration here, because pushfleet promises that
// no accepted notification disappears without an outcome:
//   - Nothing is removed by age, TTL or a limit before it was handled: work
//     streams have no MaxAge and refuse new messages when full (DiscardNew),
//     so a producer is told instead of older work being dropped.
//   - No publisher's headers may delete other messages: roll-ups are off
//     wherever a producer, the dispatcher or a sender publishes work. Message
//     schedules need roll-ups, so they live in streams of their own
//     (PUSH_SCHEDULES, PUSH_RETRY_<P>) that only their owner writes to.
package streams

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/config/invalid"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// Defaults, declared once.
const (
	DefaultReplicas       = 1
	DefaultDedupWindow    = 2 * time.Minute
	DefaultFeedbackMaxAge = 7 * 24 * time.Hour
	DefaultDeadMaxAge     = 30 * 24 * time.Hour
)

// ConfirmStateMaxAge is how long the confirmation service's state is kept:
// a day beyond the longest confirmation window, for pushctl status.
const ConfirmStateMaxAge = events.MaxConfirmWithin + 24*time.Hour

// ErrConfig is the sentinel every configuration error wraps: the one of
// every pushfleet package (config.ErrInvalid), named here as before.
var ErrConfig = invalid.Err

// MaxReplicas is the most replicas JetStream allows a stream.
const MaxReplicas = 5

// MinDedupWindow is the least DedupWindow.
const MinDedupWindow = time.Second

// ErrServerUnsupported is returned by Provision when the server accepted a
// stream but did not apply a setting pushfleet relies on (nats-server 2.11
// silently drops AllowMsgSchedules, for instance).
var ErrServerUnsupported = errors.New("the NATS server does not support a stream setting pushfleet needs (nats-server >= 2.12 required)")

// Config sizes the streams. Zero values take the documented defaults.
type Config struct {
	// Replicas of every stream and bucket: 1 (default) on one server, 3 on a
	// cluster.
	Replicas int
	// DedupWindow is how long an intent id or job id is remembered (default 2m).
	DedupWindow time.Duration
	// FeedbackMaxAge is PUSH_FEEDBACK's retention (default 7 days).
	FeedbackMaxAge time.Duration
	// DeadMaxAge is PUSH_DEAD's retention (default 30 days).
	DeadMaxAge time.Duration
	// Storage is file (default) or memory.
	Storage jetstream.StorageType
}

func (c *Config) setDefaults() {
	c.Replicas = cmp.Or(c.Replicas, DefaultReplicas)
	c.DedupWindow = cmp.Or(c.DedupWindow, DefaultDedupWindow)
	c.FeedbackMaxAge = cmp.Or(c.FeedbackMaxAge, DefaultFeedbackMaxAge)
	c.DeadMaxAge = cmp.Or(c.DeadMaxAge, DefaultDeadMaxAge)
}

// WithDefaults returns c with every zero field set to its default: the
// configuration StreamConfigs and Provision use.
func (c Config) WithDefaults() Config {
	c.setDefaults()
	return c
}

// Validate reports configuration that JetStream would reject. Every error
// wraps config.ErrInvalid.
func (c Config) Validate() error {
	c.setDefaults()
	switch {
	case c.Replicas < 1 || c.Replicas > MaxReplicas:
		return invalid.Errorf("streams", "replicas must be 1..%d, got %d", MaxReplicas, c.Replicas)
	case c.DedupWindow < MinDedupWindow:
		return invalid.Errorf("streams", "dedup window must be at least %v, got %v", MinDedupWindow, c.DedupWindow)
	case c.FeedbackMaxAge < c.DedupWindow || c.DeadMaxAge < c.DedupWindow:
		return invalid.Errorf("streams", "feedback and dead-letter retention must be at least the dedup window")
	}
	return nil
}

// Manager is the part of jetstream.JetStream that provisioning needs.
type Manager interface {
	jetstream.StreamManager
}

// Bucket is what CreateTokens needs: streams and key-value binding.
type Bucket interface {
	jetstream.StreamManager
	jetstream.KeyValueManager
}

// StreamConfigs returns the configuration of every pushfleet stream and of
// the streams behind its KV buckets, custom platforms' included: declare
// them (events.DeclarePlatform, the --platforms flag) before provisioning.
// A custom platform that is no longer declared keeps its streams: nothing
// here deletes a stream that may still hold work.
func StreamConfigs(c Config) []jetstream.StreamConfig {
	c.setDefaults()
	// work is a queue that producers, the dispatcher or senders publish to:
	// no roll-ups, no schedules, no TTLs, nothing dropped by age, and a full
	// stream refuses the publish.
	work := func(name, desc string, subjects ...string) jetstream.StreamConfig {
		return jetstream.StreamConfig{
			Name: name, Description: desc, Subjects: subjects,
			Retention: jetstream.WorkQueuePolicy, Storage: c.Storage, Replicas: c.Replicas,
			Duplicates: c.DedupWindow, Discard: jetstream.DiscardNew,
		}
	}
	// scheduled holds one owner's message schedules until they fire, and the
	// messages they release. Schedules need roll-ups and DiscardOld (the
	// server requires both), which is why only the owner may publish here.
	scheduled := func(name, desc string, subjects ...string) jetstream.StreamConfig {
		return jetstream.StreamConfig{
			Name: name, Description: desc, Subjects: subjects,
			Retention: jetstream.WorkQueuePolicy, Storage: c.Storage, Replicas: c.Replicas,
			Duplicates: c.DedupWindow, Discard: jetstream.DiscardOld,
			AllowMsgSchedules: true, AllowRollup: true,
		}
	}
	cfgs := []jetstream.StreamConfig{
		work(events.StreamIntents, "pushfleet intents from producers, consumed by the dispatcher",
			events.IntentsRoot+".>"),
		scheduled(events.StreamSchedules, "pushfleet send_at schedules (dispatcher-owned) and the intents they release",
			events.SchedulesRoot+".>", events.DueRoot+".>"),
	}
	// Every platform: the three built-ins and the custom platforms declared
	// in this process (events.DeclarePlatform, --platforms) get the same
	// pair of streams, PUSH_SEND_<NAME> and PUSH_RETRY_<NAME>.
	for _, p := range events.Platforms {
		cfgs = append(cfgs,
			work(events.SendStream(p), "pushfleet "+string(p)+" delivery jobs",
				events.SendRoot+"."+string(p)+".*"),
			scheduled(events.RetryStream(p), "pushfleet "+string(p)+" re-queued tokens (sender-owned schedules) and the jobs they release",
				events.RetryRoot+"."+string(p)+".>"))
	}
	cfgs = append(cfgs,
		jetstream.StreamConfig{
			Name: events.StreamFeedback, Description: "pushfleet per-token outcomes",
			Subjects:  []string{events.FeedbackRoot + ".>"},
			Retention: jetstream.LimitsPolicy, Storage: c.Storage, Replicas: c.Replicas,
			MaxAge: c.FeedbackMaxAge,
		},
		jetstream.StreamConfig{
			Name: events.StreamDead, Description: "pushfleet dead letters: what could not be processed, with the reason",
			Subjects:  []string{events.DeadRoot + ".>"},
			Retention: jetstream.LimitsPolicy, Storage: c.Storage, Replicas: c.Replicas,
			MaxAge: c.DeadMaxAge,
		},
		// Confirmed delivery: what producers and the dispatcher give the
		// confirmation service (work, as PUSH_INTENTS), its own timers
		// (schedules, which only it writes) and its state, kept a day
		// beyond the longest confirmation window.
		work(events.StreamConfirm, "pushfleet confirmations from producers and the dispatcher's confirmation watches",
			events.ConfirmRoot+".*", events.ConfirmRoot+".watch.>"),
		scheduled(events.StreamConfirmTimers, "pushfleet confirmation re-send timers (confirm-service-owned schedules) and the ticks they release",
			events.ConfirmRoot+".timer.>", events.ConfirmRoot+".due.>"),
		kvStream(c, events.ConfirmBucket, "pushfleet confirmed delivery: watched intents and their tokens' states", ConfirmStateMaxAge),
		kvStream(c, events.TokensBucket, "pushfleet device tokens: registry and delivery state", 0),
		kvStream(c, events.IntentIDsBucket, "pushfleet intent ids taken by the dispatcher, per app, for the dedup window", c.DedupWindow),
		kvStream(c, events.JobIDsBucket, "pushfleet delivery jobs taken by the senders, per platform and app, for the dedup window", c.DedupWindow),
	)
	return cfgs
}

// kvStream is the stream behind a KV bucket, as nats.go's CreateKeyValue
// would make it, but without roll-ups: a KV purge (the only use of a
// roll-up) is never needed, and a roll-up published by a compromised writer
// would wipe the bucket. jetstream.KeyValue binds to it as to any bucket.
func kvStream(c Config, bucket, desc string, ttl time.Duration) jetstream.StreamConfig {
	dup := c.DedupWindow
	if ttl > 0 && ttl < dup {
		dup = ttl
	}
	return jetstream.StreamConfig{
		Name: "KV_" + bucket, Description: desc,
		Subjects:          []string{"$KV." + bucket + ".>"},
		MaxMsgsPerSubject: 1, MaxBytes: -1, MaxMsgs: -1, MaxMsgSize: -1, MaxConsumers: -1,
		MaxAge: ttl, Storage: c.Storage, Replicas: c.Replicas,
		DenyDelete: true, AllowDirect: true, Duplicates: dup,
		// A full bucket refuses writes rather than dropping keys.
		Discard: jetstream.DiscardNew,
	}
}

// Provision creates or updates every stream and bucket, then checks that the
// server applied the settings pushfleet relies on.
func Provision(ctx context.Context, m Manager, c Config) error {
	if err := c.Validate(); err != nil {
		return err
	}
	for _, sc := range StreamConfigs(c) {
		if err := migrate(ctx, m, sc); err != nil {
			return err
		}
		s, err := m.CreateOrUpdateStream(ctx, sc)
		if err != nil {
			return fmt.Errorf("provision stream %s: %w", sc.Name, err)
		}
		if err := CheckApplied(sc, s.CachedInfo().Config); err != nil {
			return err
		}
	}
	return nil
}

// migrate makes way for a configuration the server cannot reach by an
// update: releases before this one allowed message schedules (and so
// roll-ups) on PUSH_INTENTS and PUSH_SEND_*, and a server refuses to turn
// schedules off. An empty stream is deleted and re-created; one still
// holding messages is left alone with an error saying how to drain it.
func migrate(ctx context.Context, m Manager, want jetstream.StreamConfig) error {
	s, err := m.Stream(ctx, want.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("provision stream %s: %w", want.Name, err)
	}
	info := s.CachedInfo()
	if !info.Config.AllowMsgSchedules || want.AllowMsgSchedules {
		return nil
	}
	if info.State.Msgs > 0 {
		return fmt.Errorf("provision stream %s: it still holds %d messages from a release that allowed schedules and roll-ups on it; "+
			"stop the producers, let the services drain it (pushctl provision again when it is empty): %w",
			want.Name, info.State.Msgs, ErrConfig)
	}
	if err := m.DeleteStream(ctx, want.Name); err != nil {
		return fmt.Errorf("provision stream %s: re-create without schedules: %w", want.Name, err)
	}
	return nil
}

// CreateTokens provisions only the push_tokens bucket and binds it (tests
// and tools that need the registry without the rest).
func CreateTokens(ctx context.Context, b Bucket, c Config) (jetstream.KeyValue, error) {
	c.setDefaults()
	sc := kvStream(c, events.TokensBucket, "pushfleet device tokens: registry and delivery state", 0)
	if _, err := b.CreateOrUpdateStream(ctx, sc); err != nil {
		return nil, fmt.Errorf("provision kv %s: %w", events.TokensBucket, err)
	}
	return b.KeyValue(ctx, events.TokensBucket)
}

// CheckApplied compares the settings pushfleet relies on with what the
// server reports it applied.
func CheckApplied(want, got jetstream.StreamConfig) error {
	var diffs []string
	check := func(name string, w, g bool) {
		if w != g {
			diffs = append(diffs, fmt.Sprintf("%s=%v (server has %v)", name, w, g))
		}
	}
	check("allow_msg_schedules", want.AllowMsgSchedules, got.AllowMsgSchedules)
	check("allow_msg_ttl", want.AllowMsgTTL, got.AllowMsgTTL)
	check("allow_rollup_hdrs", want.AllowRollup, got.AllowRollup)
	check("deny_delete", want.DenyDelete, got.DenyDelete)
	check("deny_purge", want.DenyPurge, got.DenyPurge)
	if want.Discard != got.Discard {
		diffs = append(diffs, fmt.Sprintf("discard=%v (server has %v)", want.Discard, got.Discard))
	}
	if want.MaxAge != got.MaxAge {
		diffs = append(diffs, fmt.Sprintf("max_age=%v (server has %v)", want.MaxAge, got.MaxAge))
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%w: stream %s: wanted %v", ErrServerUnsupported, want.Name, diffs)
	}
	return nil
}

// ErrNotProvisioned is returned by Check when a stream is missing.
var ErrNotProvisioned = errors.New("streams not provisioned")

// Check verifies that every stream exists, for services that must not create them.
func Check(ctx context.Context, m jetstream.StreamManager) error {
	for _, sc := range StreamConfigs(Config{}) {
		if _, err := m.Stream(ctx, sc.Name); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrNotProvisioned, sc.Name, err)
		}
	}
	return nil
}
