package gateway_test

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/internal/gateway"
	"github.com/pushfleet/pushfleet/internal/natstest"
	"github.com/pushfleet/pushfleet/pkg/events"
)

func TestNativeIntentIsStoredWithSubjectAndMsgID(t *testing.T) {
	h := newHarness(t, nil)
	r := h.do("POST", "/v1/intents", keyShop, intent("order-1", "shop"))
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var resp gateway.IntentsResponse
	r.json(t, &resp)
	if resp.ID != "order-1" || resp.Duplicate == nil || *resp.Duplicate || resp.Published != 1 || len(resp.Intents) != 1 {
		t.Fatalf("response %+v", resp)
	}
	x := resp.Intents[0]
	if x.Stream != events.StreamIntents || x.Seq == 0 || x.Status != 200 {
		t.Fatalf("result %+v", x)
	}
	m := h.stored(x.Seq)
	if m.Subject != "push.intents.shop" {
		t.Errorf("subject %q, want push.intents.shop", m.Subject)
	}
	if got := m.Header.Get("Nats-Msg-Id"); got != "shop:order-1" {
		t.Errorf("Nats-Msg-Id %q, want shop:order-1", got)
	}
	in, err := events.DecodeIntent(m.Data, events.Limits{})
	if err != nil {
		t.Fatalf("stored intent: %v", err)
	}
	if in.ID != "order-1" || in.App != "shop" || in.Notification.Title != "Hello" {
		t.Errorf("stored intent %+v", in)
	}
	if got := h.series(t)[`pushfleet_gateway_intents_total{app="shop",result="published"}`]; got != 1 {
		t.Errorf("pushfleet_gateway_intents_total{app=shop,result=published} = %v, want 1", got)
	}
}

func TestDuplicatesAndIdempotencyKey(t *testing.T) {
	h := newHarness(t, nil)
	first := h.do("POST", "/v1/intents", keyShop, intent("dup-1", "shop"))
	second := h.do("POST", "/v1/intents", keyShop, intent("dup-1", "shop"))
	var a, b gateway.IntentsResponse
	first.json(t, &a)
	second.json(t, &b)
	if first.status != 200 || second.status != 200 || *a.Duplicate || !*b.Duplicate || b.Dupes != 1 || b.Published != 0 {
		t.Fatalf("first %d %s, second %d %s", first.status, first.body, second.status, second.body)
	}
	if a.Intents[0].Seq != b.Intents[0].Seq {
		t.Errorf("duplicate names seq %d, the first copy is %d", b.Intents[0].Seq, a.Intents[0].Seq)
	}
	// The same id in another app is its own intent.
	other := h.do("POST", "/v1/intents", keyMulti, intent("dup-1", "demo"))
	var c gateway.IntentsResponse
	other.json(t, &c)
	if other.status != 200 || *c.Duplicate {
		t.Fatalf("other app: %d %s", other.status, other.body)
	}

	// No id in the body: the Idempotency-Key is the id.
	r1 := h.do("POST", "/v1/intents", keyShop, intent("", "shop"), "Idempotency-Key", "req-42")
	r2 := h.do("POST", "/v1/intents", keyShop, intent("", "shop"), "Idempotency-Key", "req-42")
	var i1, i2 gateway.IntentsResponse
	r1.json(t, &i1)
	r2.json(t, &i2)
	if i1.ID != "req-42" || *i1.Duplicate || i2.ID != "req-42" || !*i2.Duplicate {
		t.Fatalf("idempotency key: %s / %s", r1.body, r2.body)
	}
	if got := h.stored(i1.Intents[0].Seq).Header.Get("Nats-Msg-Id"); got != "shop:req-42" {
		t.Errorf("Nats-Msg-Id %q", got)
	}
	// In a batch, "<key>:<index>".
	rb := h.do("POST", "/v1/intents", keyShop, []any{intent("", "shop"), intent("own-id", "shop")}, "Idempotency-Key", "batch-7")
	var ib gateway.IntentsResponse
	rb.json(t, &ib)
	if rb.status != 200 || ib.Intents[0].ID != "batch-7:0" || ib.Intents[1].ID != "own-id" {
		t.Fatalf("batch ids: %s", rb.body)
	}
	// An id from neither is random, and returned.
	rr := h.do("POST", "/v1/intents", keyShop, intent("", "shop"))
	var ir gateway.IntentsResponse
	rr.json(t, &ir)
	if rr.status != 200 || !strings.HasPrefix(ir.ID, "gw-") {
		t.Fatalf("random id: %s", rr.body)
	}
	// A key that cannot be an id is refused, naming the header.
	bad := h.do("POST", "/v1/intents", keyShop, intent("", "shop"), "Idempotency-Key", "has space")
	if p := bad.problem(t); bad.status != 422 || p.Field != "Idempotency-Key" {
		t.Fatalf("bad idempotency key: %d %s", bad.status, bad.body)
	}
}

