package mi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider"
)

func errorBody(code int, reason string) string {
	return fmt.Sprintf(`{"result":"error","reason":%q,"trace_id":"Xlm1","code":%d,"description":"d"}`, reason, code)
}

func TestClassifyAnswer(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC) // 20:00 in China
	tests := []struct {
		name       string
		status     int
		header     http.Header
		body       string
		ok         bool
		kind       provider.Kind
		sentinel   error
		reason     string
		retryAfter time.Duration
	}{
		{name: "success", status: 200, body: `{"result":"ok","trace_id":"X","code":0,"data":{"id":"alm1"},"description":"成功","info":"Received push messages for 1 REGID"}`, ok: true},
		{name: "success code as string", status: 200, body: `{"result":"ok","code":"0"}`, ok: true},
		{name: "no valid targets", status: 200, body: errorBody(20301, "No valid targets!"), kind: provider.InvalidToken, sentinel: provider.ErrInvalidToken, reason: "20301"},
		{name: "bad secret", status: 200, body: errorBody(21301, "Invalid application secret."), kind: provider.CredentialError, sentinel: provider.ErrCredentials, reason: "21301"},
		{name: "app illegal 22000", status: 200, body: errorBody(22000, "app illegal"), kind: provider.CredentialError, sentinel: provider.ErrCredentials, reason: "22000"},
		{name: "invalid package 22022", status: 200, body: errorBody(22022, "bad package"), kind: provider.CredentialError, sentinel: provider.ErrCredentials, reason: "22022"},
		{name: "app blacklisted 10026", status: 200, body: errorBody(10026, "blacklisted"), kind: provider.CredentialError, sentinel: provider.ErrCredentials, reason: "10026"},
		{name: "permission 10005", status: 200, body: errorBody(10005, "no permission"), kind: provider.CredentialError, sentinel: provider.ErrCredentials, reason: "10005"},
		{name: "system error 10001", status: 200, body: errorBody(10001, "system error"), kind: provider.Retry, sentinel: provider.ErrUnavailable, reason: "10001"},
		{name: "service paused 10002", status: 200, body: errorBody(10002, "paused"), kind: provider.Retry, sentinel: provider.ErrUnavailable, reason: "10002"},
		{name: "remote error 10003", status: 200, body: errorBody(10003, "remote"), kind: provider.Retry, sentinel: provider.ErrUnavailable, reason: "10003"},
		{name: "system busy 10009", status: 200, body: errorBody(10009, "busy"), kind: provider.Retry, sentinel: provider.ErrUnavailable, reason: "10009"},
		{name: "10037", status: 200, body: errorBody(10037, "?"), kind: provider.Retry, sentinel: provider.ErrUnavailable, reason: "10037"},
		{name: "ip frequency 10022", status: 200, body: errorBody(10022, "ip"), kind: provider.Retry, sentinel: provider.ErrRateLimited, reason: "10022"},
		{name: "user frequency 10023", status: 200, body: errorBody(10023, "user"), kind: provider.Retry, sentinel: provider.ErrRateLimited, reason: "10023"},
		{name: "special api 10024", status: 200, body: errorBody(10024, "api"), kind: provider.Retry, sentinel: provider.ErrRateLimited, reason: "10024"},
		{name: "app frequency 10027", status: 200, body: errorBody(10027, "app"), kind: provider.Retry, sentinel: provider.ErrRateLimited, reason: "10027"},
		{name: "app total 10028", status: 200, body: errorBody(10028, "total"), kind: provider.Retry, sentinel: provider.ErrRateLimited, reason: "10028"},
		{name: "daily quota 200001", status: 200, body: errorBody(200001, "daily limit"), kind: provider.Retry, sentinel: provider.ErrRateLimited, reason: "200001", retryAfter: 4*time.Hour + time.Minute},
		{name: "param error 10008", status: 200, body: errorBody(10008, "param"), kind: provider.Permanent, sentinel: provider.ErrBadMessage, reason: "10008"},
		{name: "missing param 10016", status: 200, body: errorBody(10016, "missing"), kind: provider.Permanent, sentinel: provider.ErrBadMessage, reason: "10016"},
		{name: "invalid param 10017", status: 200, body: errorBody(10017, "invalid"), kind: provider.Permanent, sentinel: provider.ErrBadMessage, reason: "10017"},
		{name: "empty title 65011", status: 200, body: errorBody(65011, "Title or Description is empty!"), kind: provider.Permanent, sentinel: provider.ErrBadMessage, reason: "65011"},
		{name: "bad notify_id 22103", status: 200, body: errorBody(22103, "notify id"), kind: provider.Permanent, sentinel: provider.ErrBadMessage, reason: "22103"},
		{name: "unknown code", status: 200, body: errorBody(99999, "?"), kind: provider.Permanent, sentinel: provider.ErrBadMessage, reason: "99999"},
		{name: "negative code", status: 200, body: errorBody(-1, "unknown"), kind: provider.Permanent, sentinel: provider.ErrBadMessage, reason: "-1"},
		{name: "empty 200", status: 200, body: "", kind: provider.Retry, sentinel: provider.ErrUnavailable, reason: "bad answer"},
		{name: "html 200", status: 200, body: "<html>gateway</html>", kind: provider.Retry, sentinel: provider.ErrUnavailable, reason: "bad answer"},
		{name: "json without code", status: 200, body: `{"result":"ok"}`, kind: provider.Retry, sentinel: provider.ErrUnavailable, reason: "bad answer"},
		{name: "json null", status: 200, body: `null`, kind: provider.Retry, sentinel: provider.ErrUnavailable, reason: "bad answer"},
		{name: "http 500", status: 500, body: "oops", kind: provider.Retry, sentinel: provider.ErrUnavailable, reason: "http 500"},
		{name: "http 503 with code 0 body", status: 503, body: `{"code":0}`, kind: provider.Retry, sentinel: provider.ErrUnavailable, reason: "http 503"},
		{name: "http 503 retry-after", status: 503, header: http.Header{"Retry-After": {"30"}}, kind: provider.Retry, sentinel: provider.ErrUnavailable, reason: "http 503", retryAfter: 30 * time.Second},
		{name: "http 429", status: 429, header: http.Header{"Retry-After": {"7"}}, kind: provider.Retry, sentinel: provider.ErrRateLimited, reason: "http 429", retryAfter: 7 * time.Second},
		{name: "http 401", status: 401, kind: provider.CredentialError, sentinel: provider.ErrCredentials, reason: "http 401"},
		{name: "http 413", status: 413, kind: provider.Permanent, sentinel: provider.ErrPayloadTooLarge, reason: "http 413"},
		{name: "http 404", status: 404, body: "not found", kind: provider.Permanent, sentinel: provider.ErrBadMessage, reason: "http 404"},
		{name: "http 400 with code", status: 400, body: errorBody(21301, "secret"), kind: provider.CredentialError, sentinel: provider.ErrCredentials, reason: "21301"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.header
			if h == nil {
				h = http.Header{}
			}
			resp, err := classifyAnswer(tc.status, h, []byte(tc.body), now)
			if tc.ok {
				if err != nil || resp == nil || resp.Code != 0 {
					t.Fatalf("got %v, %v; want success", resp, err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err %v is not *Error", err)
			}
			if e.Kind != tc.kind || e.Reason != tc.reason || !errors.Is(err, tc.sentinel) {
				t.Fatalf("got kind %v reason %q err %v; want %v %q %v", e.Kind, e.Reason, err, tc.kind, tc.reason, tc.sentinel)
			}
			if e.RetryAfter != tc.retryAfter {
				t.Fatalf("RetryAfter %v, want %v", e.RetryAfter, tc.retryAfter)
			}
		})
	}
}

