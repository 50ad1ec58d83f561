// Package streams provisions pushfleet's JetStream streams and KV bucket
// idempotently: every service calls Provision at start, so the first one up
// creates them and later ones (or later versions) update them in place.
package streams

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// Config sizes the streams. Zero values take the documented defaults.
type Config struct {
	// Replicas of every stream and the KV bucket: 1 (default) on one server,
	// 3 on a cluster.
	Replicas int
	// DedupWindow is how long an intent id or job id is remembered (default 2m).
	DedupWindow time.Duration
	// WorkMaxAge bounds how long intents and jobs wait (default 24h): a push
	// older than that is worth less than no push.
	WorkMaxAge time.Duration
	// FeedbackMaxAge is PUSH_FEEDBACK's retention (default 7 days).
	FeedbackMaxAge time.Duration
	// DeadMaxAge is PUSH_DEAD's retention (default 30 days).
	DeadMaxAge time.Duration
	// Storage is file (default) or memory.
	Storage jetstream.StorageType
}

func (c *Config) setDefaults() {
	c.Replicas = cmp.Or(c.Replicas, 1)
	c.DedupWindow = cmp.Or(c.DedupWindow, 2*time.Minute)
	c.WorkMaxAge = cmp.Or(c.WorkMaxAge, 24*time.Hour)
	c.FeedbackMaxAge = cmp.Or(c.FeedbackMaxAge, 7*24*time.Hour)
	c.DeadMaxAge = cmp.Or(c.DeadMaxAge, 30*24*time.Hour)
}

// Validate reports configuration that JetStream would reject.
func (c Config) Validate() error {
	c.setDefaults()
	switch {
	case c.Replicas < 1 || c.Replicas > 5:
		return fmt.Errorf("streams: replicas must be 1..5, got %d", c.Replicas)
	case c.DedupWindow > c.WorkMaxAge:
		return fmt.Errorf("streams: dedup window %v exceeds the work max age %v", c.DedupWindow, c.WorkMaxAge)
	}
	return nil
}

// Manager is the part of jetstream.JetStream that provisioning needs.
type Manager interface {
	jetstream.StreamManager
	jetstream.KeyValueManager
}

// StreamConfigs returns the configuration of every pushfleet stream.
func StreamConfigs(c Config) []jetstream.StreamConfig {
	c.setDefaults()
	work := func(name string, subjects ...string) jetstream.StreamConfig {
		return jetstream.StreamConfig{
			Name: name, Subjects: subjects,
			Retention: jetstream.WorkQueuePolicy, Storage: c.Storage, Replicas: c.Replicas,
			MaxAge: c.WorkMaxAge, Duplicates: c.DedupWindow,
			// Per-message TTL drops expired pushes; schedules carry send_at
			// and delayed retries of partially failed jobs.
			AllowMsgTTL: true, AllowMsgSchedules: true,
		}
	}
	cfgs := []jetstream.StreamConfig{
		work(events.StreamIntents, events.IntentsRoot+".>", events.SchedulesRoot+".>"),
	}
	for _, p := range events.Platforms {
		cfgs = append(cfgs, work(events.SendStream(p), events.SendRoot+"."+string(p)+".>"))
	}
	cfgs = append(cfgs,
		jetstream.StreamConfig{
			Name: events.StreamFeedback, Subjects: []string{events.FeedbackRoot + ".>"},
			Retention: jetstream.LimitsPolicy, Storage: c.Storage, Replicas: c.Replicas,
			MaxAge: c.FeedbackMaxAge,
		},
		jetstream.StreamConfig{
			Name: events.StreamDead, Subjects: []string{events.DeadRoot + ".>"},
			Retention: jetstream.LimitsPolicy, Storage: c.Storage, Replicas: c.Replicas,
			MaxAge: c.DeadMaxAge,
		},
	)
	return cfgs
}

// TokensConfig is the KV bucket holding token state and the device registry.
func TokensConfig(c Config) jetstream.KeyValueConfig {
	c.setDefaults()
	return jetstream.KeyValueConfig{
		Bucket: events.TokensBucket, History: 1, Storage: c.Storage, Replicas: c.Replicas,
		Description: "pushfleet device tokens: registry and delivery state",
	}
}

// Provision creates or updates every stream and the KV bucket.
func Provision(ctx context.Context, m Manager, c Config) error {
	if err := c.Validate(); err != nil {
		return err
	}
	for _, sc := range StreamConfigs(c) {
		if _, err := m.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("provision stream %s: %w", sc.Name, err)
		}
	}
	if _, err := m.CreateOrUpdateKeyValue(ctx, TokensConfig(c)); err != nil {
		return fmt.Errorf("provision kv %s: %w", events.TokensBucket, err)
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
