package fcm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"firebase.google.com/go/v4/messaging"
	"golang.org/x/oauth2"
	"google.golang.org/api/option"

	"github.com/pushfleet/pushfleet/pkg/provider"
)

// app is one configured app: its SDK client, credentials and project gate.
// An app is immutable once published; UpdateApps replaces it whole.
type app struct {
	name   string
	conf   AppConfig
	sa     *serviceAccount
	creds  *credentials
	client *messaging.Client
	gate   *projectGate
}

// buildApp makes the app's OAuth client and messaging client. Auth is done
// by an oauth2 transport over the shared base transport: the SDK adds no
// auth to a client given with option.WithHTTPClient, and building our own
// is what lets RootCAs apply to both FCM and the token endpoint.
func (s *Sender) buildApp(name string, conf AppConfig, sa *serviceAccount) (*app, error) {
	creds, err := newCredentials(sa, s.tokenClient)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	hc := &http.Client{Transport: &oauth2.Transport{Base: inFlight{base: s.transport, m: s.cfg.Metrics}, Source: creds}}
	client, err := newMessagingClient(context.Background(), messaging.NewClient, conf.ProjectID,
		option.WithHTTPClient(hc), option.WithEndpoint(s.cfg.Endpoint))
	if err != nil {
		return nil, fmt.Errorf("messaging client: %w", err)
	}
	return &app{name: name, conf: conf, sa: sa, creds: creds, client: client}, nil
}

// UpdateApps replaces the configured apps without a restart. Apps whose
// configuration and key are unchanged keep their client and cached access
// token; changed ones get new ones; missing ones are removed. Connections
// are shared by all apps and are never dropped. On error nothing changes.
func (s *Sender) UpdateApps(apps map[string]AppConfig) error {
	s.updateMu.Lock()
	defer s.updateMu.Unlock()
	old := s.snapshot()
	next := make(map[string]*app, len(apps))
	var errs []error
	var added, rotated []string
	for _, name := range sortedKeys(apps) {
		conf := apps[name]
		if name == "" {
			errs = append(errs, errors.New("fcm: an app has an empty name"))
			continue
		}
		sa, err := conf.load()
		if err != nil {
			errs = append(errs, fmt.Errorf("fcm: app %q: %w", name, err))
			continue
		}
		if prev := old[name]; prev != nil && prev.conf.ProjectID == conf.ProjectID && bytes.Equal(prev.sa.raw, sa.raw) {
			if prev.conf != conf { // only the rate changed: keep client and token
				kept := *prev
				kept.conf = conf
				prev = &kept
			}
			next[name] = prev
			continue
		}
		a, err := s.buildApp(name, conf, sa)
		if err != nil {
			errs = append(errs, fmt.Errorf("fcm: app %q: %w", name, err))
			continue
		}
		if old[name] != nil {
			rotated = append(rotated, name)
		} else {
			added = append(added, name)
		}
		next[name] = a
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	s.assignGates(next)
	s.apps.Store(&next)
	provider.LogAppsUpdated(s.log, "fcm", added, rotated, old, next)
	return nil
}

// assignGates gives every app its project's gate, creating gates for new
// projects, applying rate changes and forgetting projects no longer used.
// Gates outlive app rotations, so a held project stays held.
func (s *Sender) assignGates(apps map[string]*app) {
	rates := map[string]int{}
	for _, a := range apps {
		r, seen := rates[a.conf.ProjectID]
		if n := a.conf.RatePerMinute; n > 0 && (!seen || r == 0 || n < r) {
			r = n
		}
		rates[a.conf.ProjectID] = r
	}
	now := time.Now()
	for project, r := range rates {
		if r == 0 {
			r = s.cfg.RatePerMinute
		}
		g := s.gates[project]
		switch {
		case g == nil:
			s.gates[project] = newProjectGate(r, now)
		case s.gateRates[project] != r:
			g.setRate(r)
		}
		s.gateRates[project] = r
	}
	for project := range s.gates {
		if _, used := rates[project]; !used {
			delete(s.gates, project)
			delete(s.gateRates, project)
		}
	}
	for _, a := range apps {
		if a.gate == nil { // only new apps: published ones are read concurrently
			a.gate = s.gates[a.conf.ProjectID]
		}
	}
}

// snapshot is the current app set; callers must not modify it.
func (s *Sender) snapshot() map[string]*app {
	if m := s.apps.Load(); m != nil {
		return *m
	}
	return nil
}
