package tokens_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/tokens"
	"github.com/pushfleet/pushfleet/pkg/events"
)

func TestRegisterRejectsBadInput(t *testing.T) {
	e := newEnv(t, jetstream.MemoryStorage)
	manyTags := make([]string, tokens.MaxTags+1)
	for i := range manyTags {
		manyTags[i] = fmt.Sprint("t", i)
	}
	tests := []struct {
		name  string
		d     tokens.Device
		field string
	}{
		{"bad app", tokens.Device{App: "a.b", Platform: events.APNs, Token: "ab"}, "app"},
		{"unknown platform", tokens.Device{App: app, Platform: "wp", Token: "ab"}, "platform"},
		{"empty token", tokens.Device{App: app, Platform: events.FCM}, "token"},
		{"token with space", tokens.Device{App: app, Platform: events.FCM, Token: "a b"}, "token"},
		{"alias with space", tokens.Device{App: app, Platform: events.FCM, Token: "x", Alias: "u 1"}, "alias"},
		{"empty tag", tokens.Device{App: app, Platform: events.FCM, Token: "x", Tags: []string{"ok", ""}}, "tags[1]"},
		{"too many tags", tokens.Device{App: app, Platform: events.FCM, Token: "x", Tags: manyTags}, "tags"},
		{"long alias", tokens.Device{App: app, Platform: events.FCM, Token: "x", Alias: strings.Repeat("a", 257)}, "alias"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.reg.Register(ctxT(t), tt.d)
			if !errors.Is(err, tokens.ErrInvalidDevice) || !strings.Contains(err.Error(), tt.field) {
				t.Fatalf("err = %v, want ErrInvalidDevice naming %q", err, tt.field)
			}
		})
	}
}

func TestRegisterGetUnregister(t *testing.T) {
	e := newEnv(t, jetstream.MemoryStorage)
	ctx := ctxT(t)
	tok := "fcm:APA91b+/x" // ':' '+' '/' are not allowed in keys
	rec := register(t, e.reg, tokens.Device{Platform: events.FCM, Token: tok, Alias: "user:1",
		Tags: []string{"sports", "news", "news"}, Locale: "de-CH", Attributes: map[string]string{"os": "14"}})
	if rec.State != tokens.Active || rec.RegisteredAt == nil || !slices.Equal(rec.Tags, []string{"news", "sports"}) {
		t.Fatalf("registered record = %+v", rec)
	}
	got, err := e.reg.Get(ctx, app, events.FCM, tok)
	if err != nil || got.Alias != "user:1" || got.Locale != "de-CH" || got.Attributes["os"] != "14" || got.Token != tok {
		t.Fatalf("get = %+v, %v", got, err)
	}
	want := targets(tg(events.FCM, tok))
	for _, l := range []struct {
		k    tokens.Kind
		name string
	}{{tokens.AliasIndex, "user:1"}, {tokens.TagIndex, "news"}, {tokens.TagIndex, "sports"}} {
		if got := listAll(t, e.reg, l.k, l.name, 10); !equalTargets(got, want) {
			t.Errorf("%s %s lists %v, want %v", l.k, l.name, got, want)
		}
	}

	if err := e.reg.Unregister(ctx, app, events.FCM, tok); err != nil {
		t.Fatal(err)
	}
	if _, err := e.reg.Get(ctx, app, events.FCM, tok); !errors.Is(err, tokens.ErrNotFound) {
		t.Fatalf("get after unregister: %v, want ErrNotFound", err)
	}
	if err := e.reg.Unregister(ctx, app, events.FCM, tok); !errors.Is(err, tokens.ErrNotFound) {
		t.Fatalf("second unregister: %v, want ErrNotFound", err)
	}
	if got := resolve(t, e.reg, events.Targets{Tag: "news"}, 10); len(got) != 0 {
		t.Fatalf("unregistered device still resolved: %v", got)
	}
	// Registering after an unregistration starts afresh.
	register(t, e.reg, tokens.Device{Platform: events.FCM, Token: tok, Tags: []string{"news"}})
	if got := resolve(t, e.reg, events.Targets{Tag: "news"}, 10); !equalTargets(got, want) {
		t.Fatalf("re-registered device resolves to %v, want %v", got, want)
	}
	if got := resolve(t, e.reg, events.Targets{Alias: "user:1"}, 10); len(got) != 0 {
		t.Fatalf("alias of the old registration still resolves: %v", got)
	}
}

