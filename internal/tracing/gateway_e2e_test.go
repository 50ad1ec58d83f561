package tracing_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/pushfleet/pushfleet/internal/gateway"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/internal/tracing"
)

const gatewayKey = "e2e-key-0123456789abcdef0123456789abcdef"

// startGateway serves the HTTP gateway over f's server, one key for shop.
func startGateway(t *testing.T, f *fleet) string {
	t.Helper()
	keys := filepath.Join(t.TempDir(), "keys.yaml")
	yaml := "keys:\n  - name: e2e\n    sha256: " + gateway.HashKey(gatewayKey) + "\n    apps: [shop]\n"
	if err := os.WriteFile(keys, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(gateway.Config{KeysFile: keys, Timeout: 10 * time.Second}, gateway.Deps{JS: f.js})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

// postIntent POSTs an intent for two FCM tokens with id, and traceparent
// tp when not empty.
func postIntent(t *testing.T, url, id, tp string) {
	t.Helper()
	body := `{"id":"` + id + `","app":"shop","notification":{"title":"t","body":"b"},` +
		`"targets":{"tokens":[{"platform":"fcm","token":"tok-secret-1"},{"platform":"fcm","token":"tok-secret-2"}]}}`
	req, err := http.NewRequest(http.MethodPost, url+"/v1/intents", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+gatewayKey)
	if tp != "" {
		req.Header.Set(tracing.HeaderTraceparent, tp)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST /v1/intents: status %d", resp.StatusCode)
	}
}

// gatewaySpan is the one server span of intent id.
func gatewaySpan(t *testing.T, f *fleet, id string) tracetest.SpanStub {
	t.Helper()
	var found []tracetest.SpanStub
	for _, s := range f.exp.GetSpans() {
		if s.SpanKind != trace.SpanKindServer {
			continue
		}
		for _, a := range s.Attributes {
			if string(a.Key) == tracing.AttrIntentID && a.Value.AsString() == id {
				found = append(found, s)
			}
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d gateway spans of intent %s, want 1", len(found), id)
	}
	return found[0]
}

// One trace from an HTTP request to the gateway to the feedback: the
// gateway's server span is a child of the caller's, the dispatch span a
// child of the gateway's, then the send and sink spans as for any intent,
// and every feedback event's header names the caller's trace.
func TestTraceHTTPRequestToFeedback(t *testing.T) {
	for _, tc := range []struct {
		name, id, traceparent string
	}{
		{"caller's trace", "http-traced", parentTraceparent},
		{"started at the gateway", "http-new", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := startFleet(t, false)
			url := startGateway(t, f)
			id := tc.id
			postIntent(t, url, id, tc.traceparent)
			byName := f.spans(t, id, 1, 1) // one feedback message for both tokens
			gw := gatewaySpan(t, f, id)
			dsp, snd := byName[tracing.SpanDispatch][0], byName[tracing.SpanSend][0]

			root := gw.SpanContext.TraceID().String()
			if tc.traceparent != "" {
				if root != parentTraceID || gw.Parent.SpanID().String() != parentSpanID || !gw.Parent.IsRemote() {
					t.Fatalf("gateway span in trace %s under %s, want the caller's %s under %s",
						root, gw.Parent.SpanID(), parentTraceID, parentSpanID)
				}
			} else if gw.Parent.IsValid() {
				t.Fatalf("gateway span has parent %v, want a root", gw.Parent)
			}
			if gw.Name != "POST /v1/intents" {
				t.Errorf("gateway span %q", gw.Name)
			}
			if dsp.Parent.SpanID() != gw.SpanContext.SpanID() || !dsp.Parent.IsRemote() {
				t.Errorf("dispatch span's parent %s, want the gateway span %s (over NATS)", dsp.Parent.SpanID(), gw.SpanContext.SpanID())
			}
			if snd.Parent.SpanID() != dsp.SpanContext.SpanID() {
				t.Errorf("send span's parent %s, want the dispatch span %s", snd.Parent.SpanID(), dsp.SpanContext.SpanID())
			}
			for _, s := range byName[tracing.SpanSink] {
				if s.Parent.SpanID() != snd.SpanContext.SpanID() {
					t.Errorf("sink span's parent %s, want the send span %s", s.Parent.SpanID(), snd.SpanContext.SpanID())
				}
			}
			for name, ss := range byName {
				for _, s := range ss {
					if got := s.SpanContext.TraceID().String(); got != root {
						t.Errorf("%s span in trace %s, want the gateway's %s", name, got, root)
					}
				}
			}
			var ids []string
			natstest.Eventually(t, 10*time.Second, func() bool {
				ids = f.feedbackTraceIDs(t, id)
				return len(ids) == 2
			}, "two feedback events of %s", id)
			for _, got := range ids {
				if got != root {
					t.Errorf("feedback header trace id %q, want %s", got, root)
				}
			}
		})
	}
}