func TestBatch(t *testing.T) {
	h := newHarness(t, func(c *gateway.Config) { c.MaxBatch = 3 })
	r := h.do("POST", "/v1/intents", keyMulti, []any{intent("b1", "shop"), intent("b2", "demo")})
	var resp gateway.IntentsResponse
	r.json(t, &resp)
	if r.status != 200 || resp.Published != 2 || resp.ID != "" {
		t.Fatalf("batch: %d %s", r.status, r.body)
	}
	if h.stored(resp.Intents[1].Seq).Subject != "push.intents.demo" {
		t.Error("second intent not on push.intents.demo")
	}
	before := h.count()
	// One invalid intent refuses the whole batch, naming its index and field.
	bad := intent("b4", "shop")
	bad["targets"] = map[string]any{}
	r = h.do("POST", "/v1/intents", keyShop, []any{intent("b3", "shop"), bad})
	p := r.problem(t)
	if r.status != 422 || len(p.Errors) != 1 || p.Errors[0].Index != 1 || p.Errors[0].Field != "targets" {
		t.Fatalf("invalid batch: %d %s", r.status, r.body)
	}
	if h.count() != before {
		t.Error("an invalid batch published something")
	}
	// Bounded count; an empty batch.
	r = h.do("POST", "/v1/intents", keyShop, []any{intent("c1", "shop"), intent("c2", "shop"), intent("c3", "shop"), intent("c4", "shop")})
	if p := r.problem(t); r.status != 422 || p.Field != "(batch)" || !strings.Contains(p.Detail, "limit of 3") {
		t.Fatalf("over the batch limit: %d %s", r.status, r.body)
	}
	r = h.do("POST", "/v1/intents", keyShop, "[]")
	if r.status != 422 {
		t.Fatalf("empty batch: %d %s", r.status, r.body)
	}
}

func TestInvalidIntent422NamesTheField(t *testing.T) {
	h := newHarness(t, nil)
	cases := []struct {
		name  string
		body  any
		field string
	}{
		{"no targets", func() any { in := intent("x1", "shop"); delete(in, "targets"); return in }(), "targets"},
		{"unknown platform", func() any {
			in := intent("x2", "shop")
			in["targets"] = map[string]any{"tokens": []any{map[string]any{"platform": "blackberry", "token": "t"}}}
			return in
		}(), "targets.tokens[0].platform"},
		{"bad id", intent("has space", "shop"), "id"},
		{"empty notification", func() any { in := intent("x3", "shop"); in["notification"] = map[string]any{}; return in }(), "notification"},
		{"typo in notification", func() any {
			in := intent("x4", "shop")
			in["notification"] = map[string]any{"tittle": "x"}
			return in
		}(), "tittle"},
		{"expired", func() any {
			in := intent("x5", "shop")
			in["notification"] = map[string]any{"title": "a", "expiry": "2001-01-01T00:00:00Z"}
			return in
		}(), "notification.expiry"},
		{"wrong type", func() any { in := intent("x6", "shop"); in["notification"] = map[string]any{"badge": "one"}; return in }(), "notification.badge"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do("POST", "/v1/intents", keyShop, tc.body)
			p := r.problem(t)
			if r.status != 422 || p.Field != tc.field {
				t.Fatalf("status %d field %q, want 422 %q: %s", r.status, p.Field, tc.field, r.body)
			}
		})
	}
	if h.count() != 0 {
		t.Errorf("%d intents stored, want none", h.count())
	}
	r := h.do("POST", "/v1/intents", keyShop, "{not json")
	if r.problem(t); r.status != 400 {
		t.Fatalf("malformed: %d", r.status)
	}
	r = h.do("POST", "/v1/intents", keyShop, "x", "Content-Type", "text/plain")
	if r.problem(t); r.status != http.StatusUnsupportedMediaType {
		t.Fatalf("text/plain: %d", r.status)
	}
}

