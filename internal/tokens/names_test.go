package tokens_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pushfleet/pushfleet/internal/tokens"
	"github.com/pushfleet/pushfleet/pkg/events"
)

// bucketSeq is the last sequence of the bucket's stream: it moves with
// every write.
func bucketSeq(t *testing.T, e *env) uint64 {
	t.Helper()
	s, err := e.js.Stream(ctxT(t), "KV_"+events.TokensBucket)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	return info.State.LastSeq
}

// An app value containing dots made a record key look like an alias index
// entry (<app>.alias.<label>.<platform>.<token>): the feedback-sink then
// wrote a phantom alias member whose value, the record's JSON, the
// dispatcher sent to APNs as a token. Every entry point now refuses it.
func TestDottedAppCannotInjectAnAliasMember(t *testing.T) {
	e := newEnv(t, jetstream.MemoryStorage)
	ctx := ctxT(t)
	register(t, e.reg, tokens.Device{Platform: events.APNs, Token: "aa01", Alias: "u1"})
	phantom := app + ".alias." + tokens.TokenKey("u1")
	before := bucketSeq(t, e)
	for _, f := range []*events.Feedback{
		{App: phantom, Platform: events.APNs, Token: "x", Outcome: events.InvalidToken, At: time.Now()},
		{App: phantom, Platform: events.APNs, Token: "x", Outcome: events.TokenReplaced, NewToken: "y", At: time.Now()},
	} {
		if _, err := e.reg.Store().Apply(ctx, f); !errors.Is(err, tokens.ErrInvalidDevice) || !strings.Contains(err.Error(), "app") {
			t.Errorf("apply %s with app %q: %v, want ErrInvalidDevice naming the app", f.Outcome, f.App, err)
		}
	}
	if err := e.reg.Store().TouchSuccess(ctx, phantom, events.APNs, "x", time.Now()); !errors.Is(err, tokens.ErrInvalidDevice) {
		t.Errorf("touch success with app %q: %v, want ErrInvalidDevice", phantom, err)
	}
	if _, err := e.reg.Store().Update(ctx, phantom, events.APNs, "x", func(*tokens.Record) bool { return true }); !errors.Is(err, tokens.ErrInvalidDevice) {
		t.Errorf("update with app %q: %v, want ErrInvalidDevice", phantom, err)
	}
	if after := bucketSeq(t, e); after != before {
		t.Fatalf("the bucket was written (sequence %d → %d)", before, after)
	}
	if got := resolve(t, e.reg, events.Targets{Alias: "u1"}, 10); !equalTargets(got, targets(tg(events.APNs, "aa01"))) {
		t.Fatalf("alias u1 resolves to %v, want only aa01", got)
	}
}