func TestReregisterMovesIndexEntries(t *testing.T) {
	e := newEnv(t, jetstream.MemoryStorage)
	register(t, e.reg, tokens.Device{Platform: events.APNs, Token: "aa01", Alias: "u1", Tags: []string{"x", "y"}})
	register(t, e.reg, tokens.Device{Platform: events.APNs, Token: "aa01", Alias: "u2", Tags: []string{"y", "z"}})
	dev := targets(tg(events.APNs, "aa01"))
	for _, c := range []struct {
		t    events.Targets
		want []events.Target
	}{
		{events.Targets{Alias: "u1"}, nil},
		{events.Targets{Alias: "u2"}, dev},
		{events.Targets{Tag: "x"}, nil},
		{events.Targets{Tag: "y"}, dev},
		{events.Targets{Tag: "z"}, dev},
	} {
		if got := resolve(t, e.reg, c.t, 5); !equalTargets(got, c.want) {
			t.Errorf("%+v resolves to %v, want %v", c.t, got, c.want)
		}
	}
}

func TestReregisterReactivatesInvalidToken(t *testing.T) {
	e := newEnv(t, jetstream.MemoryStorage)
	ctx := ctxT(t)
	first := register(t, e.reg, tokens.Device{Platform: events.APNs, Token: "aa02", Alias: "u1"})
	ch, err := e.reg.Store().Apply(ctx, &events.Feedback{App: app, Platform: events.APNs, Token: "aa02",
		Outcome: events.InvalidToken, Reason: "Unregistered", At: time.Now().Add(time.Second)})
	if err != nil || ch != tokens.Invalidated {
		t.Fatalf("apply invalid_token: %v %v", ch, err)
	}
	rec := register(t, e.reg, tokens.Device{Platform: events.APNs, Token: "aa02", Alias: "u1"})
	if rec.State != tokens.Active || rec.Reason != "" || rec.InvalidAt != nil || !rec.RegisteredAt.After(*first.RegisteredAt) {
		t.Fatalf("re-registered record = %+v, want active with a newer RegisteredAt", rec)
	}
}

func TestStaleInvalidTokenDoesNotKillNewerRegistration(t *testing.T) {
	e := newEnv(t, jetstream.MemoryStorage)
	ctx := ctxT(t)
	rec := register(t, e.reg, tokens.Device{Platform: events.Mi, Token: "mi+1"})
	stale := &events.Feedback{App: app, Platform: events.Mi, Token: "mi+1", Outcome: events.InvalidToken,
		Reason: "20301", At: rec.RegisteredAt.Add(-time.Minute)}
	if ch, err := e.reg.Store().Apply(ctx, stale); err != nil || ch != tokens.Unchanged {
		t.Fatalf("stale invalid_token: change %q err %v, want unchanged", ch, err)
	}
	if got, _ := e.reg.Get(ctx, app, events.Mi, "mi+1"); got.State != tokens.Active {
		t.Fatalf("state after stale event = %s, want active", got.State)
	}
	fresh := *stale
	fresh.At = rec.RegisteredAt.Add(time.Minute)
	if ch, err := e.reg.Store().Apply(ctx, &fresh); err != nil || ch != tokens.Invalidated {
		t.Fatalf("fresh invalid_token: change %q err %v, want invalidated", ch, err)
	}
}