func TestAuth401And403(t *testing.T) {
	h := newHarness(t, nil)
	r := h.do("POST", "/v1/intents", "", intent("a1", "shop"))
	p := r.problem(t)
	if r.status != 401 || !strings.Contains(p.Detail, "Bearer") || r.header.Get("WWW-Authenticate") == "" {
		t.Fatalf("no key: %d %s", r.status, r.body)
	}
	r = h.do("POST", "/v1/intents", "not-a-key", intent("a1", "shop"))
	if p := r.problem(t); r.status != 401 || !strings.Contains(p.Detail, "unknown API key") {
		t.Fatalf("unknown key: %d %s", r.status, r.body)
	}
	r = h.do("POST", "/v1/intents", "", intent("a1", "shop"), "Authorization", "Basic dXNlcjpwYXNz")
	if r.problem(t); r.status != 401 {
		t.Fatalf("basic auth: %d", r.status)
	}
	r = h.do("POST", "/v1/intents", keyShop, intent("a1", "demo"))
	p = r.problem(t)
	if r.status != 403 || p.Field != "app" || !strings.Contains(p.Detail, `"shop-backend"`) || !strings.Contains(p.Detail, `"demo"`) {
		t.Fatalf("other app: %d %s", r.status, r.body)
	}
	// One forbidden intent refuses a batch whole.
	r = h.do("POST", "/v1/intents", keyShop, []any{intent("a2", "shop"), intent("a3", "demo")})
	if p := r.problem(t); r.status != 403 || p.Index == nil || *p.Index != 1 {
		t.Fatalf("batch with another app: %d %s", r.status, r.body)
	}
	// gorush: the key's only app, ?app= or the header.
	r = h.do("POST", "/api/push?app=demo", keyShop, `{"notifications":[{"tokens":["t"],"platform":2,"message":"m"}]}`)
	if r.problem(t); r.status != 403 {
		t.Fatalf("gorush other app: %d %s", r.status, r.body)
	}
	r = h.do("POST", "/api/push", keyMulti, `{"notifications":[{"tokens":["t"],"platform":2,"message":"m"}]}`)
	if p := r.problem(t); r.status != 400 || p.Field != "app" {
		t.Fatalf("gorush, several apps, none named: %d %s", r.status, r.body)
	}
	r = h.do("POST", "/api/push", keyMulti, `{"notifications":[{"tokens":["t"],"platform":2,"message":"m"}]}`, "X-Pushfleet-App", "demo")
	if r.status != 200 {
		t.Fatalf("gorush with X-Pushfleet-App: %d %s", r.status, r.body)
	}
	r = h.do("POST", "/api/push?app=anything", keyAll, `{"notifications":[{"tokens":["t"],"platform":2,"message":"m"}]}`)
	if r.status != 200 {
		t.Fatalf("\"*\" key: %d %s", r.status, r.body)
	}
	// Open routes.
	if r := h.do("GET", "/healthz", "", nil); r.status != 200 || string(r.body) != "ok\n" {
		t.Fatalf("/healthz: %d %q", r.status, r.body)
	}
	if r := h.do("GET", "/api/stat/app", "", nil); r.status != 401 {
		t.Fatalf("/api/stat/app without a key: %d", r.status)
	}
}

