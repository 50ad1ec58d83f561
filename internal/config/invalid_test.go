package config

import (
	"errors"
	"flag"
	"io"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/internal/consumer"
	"github.com/pushfleet/pushfleet/internal/dispatch"
	"github.com/pushfleet/pushfleet/internal/embedded"
	"github.com/pushfleet/pushfleet/internal/send"
	"github.com/pushfleet/pushfleet/internal/sink"
	"github.com/pushfleet/pushfleet/internal/streams"
	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm"
	"github.com/pushfleet/pushfleet/pkg/provider/hms"
)

// Every configuration error of every configuration type wraps ErrInvalid,
// whichever package validates it; the package sentinels are the same value.
func TestEveryConfigErrorWrapsErrInvalid(t *testing.T) {
	common := func(mod func(*Common)) func() error {
		return func() error {
			var c Common
			c.Register(flag.NewFlagSet("t", flag.ContinueOnError), ":8080")
			mod(&c)
			return c.Validate()
		}
	}
	consumerCfg := func(mod func(*consumer.Config)) func() error {
		return func() error {
			c := consumer.Config{Stream: "S", Durable: "d", Stage: "intents"}
			mod(&c)
			return c.Validate()
		}
	}
	sendCfg := func(mod func(*send.Config)) func() error {
		return func() error {
			c := send.Config{Platform: events.APNs}
			mod(&c)
			return c.Validate()
		}
	}
	parse := func(args []string, env map[string]string) func() error {
		return func() error {
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			var c Common
			c.Register(fs, ":8080")
			return Parse(fs, args, func(k string) string { return env[k] })
		}
	}
	tests := []struct {
		name     string
		validate func() error
	}{
		{"flag value", parse([]string{"--max-attempts=many"}, nil)},
		{"unknown flag", parse([]string{"--max-attempt=3"}, nil)},
		{"environment value", parse(nil, map[string]string{"PUSHFLEET_ACK_WAIT": "soon"})},
		{"common: log level", common(func(c *Common) { c.LogLevel = "loud" })},
		{"common: cert without key", common(func(c *Common) { c.NATSCert = "c.pem" })},
		{"common: user without password", common(func(c *Common) { c.NATSUser = "u" })},
		{"common: ack wait", common(func(c *Common) { c.AckWait = time.Millisecond })},
		{"common: max attempts", common(func(c *Common) { c.MaxAttempts = -1 })},
		{"common: drain timeout", common(func(c *Common) { c.DrainTimeout = -time.Second })},
		{"common: nkey file", func() error {
			c := Common{NATSNKey: "/nonexistent/seed"}
			_, err := c.NATSOptions("t", nil)
			return err
		}},
		{"streams: replicas", func() error { return streams.Config{Replicas: streams.MaxReplicas + 1}.Validate() }},
		{"streams: dedup window", func() error { return streams.Config{DedupWindow: time.Millisecond}.Validate() }},
		{"streams: retention", func() error { return streams.Config{DedupWindow: time.Hour, DeadMaxAge: time.Minute}.Validate() }},
		{"consumer: names", consumerCfg(func(c *consumer.Config) { c.Stream = "" })},
		{"consumer: in flight", consumerCfg(func(c *consumer.Config) { c.MaxInFlight = -1 })},
		{"consumer: max attempts", consumerCfg(func(c *consumer.Config) { c.MaxAttempts = -1 })},
		{"consumer: dead letter bytes", consumerCfg(func(c *consumer.Config) { c.MaxDeadLetterBytes = 1 })},
		{"consumer: ack wait", consumerCfg(func(c *consumer.Config) { c.AckWait = time.Millisecond })},
		{"consumer: backoff", consumerCfg(func(c *consumer.Config) { c.BackoffBase, c.BackoffMax = time.Hour, time.Second })},
		{"dispatch: batch", func() error { return dispatch.Config{BatchAPNs: -1}.Validate() }},
		{"dispatch: FCM batch", func() error { return dispatch.Config{BatchFCM: dispatch.MaxBatchFCM + 1}.Validate() }},
		{"dispatch: horizon", func() error { return dispatch.Config{ScheduleHorizon: time.Millisecond}.Validate() }},
		{"dispatch: publish timeout", func() error { return dispatch.Config{PublishTimeout: -time.Second}.Validate() }},
		{"dispatch: app", func() error { return dispatch.Config{Apps: []string{"a.b"}}.Validate() }},
		{"dispatcher flags", func() error { d := Dispatcher{MaxInFlight: -1}; return d.Validate() }},
		{"dispatcher flags: dispatch", func() error { d := Dispatcher{Dispatch: dispatch.Config{BatchMi: -1}}; return d.Validate() }},
		{"send: platform", func() error { return send.Config{Platform: "wp"}.Validate() }},
		{"send: max attempts", sendCfg(func(c *send.Config) { c.MaxAttempts = -1 })},
		{"send: tokens in flight", sendCfg(func(c *send.Config) { c.MaxTokensInFlight = -1 })},
		{"send: timeouts", sendCfg(func(c *send.Config) { c.RequestTimeout = -time.Second })},
		{"send: bounds", sendCfg(func(c *send.Config) { c.RetryBase, c.RetryMax = time.Hour, time.Second })},
		{"sender flags: in flight", func() error { s := SenderOptions{MaxInFlight: -1}; return s.Validate() }},
		{"sender flags: apps reload", func() error { s := SenderOptions{AppsReload: -time.Second}; return s.Validate() }},
		{"sink: flush interval", func() error { return sink.Config{FlushInterval: -time.Second}.Validate() }},
		{"sink flags: in flight", func() error { s := Sink{MaxInFlight: -1}; return s.Validate() }},
		{"sink flags: sink", func() error { s := Sink{Sink: sink.Config{FlushInterval: -time.Second}}; return s.Validate() }},
		{"embedded: store", func() error { _, err := embedded.Start(embedded.Config{}); return err }},
		{"embedded: listen", func() error {
			_, err := embedded.Start(embedded.Config{StoreDir: t.TempDir(), Listen: "nowhere"})
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.validate()
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want one wrapping config.ErrInvalid", err)
			}
		})
	}
	if !errors.Is(consumer.ErrConfig, ErrInvalid) || !errors.Is(streams.ErrConfig, ErrInvalid) {
		t.Fatal("consumer.ErrConfig and streams.ErrConfig are not config.ErrInvalid")
	}
}