func TestStaleDeliveredDoesNotReviveInvalidToken(t *testing.T) {
	e := newEnv(t, jetstream.MemoryStorage)
	ctx := ctxT(t)
	register(t, e.reg, tokens.Device{Platform: events.FCM, Token: "f:1"})
	at := time.Now().Add(time.Second)
	if _, err := e.reg.Store().Apply(ctx, &events.Feedback{App: app, Platform: events.FCM, Token: "f:1",
		Outcome: events.InvalidToken, At: at}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []time.Time{at.Add(-time.Minute), at.Add(time.Minute)} {
		if err := e.reg.Store().TouchSuccess(ctx, app, events.FCM, "f:1", d); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := e.reg.Get(ctx, app, events.FCM, "f:1")
	if got.State != tokens.Invalid || got.LastSuccess != nil {
		t.Fatalf("after delivered events: state %s last success %v, want invalid and none", got.State, got.LastSuccess)
	}
}

func TestConcurrentTagUpdatesKeepEveryChange(t *testing.T) {
	e := newEnv(t, jetstream.MemoryStorage)
	register(t, e.reg, tokens.Device{Platform: events.FCM, Token: "f:hot", Tags: []string{"base"}})
	const writers = 20
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			if _, err := e.reg.UpdateTags(ctxT(t), app, events.FCM, "f:hot", []string{fmt.Sprint("tag", i)}, nil); err != nil {
				t.Errorf("writer %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	rec, err := e.reg.Get(ctxT(t), app, events.FCM, "f:hot")
	if err != nil || len(rec.Tags) != writers+1 {
		t.Fatalf("tags after %d concurrent writers: %v (%v)", writers, rec.Tags, err)
	}
	dev := targets(tg(events.FCM, "f:hot"))
	for i := range writers {
		if got := resolve(t, e.reg, events.Targets{Tag: fmt.Sprint("tag", i)}, 10); !equalTargets(got, dev) {
			t.Errorf("tag%d resolves to %v", i, got)
		}
	}
	if _, err := e.reg.UpdateTags(ctxT(t), app, events.FCM, "f:hot", nil, []string{"tag3", "base"}); err != nil {
		t.Fatal(err)
	}
	if got := resolve(t, e.reg, events.Targets{Tag: "tag3"}, 10); len(got) != 0 {
		t.Errorf("removed tag still resolves: %v", got)
	}
	if _, err := e.reg.UpdateTags(ctxT(t), app, events.FCM, "unknown", []string{"x"}, nil); !errors.Is(err, tokens.ErrNotFound) {
		t.Errorf("tagging an unregistered device: %v, want ErrNotFound", err)
	}
}

// Concurrent registrations of one device with different aliases and tags
// leave the index exactly in line with whichever registration won.
func TestConcurrentRegistrationsKeepIndexInLine(t *testing.T) {
	e := newEnv(t, jetstream.MemoryStorage)
	const writers = 12
	var wg sync.WaitGroup
	for i := range writers {
		wg.Go(func() {
			_, err := e.reg.Register(ctxT(t), tokens.Device{App: app, Platform: events.APNs, Token: "aa03",
				Alias: fmt.Sprint("u", i), Tags: []string{fmt.Sprint("t", i), "all"}})
			if err != nil {
				t.Errorf("writer %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	rec, err := e.reg.Get(ctxT(t), app, events.APNs, "aa03")
	if err != nil {
		t.Fatal(err)
	}
	dev := targets(tg(events.APNs, "aa03"))
	for i := range writers {
		alias, tag := fmt.Sprint("u", i), fmt.Sprint("t", i)
		var want []events.Target
		if rec.Alias == alias {
			want = dev
		}
		if got := resolve(t, e.reg, events.Targets{Alias: alias}, 10); !equalTargets(got, want) {
			t.Errorf("alias %s resolves to %v, want %v (record alias %s)", alias, got, want, rec.Alias)
		}
		if got := resolve(t, e.reg, events.Targets{Tag: tag}, 10); !equalTargets(got, want) {
			t.Errorf("tag %s resolves to %v, want %v (record tags %v)", tag, got, want, rec.Tags)
		}
	}
	if got := resolve(t, e.reg, events.Targets{Tag: "all"}, 10); !equalTargets(got, dev) {
		t.Errorf("shared tag resolves to %v", got)
	}
}

func TestTokenReplacedMovesMembership(t *testing.T) {
	e := newEnv(t, jetstream.MemoryStorage)
	ctx := ctxT(t)
	register(t, e.reg, tokens.Device{Platform: events.FCM, Token: "old:1", Alias: "u9", Tags: []string{"news", "sports"}, Locale: "fr"})
	register(t, e.reg, tokens.Device{Platform: events.APNs, Token: "bb01", Alias: "u9", Tags: []string{"news"}})
	ch, err := e.reg.Store().Apply(ctx, &events.Feedback{App: app, Platform: events.FCM, Token: "old:1",
		Outcome: events.TokenReplaced, NewToken: "new:1", At: time.Now()})
	if err != nil || ch != tokens.Replaced {
		t.Fatalf("apply token_replaced: %v %v", ch, err)
	}
	want := targets(tg(events.FCM, "new:1"), tg(events.APNs, "bb01"))
	if got := resolve(t, e.reg, events.Targets{Alias: "u9"}, 10); !equalTargets(got, want) {
		t.Errorf("alias resolves to %v, want %v", got, want)
	}
	if got := resolve(t, e.reg, events.Targets{Tag: "news"}, 10); !equalTargets(got, want) {
		t.Errorf("tag news resolves to %v, want %v", got, want)
	}
	if got := resolve(t, e.reg, events.Targets{Tag: "sports"}, 10); !equalTargets(got, targets(tg(events.FCM, "new:1"))) {
		t.Errorf("tag sports resolves to %v", got)
	}
	old, _ := e.reg.Get(ctx, app, events.FCM, "old:1")
	nw, _ := e.reg.Get(ctx, app, events.FCM, "new:1")
	if old.State != tokens.Retired || old.ReplacedBy != "new:1" || nw.State != tokens.Active || nw.Locale != "fr" {
		t.Fatalf("old %+v new %+v", old, nw)
	}
}

// A replaced token without alias or tags still hands its registration on.
func TestTokenReplacedRecordsNewTokenWithoutAlias(t *testing.T) {
	e := newEnv(t, jetstream.MemoryStorage)
	ctx := ctxT(t)
	register(t, e.reg, tokens.Device{Platform: events.APNs, Token: "cc01", Locale: "it"})
	if _, err := e.reg.Store().Apply(ctx, &events.Feedback{App: app, Platform: events.APNs, Token: "cc01",
		Outcome: events.TokenReplaced, NewToken: "cc02", At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	nw, err := e.reg.Get(ctx, app, events.APNs, "cc02")
	if err != nil || nw.State != tokens.Active || nw.Locale != "it" {
		t.Fatalf("new token record %+v, %v", nw, err)
	}
}