// No key is built from a name that is not a key token, at any entry point
// of the store and the registry: apps with '.', '*', '>', white space or
// control characters; tokens, aliases and tags with white space or control
// characters; tokens with commas (MiPush joins regids with them).
func TestEveryEntryPointRefusesBadNames(t *testing.T) {
	e := newEnv(t, jetstream.MemoryStorage)
	register(t, e.reg, tokens.Device{Platform: events.Mi, Token: "m1", Alias: "u1", Tags: []string{"t1"}})
	store := e.reg.Store()
	type call func(ctx context.Context) error
	apply := func(f events.Feedback) call {
		return func(ctx context.Context) error {
			f.At = time.Now()
			_, err := store.Apply(ctx, &f)
			return err
		}
	}
	var calls = map[string]func(app string, p events.Platform, token string) call{
		"Store.Get": func(a string, p events.Platform, tok string) call {
			return func(ctx context.Context) error { _, _, err := store.Get(ctx, a, p, tok); return err }
		},
		"Store.Update": func(a string, p events.Platform, tok string) call {
			return func(ctx context.Context) error {
				_, err := store.Update(ctx, a, p, tok, func(*tokens.Record) bool { return true })
				return err
			}
		},
		"Store.TouchSuccess": func(a string, p events.Platform, tok string) call {
			return func(ctx context.Context) error { return store.TouchSuccess(ctx, a, p, tok, time.Now()) }
		},
		"Store.Apply invalid_token": func(a string, p events.Platform, tok string) call {
			return apply(events.Feedback{App: a, Platform: p, Token: tok, Outcome: events.InvalidToken})
		},
		"Registry.Register": func(a string, p events.Platform, tok string) call {
			return func(ctx context.Context) error {
				_, err := e.reg.Register(ctx, tokens.Device{App: a, Platform: p, Token: tok, Alias: "u1"})
				return err
			}
		},
		"Registry.Get": func(a string, p events.Platform, tok string) call {
			return func(ctx context.Context) error { _, err := e.reg.Get(ctx, a, p, tok); return err }
		},
		"Registry.Unregister": func(a string, p events.Platform, tok string) call {
			return func(ctx context.Context) error { return e.reg.Unregister(ctx, a, p, tok) }
		},
		"Registry.UpdateTags": func(a string, p events.Platform, tok string) call {
			return func(ctx context.Context) error {
				_, err := e.reg.UpdateTags(ctx, a, p, tok, []string{"x"}, nil)
				return err
			}
		},
	}
	names := []struct {
		name, app, token, field string
	}{
		{"app with a dot", "demo.alias." + tokens.TokenKey("u1"), "m1", "app"},
		{"app with *", "de*mo", "m1", "app"},
		{"app with >", "demo>", "m1", "app"},
		{"app with a space", "de mo", "m1", "app"},
		{"app with a control character", "de\x00mo", "m1", "app"},
		{"empty app", "", "m1", "app"},
		{"token with a space", app, "m 1", "token"},
		{"token with a control character", app, "m\x001", "token"},
		{"token with a comma", app, "m1,m2", "token"},
		{"token not UTF-8", app, "m\xff1", "token"},
		{"empty token", app, "", "token"},
	}
	before := bucketSeq(t, e)
	for entry, mk := range calls {
		for _, n := range names {
			t.Run(entry+"/"+n.name, func(t *testing.T) {
				err := mk(n.app, events.Mi, n.token)(ctxT(t))
				if !errors.Is(err, tokens.ErrInvalidDevice) || !strings.Contains(err.Error(), n.field) {
					t.Fatalf("%v, want ErrInvalidDevice naming %s", err, n.field)
				}
			})
		}
	}
	labels := []struct {
		name string
		do   call
	}{
		{"replacement token with a space", apply(events.Feedback{App: app, Platform: events.Mi, Token: "m1", Outcome: events.TokenReplaced, NewToken: "m 2"})},
		{"replacement token with a comma", apply(events.Feedback{App: app, Platform: events.Mi, Token: "m1", Outcome: events.TokenReplaced, NewToken: "m2,m3"})},
		{"alias with a control character", func(ctx context.Context) error {
			_, err := e.reg.Register(ctx, tokens.Device{App: app, Platform: events.Mi, Token: "m1", Alias: "u\x011"})
			return err
		}},
		{"tag with a control character", func(ctx context.Context) error {
			_, err := e.reg.UpdateTags(ctx, app, events.Mi, "m1", []string{"t\x7f"}, nil)
			return err
		}},
		{"list an alias with a control character", func(ctx context.Context) error {
			_, err := e.reg.ListAlias(ctx, app, "u\x001", tokens.Page{})
			return err
		}},
		{"list under a dotted app", func(ctx context.Context) error {
			_, err := e.reg.ListTag(ctx, "demo.tag", "t1", tokens.Page{})
			return err
		}},
	}
	for _, l := range labels {
		t.Run(l.name, func(t *testing.T) {
			if err := l.do(ctxT(t)); !errors.Is(err, tokens.ErrInvalidDevice) {
				t.Fatalf("%v, want ErrInvalidDevice", err)
			}
		})
	}
	if after := bucketSeq(t, e); after != before {
		t.Fatalf("a refused call wrote the bucket (sequence %d → %d)", before, after)
	}
	r, err := e.reg.Get(ctxT(t), app, events.Mi, "m1")
	if err != nil || r.State != tokens.Active || r.Alias != "u1" || len(r.Tags) != 1 {
		t.Fatalf("device after refused calls: %+v, %v", r, err)
	}
}