// Valid configurations, defaults included, are not errors.
func TestDefaultsAreValid(t *testing.T) {
	var c Common
	var d Dispatcher
	var s SenderOptions
	var k Sink
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	c.Register(fs, ":8080")
	d.Register(fs)
	s.Register(fs)
	k.Register(fs)
	for name, err := range map[string]error{
		"common": c.Validate(), "dispatcher": d.Validate(), "sender": s.Validate(), "sink": k.Validate(),
		"send": send.Config{Platform: events.FCM}.Validate(),
	} {
		if err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// The defaults the flags show are the owning packages' constants, and the
// FCM batch bound of the dispatcher is the provider's.
func TestFlagDefaultsAreTheOwnersConstants(t *testing.T) {
	var c Common
	var d Dispatcher
	var s SenderOptions
	var k Sink
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	c.Register(fs, ":8080")
	d.Register(fs)
	s.Register(fs)
	k.Register(fs)
	for flagName, want := range map[string]any{
		"max-attempts": consumer.DefaultMaxAttempts, "ack-wait": consumer.DefaultAckWait, "drain-timeout": consumer.DefaultDrainTimeout,
		"stream-replicas": streams.DefaultReplicas, "dedup-window": streams.DefaultDedupWindow,
		"feedback-retention": streams.DefaultFeedbackMaxAge, "dead-retention": streams.DefaultDeadMaxAge,
		"batch-apns": dispatch.DefaultBatchAPNs, "batch-fcm": dispatch.DefaultBatchFCM, "batch-mi": dispatch.DefaultBatchMi,
		"batch-hms": dispatch.DefaultBatchHMS, "batch-webpush": dispatch.DefaultBatchWebPush,
		"dispatcher-in-flight": dispatch.DefaultMaxInFlight, "schedule-horizon": dispatch.DefaultScheduleHorizon,
		"max-tokens": events.DefaultLimits.MaxTokens, "max-intent-bytes": events.DefaultLimits.MaxIntentBytes,
		"sender-in-flight": send.DefaultMaxInFlight, "sender-tokens-in-flight": send.DefaultMaxTokensInFlight,
		"request-timeout": send.DefaultRequestTimeout, "apps-reload": DefaultAppsReload,
		"sink-in-flight": sink.DefaultMaxInFlight, "success-flush": sink.DefaultFlushInterval,
		"log-level": DefaultLogLevel,
	} {
		f := fs.Lookup(flagName)
		if f == nil {
			t.Errorf("--%s not registered", flagName)
			continue
		}
		if got := f.Value.(flag.Getter).Get(); got != want {
			t.Errorf("--%s default %v, want %v", flagName, got, want)
		}
	}
	if dispatch.MaxBatchFCM != fcm.MaxBatch {
		t.Errorf("dispatch.MaxBatchFCM %d, fcm.MaxBatch %d", dispatch.MaxBatchFCM, fcm.MaxBatch)
	}
	if dispatch.MaxBatchHMS != hms.MaxBatch {
		t.Errorf("dispatch.MaxBatchHMS %d, hms.MaxBatch %d", dispatch.MaxBatchHMS, hms.MaxBatch)
	}
}