func TestParseResponseData(t *testing.T) {
	tests := []struct {
		name string
		body string
		want ResponseData
	}{
		{"bad regids string", `{"code":0,"data":{"id":"a","bad_regids":"r1, r2,","day_quota":"50000","day_acked":"3"}}`,
			ResponseData{ID: "a", BadRegIDs: []string{"r1", "r2"}, DayQuota: "50000", DayAcked: "3"}},
		{"bad regids array, quota numbers", `{"code":0,"data":{"id":"a","bad_regids":["r1"],"day_quota":50000,"day_acked":3}}`,
			ResponseData{ID: "a", BadRegIDs: []string{"r1"}, DayQuota: "50000", DayAcked: "3"}},
		{"feedback list", `{"code":0,"data":{"list":["x","y"]}}`, ResponseData{List: []string{"x", "y"}}},
		{"data not an object", `{"code":0,"data":"whatever"}`, ResponseData{}},
		{"no data", `{"code":0}`, ResponseData{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := parseResponse(200, []byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			d := r.Data
			if d.ID != tc.want.ID || !slices.Equal(d.BadRegIDs, tc.want.BadRegIDs) || d.DayQuota != tc.want.DayQuota ||
				d.DayAcked != tc.want.DayAcked || !slices.Equal(d.List, tc.want.List) {
				t.Fatalf("data %+v, want %+v", d, tc.want)
			}
		})
	}
}

func TestTransportError(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	cause := errors.New("connection reset")
	tests := []struct {
		name       string
		ctx        context.Context
		err        error
		reason     string
		retryAfter time.Duration
	}{
		{"network", context.Background(), cause, "transport", 0},
		{"canceled", canceled, cause, "canceled", 0},
		{"deadline", expired, context.DeadlineExceeded, "timeout", 0},
		{"closed", context.Background(), ErrClosed, "closed", 0},
		{"backoff", context.Background(), &backoffError{addr: "x:443", wait: 2 * time.Second}, "reconnect backoff", 2 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := transportError(tc.ctx, tc.err)
			if e.Kind != provider.Retry || e.Reason != tc.reason || e.RetryAfter != tc.retryAfter {
				t.Fatalf("got %v %q %v", e.Kind, e.Reason, e.RetryAfter)
			}
			if !errors.Is(e, provider.ErrUnavailable) || !errors.Is(e, tc.err) {
				t.Fatalf("%v should match ErrUnavailable and its cause", e)
			}
		})
	}
}

func TestUntilQuotaReset(t *testing.T) {
	// 15:59:30 UTC is 23:59:30 in China: the reset is 90 s away (00:01 China).
	now := time.Date(2026, 3, 1, 15, 59, 30, 0, time.UTC)
	if got := untilQuotaReset(now); got != 90*time.Second {
		t.Fatalf("got %v", got)
	}
}
