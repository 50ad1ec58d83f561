package mi

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
)

// FuzzClassifyAnswer feeds classifyAnswer any status, Retry-After and body
// a MiPush host (or a proxy in front of it) could answer. It must never
// panic, return exactly one of a response and an error, count as success
// only a 200 whose body says code 0, and classify every failure into a
// result kind with its provider sentinel and a wait that is not negative.
// Run with
//
//	go test -run '^$' -fuzz '^FuzzClassifyAnswer$' -fuzztime 60s ./pkg/provider/mi/
func FuzzClassifyAnswer(f *testing.F) {
	f.Add(200, "", []byte(`{"result":"ok","code":0,"description":"成功","info":"Received push messages for 1 REGID","trace_id":"Xlm1","data":{"id":"alm1"}}`))
	f.Add(200, "", []byte(`{"result":"ok","code":"0","data":{"id":1,"bad_regids":"r1, r2,,","day_quota":50000,"day_acked":"3"}}`))
	f.Add(200, "", []byte(`{"result":"ok","code":0,"data":{"bad_regids":["r1",""],"list":"a,b"}}`))
	f.Add(200, "", []byte(`{"result":"error","code":20301,"reason":"No valid targets!","description":"发送消息失败"}`))
	f.Add(200, "", []byte(`{"result":"error","code":21301,"reason":"Invalid application secret."}`))
	f.Add(200, "", []byte(`{"result":"error","code":10009,"reason":"system busy"}`))
	f.Add(200, "", []byte(`{"result":"error","code":10023}`))
	f.Add(200, "", []byte(`{"result":"error","code":200001}`))
	f.Add(200, "", []byte(`{"result":"error","code":65011,"reason":"Title or Description is empty!"}`))
	f.Add(200, "", []byte(`{"result":"ok"}`))
	f.Add(200, "", []byte(`{"code":"x"}`))
	f.Add(200, "", []byte(`{"code":0,"data":[]}`))
	f.Add(200, "", []byte(""))
	f.Add(200, "", []byte("<html>"))
	f.Add(429, "7", []byte(""))
	f.Add(429, "Wed, 21 Oct 2099 07:28:00 GMT", []byte(`{"code":0}`))
	f.Add(401, "", []byte(`{"code":21301}`))
	f.Add(413, "", []byte("too large"))
	f.Add(503, "-1", []byte("Service Unavailable"))
	f.Add(0, "", []byte(nil))
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, status int, retryAfter string, body []byte) {
		h := http.Header{}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		resp, err := classifyAnswer(status, h, body, now)
		if (resp == nil) == (err == nil) {
			t.Fatalf("status %d body %q: response %v and error %v", status, body, resp, err)
		}
		if resp != nil {
			if status != http.StatusOK || resp.Code != CodeOK {
				t.Fatalf("status %d code %d counted as success", status, resp.Code)
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("error %T %v is not an *Error", err, err)
		}
		if e.Kind < provider.Delivered || e.Kind > provider.CredentialError || e.Kind == provider.Delivered {
			t.Fatalf("status %d body %q: kind %v", status, body, e.Kind)
		}
		if e.RetryAfter < 0 {
			t.Fatalf("status %d Retry-After %q body %q: negative wait %v", status, retryAfter, body, e.RetryAfter)
		}
		if e.Reason == "" {
			t.Fatalf("status %d body %q: failure without a reason", status, body)
		}
		sentinels := []error{provider.ErrUnavailable, provider.ErrRateLimited, provider.ErrBadMessage,
			provider.ErrCredentials, provider.ErrInvalidToken, provider.ErrPayloadTooLarge}
		found := false
		for _, s := range sentinels {
			found = found || errors.Is(err, s)
		}
		if !found {
			t.Fatalf("error %v matches no provider sentinel", err)
		}
		if status >= 500 && e.Kind != provider.Retry {
			t.Fatalf("status %d classified %v, want retry", status, e.Kind)
		}
		r := e.result("regid")
		if r.Token != "regid" || r.Kind != e.Kind {
			t.Fatalf("result %+v", r)
		}
	})
}