func TestKeyRotationWithoutRestart(t *testing.T) {
	h := newHarness(t, nil)
	const newKey = "rotated-shop-key-99aa88bb77cc66dd55ee44ff"
	if r := h.do("POST", "/v1/intents", newKey, intent("r1", "shop")); r.status != 401 {
		t.Fatalf("new key before rotation: %d", r.status)
	}
	// Step 1: both keys valid.
	writeFile(t, h.keysPath, defaultKeys()+keyEntry("shop-backend-2", newKey, "[shop]", ""))
	natstest.Eventually(t, 5*time.Second, func() bool {
		return h.do("POST", "/v1/intents", newKey, intent("r1", "shop")).status == 200
	}, "new key accepted")
	if r := h.do("POST", "/v1/intents", keyShop, intent("r2", "shop")); r.status != 200 {
		t.Fatalf("old key during the overlap: %d", r.status)
	}
	// Step 2: the old key revoked.
	writeFile(t, h.keysPath, keysYAML(keyEntry("shop-backend-2", newKey, "[shop]", "")))
	natstest.Eventually(t, 5*time.Second, func() bool {
		return h.do("POST", "/v1/intents", keyShop, intent("r3", "shop")).status == 401
	}, "old key revoked")
	if r := h.do("POST", "/v1/intents", newKey, intent("r4", "shop")); r.status != 200 {
		t.Fatalf("new key after revocation: %d", r.status)
	}
	// A broken file keeps the running keys.
	writeFile(t, h.keysPath, "keys: [{name: x, sha256: nothex, apps: [shop]}]")
	time.Sleep(200 * time.Millisecond)
	if r := h.do("POST", "/v1/intents", newKey, intent("r5", "shop")); r.status != 200 {
		t.Fatalf("after a broken keys file: %d", r.status)
	}
	if got := h.gauge(t, "pushfleet_gateway_keys_reloads_total"); got < 3 {
		t.Errorf("keys reloads counted %v, want at least 3", got)
	}
}

func TestRateLimit429WithRetryAfter(t *testing.T) {
	h := newHarness(t, nil)
	if r := h.do("POST", "/v1/intents", keyLimited, intent("l1", "shop")); r.status != 200 {
		t.Fatalf("first: %d %s", r.status, r.body)
	}
	r := h.do("POST", "/v1/intents", keyLimited, intent("l2", "shop"))
	p := r.problem(t)
	ra, err := strconv.Atoi(r.header.Get("Retry-After"))
	if r.status != 429 || err != nil || ra < 1 || p.RetryAfter != ra || !strings.Contains(p.Detail, `"limited"`) {
		t.Fatalf("second: %d Retry-After %q %s", r.status, r.header.Get("Retry-After"), r.body)
	}
	// Another key has its own bucket.
	if r := h.do("POST", "/v1/intents", keyShop, intent("l3", "shop")); r.status != 200 {
		t.Fatalf("other key: %d", r.status)
	}
}

