package registryapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/pkg/events"
	"github.com/pushfleet/pushfleet/pkg/registryapi"
)

// The client sends each verb to push.registry.<verb>.<app> and turns error
// answers into *Error matching the sentinels, for a stub service.
func TestClientAgainstAStubService(t *testing.T) {
	srv := natstest.RunServer(t)
	nc, _ := natstest.Connect(t, srv)
	answers := map[string]func(micro.Request){
		"get.shop": func(r micro.Request) {
			_ = r.Error(registryapi.CodeNotFound, "no record for this token", registryapi.ErrorBody(registryapi.CodeNotFound, "no record for this token"))
		},
		"register.shop": func(r micro.Request) {
			var req registryapi.RegisterRequest
			_ = json.Unmarshal(r.Data(), &req)
			_ = r.RespondJSON(registryapi.DeviceResponse{Device: registryapi.Device{DeviceRef: req.DeviceRef, State: registryapi.StateActive}})
		},
		"update-tags.shop": func(r micro.Request) { _ = r.Error(registryapi.CodeConflict, "retry", nil) },
		"stats-all":        func(r micro.Request) { _ = r.Error(registryapi.CodeInternal, "internal error", nil) },
	}
	svc, err := micro.AddService(nc, micro.Config{Name: "stub", Version: "0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Stop()
	for subj, h := range answers {
		if err := svc.AddEndpoint(strings.ReplaceAll(subj, ".", "_"), micro.HandlerFunc(h),
			micro.WithEndpointSubject(registryapi.SubjectPrefix+"."+subj)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl := registryapi.NewClient(nc)
	ref := registryapi.DeviceRef{App: "shop", Platform: events.APNs, Token: "ab01"}

	d, err := cl.Register(ctx, registryapi.RegisterRequest{DeviceRef: ref})
	if err != nil || d.Token != "ab01" || d.State != registryapi.StateActive {
		t.Fatalf("register: %+v %v", d, err)
	}
	tests := []struct {
		name     string
		call     func() error
		sentinel error
		want     string
	}{
		{"404", func() error { _, err := cl.Get(ctx, ref); return err }, registryapi.ErrNotFound, "registry: 404 not found: no record for this token"},
		{"409", func() error { _, err := cl.UpdateTags(ctx, registryapi.UpdateTagsRequest{DeviceRef: ref}); return err }, registryapi.ErrConflict, "409 conflict"},
		{"500", func() error { _, err := cl.Stats(ctx, registryapi.StatsRequest{}); return err }, registryapi.ErrServer, "500 internal error"},
		{"bad app, refused locally", func() error { _, err := cl.Get(ctx, registryapi.DeviceRef{App: "a.b"}); return err }, registryapi.ErrBadRequest, "400 bad request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var rerr *registryapi.Error
			if !errors.Is(err, tt.sentinel) || !errors.As(err, &rerr) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want %v naming %q", err, tt.sentinel, tt.want)
			}
		})
	}
}

func TestSubjects(t *testing.T) {
	tests := []struct {
		subject, verb, app string
		ok                 bool
	}{
		{"push.registry.get.shop", "get", "shop", true},
		{"push.registry.list-by-tag.my_app-2", "list-by-tag", "my_app-2", true},
		{"push.registry.stats-all", "", "", false},
		{"push.registry.get.a.b", "", "", false},
		{"push.other.get.shop", "", "", false},
	}
	for _, tt := range tests {
		verb, app, ok := registryapi.SubjectApp(tt.subject)
		if verb != tt.verb || app != tt.app || ok != tt.ok {
			t.Errorf("SubjectApp(%q) = %q %q %v", tt.subject, verb, app, ok)
		}
		if tt.ok && registryapi.Subject(verb, app) != tt.subject {
			t.Errorf("Subject(%q, %q) = %q", verb, app, registryapi.Subject(verb, app))
		}
	}
	if registryapi.Subject(registryapi.VerbStatsAll, "x") != "push.registry.stats-all" {
		t.Error("stats-all subject")
	}
}