func TestOversizeBody413(t *testing.T) {
	h := newHarness(t, func(c *gateway.Config) { c.MaxBody = 2048 })
	in := intent("big", "shop")
	in["notification"] = map[string]any{"title": "t", "body": strings.Repeat("x", 4096)}
	r := h.do("POST", "/v1/intents", keyShop, in)
	if p := r.problem(t); r.status != 413 || !strings.Contains(p.Detail, "2048") {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	r = h.do("POST", "/api/push", keyShop, `{"notifications":[{"tokens":["t"],"platform":2,"message":"`+strings.Repeat("x", 4096)+`"}]}`)
	if r.problem(t); r.status != 413 {
		t.Fatalf("gorush: %d", r.status)
	}
}

func TestHuaweiRejected(t *testing.T) {
	h := newHarness(t, nil)
	r := h.do("POST", "/api/push", keyShop, `{"notifications":[{"tokens":["hms-token"],"platform":3,"message":"Hello Huawei"}]}`)
	p := r.problem(t)
	if r.status != 422 || !strings.HasSuffix(p.Type, "#unsupported") || !strings.Contains(p.Detail, "HMS") || p.Field != "notifications[0].platform" {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	// gorush clients read message and code.
	var raw map[string]any
	r.json(t, &raw)
	if raw["message"] == "" || raw["code"] != float64(422) {
		t.Errorf("no gorush message/code: %s", r.body)
	}
	// Nothing of a request with a Huawei notification is published.
	r = h.do("POST", "/api/push", keyShop, `{"notifications":[{"tokens":["a"],"platform":2,"message":"m"},{"tokens":["b"],"platform":3,"message":"m"}]}`)
	if r.status != 422 || h.count() != 0 {
		t.Fatalf("mixed: %d, %d stored", r.status, h.count())
	}
	st := h.stat(t)
	if st.Huawei.PushError != 2 || st.Android.PushError != 1 {
		t.Errorf("stat %+v", st)
	}
}

func (h *harness) stat(t *testing.T) gateway.GorushStat {
	t.Helper()
	r := h.do("GET", "/api/stat/app", keyShop, nil)
	if r.status != 200 {
		t.Fatalf("/api/stat/app: %d %s", r.status, r.body)
	}
	var st gateway.GorushStat
	r.json(t, &st)
	return st
}

func TestNotFoundAndMethodProblems(t *testing.T) {
	h := newHarness(t, nil)
	r := h.do("GET", "/nope", "", nil)
	if r.problem(t); r.status != 404 {
		t.Fatalf("404: %d", r.status)
	}
	r = h.do("GET", "/v1/intents", keyShop, nil)
	if r.problem(t); r.status != 405 || r.header.Get("Allow") != "POST" {
		t.Fatalf("405: %d %v", r.status, r.header)
	}
}

func TestMetricsByRouteAndCode(t *testing.T) {
	h := newHarness(t, nil)
	h.do("POST", "/v1/intents", keyShop, intent("m1", "shop"))
	h.do("POST", "/v1/intents", "", intent("m2", "shop"))
	h.do("GET", "/nope", "", nil)
	want := map[string]float64{
		`pushfleet_gateway_requests_total{code="200",route="POST /v1/intents"}`:      1,
		`pushfleet_gateway_requests_total{code="401",route="POST /v1/intents"}`:      1,
		`pushfleet_gateway_requests_total{code="404",route="unmatched"}`:             1,
		`pushfleet_gateway_intents_total{app="shop",result="published"}`:             1,
		`pushfleet_gateway_request_duration_seconds_count{route="POST /v1/intents"}`: 2,
		`pushfleet_gateway_api_keys`:                                                 4,
	}
	got := h.series(t)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}

// series flattens the registry into "name{labels}" → value.
func (h *harness) series(t *testing.T) map[string]float64 {
	t.Helper()
	mfs, err := h.fleet.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+`="`+l.GetValue()+`"`)
			}
			name := mf.GetName()
			if len(labels) > 0 {
				name += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				out[name] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[name] = m.Gauge.GetValue()
			case m.Histogram != nil:
				out[strings.Replace(name, mf.GetName(), mf.GetName()+"_count", 1)] = float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return out
}

// gauge sums a metric's series.
func (h *harness) gauge(t *testing.T, name string) float64 {
	var sum float64
	for k, v := range h.series(t) {
		if k == name || strings.HasPrefix(k, name+"{") {
			sum += v
		}
	}
	return sum
}

func TestUnavailableWhenNATSIsDown(t *testing.T) {
	h := newHarness(t, func(c *gateway.Config) { c.Timeout = 500 * time.Millisecond })
	h.srv.Shutdown()
	natstest.Eventually(t, 5*time.Second, func() bool { return !h.nc.IsConnected() }, "disconnected")
	r := h.do("POST", "/v1/intents", keyShop, intent("down-1", "shop"))
	p := r.problem(t)
	if r.status != 503 && r.status != 504 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	if !strings.Contains(p.Detail, "retry") {
		t.Errorf("detail %q does not say to retry", p.Detail)
	}
}

func TestGracefulDrain(t *testing.T) {
	h := newHarness(t, func(c *gateway.Config) { c.ShutdownDelay = 200 * time.Millisecond })
	// A slow client: headers sent, the body still coming when SIGTERM lands.
	body := `{"id":"drain-1","app":"shop","targets":{"tokens":[{"platform":"fcm","token":"t"}]},"notification":{"title":"a"}}`
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", h.url+"/v1/intents", pr)
	req.Header.Set("Authorization", "Bearer "+keyShop)
	req.ContentLength = int64(len(body))
	type result struct {
		status int
		err    error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- result{err: err}
			return
		}
		resp.Body.Close()
		done <- result{status: resp.StatusCode}
	}()
	_, _ = pw.Write([]byte(body[:10]))
	time.Sleep(100 * time.Millisecond)
	h.cancel() // SIGTERM
	time.Sleep(300 * time.Millisecond)
	_, _ = pw.Write([]byte(body[10:]))
	pw.Close()
	res := <-done
	if res.err != nil || res.status != 200 {
		t.Fatalf("in-flight request: %+v", res)
	}
	select {
	case err := <-h.done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		h.done <- nil // for the cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after the drain")
	}
	if h.g.Ready() == nil {
		t.Error("still ready after the drain")
	}
	if _, err := http.Post(h.url+"/healthz", "", nil); err == nil {
		t.Error("the listener still accepts after the drain")
	}
	if h.count() != 1 {
		t.Errorf("%d stored, want the in-flight intent", h.count())
	}
}
