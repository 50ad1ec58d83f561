package fcmfake_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/pushfleet/pushfleet/pkg/provider/fakeserver"
	"github.com/pushfleet/pushfleet/pkg/provider/fcm/fcmfake"
)

// env is a fake with one project and an HTTP/2 client holding an access token.
type env struct {
	f      *fcmfake.Server
	hc     *http.Client
	bearer string
	sa     fcmfake.ServiceAccount
}

func newEnv(t *testing.T, opts fcmfake.Options) *env {
	t.Helper()
	f, err := fcmfake.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	f.AddProject("proj")
	sa, err := f.NewServiceAccount("test", "proj")
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: f.CertPool()}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	conf, err := google.JWTConfigFromJSON(sa.JSON, "https://www.googleapis.com/auth/firebase.messaging")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := conf.TokenSource(context.WithValue(context.Background(), oauth2.HTTPClient, hc)).Token()
	if err != nil {
		t.Fatalf("token: %v", err)
	}
	return &env{f: f, hc: hc, bearer: tok.AccessToken, sa: sa}
}

// answer is a decoded send answer.
type answer struct {
	code       int
	proto      int
	retryAfter string
	body       struct {
		Name  string `json:"name"`
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
			Status  string `json:"status"`
			Details []struct {
				Type            string `json:"@type"`
				ErrorCode       string `json:"errorCode"`
				FieldViolations []struct {
					Field string `json:"field"`
				} `json:"fieldViolations"`
			} `json:"details"`
		} `json:"error"`
	}
}

func (a answer) fcmCode() string {
	for _, d := range a.body.Error.Details {
		if d.Type == "type.googleapis.com/google.firebase.fcm.v1.FcmError" {
			return d.ErrorCode
		}
	}
	return ""
}

func (a answer) field() string {
	for _, d := range a.body.Error.Details {
		if d.Type == "type.googleapis.com/google.rpc.BadRequest" && len(d.FieldViolations) > 0 {
			return d.FieldViolations[0].Field
		}
	}
	return ""
}

func (e *env) post(t *testing.T, project, bearer, body string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.f.Endpoint()+"/projects/"+project+"/messages:send", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{code: resp.StatusCode, proto: resp.ProtoMajor, retryAfter: resp.Header.Get("Retry-After")}
	if err := json.Unmarshal(b, &a.body); err != nil {
		t.Fatalf("answer %d is not JSON: %s", resp.StatusCode, b)
	}
	return a
}

func msg(m string) string { return `{"message":` + m + `}` }

func TestSendValidation(t *testing.T) {
	e := newEnv(t, fcmfake.Options{})
	big := strings.Repeat("x", fcmfake.MaxMessageBytes)
	cases := []struct {
		name    string
		body    string
		code    int
		status  string
		fcmCode string // FcmError errorCode; empty: none
		field   string
	}{
		{"token", msg(`{"token":"t1:abc","notification":{"title":"hi"},"data":{"k":"v"},"android":{"ttl":"3.5s","priority":"high"}}`), 200, "", "", ""},
		{"upper case priority", msg(`{"token":"t1:abc","android":{"priority":"HIGH"}}`), 200, "", "", ""},
		{"topic", msg(`{"topic":"news"}`), 200, "", "", ""},
		{"bad topic", msg(`{"topic":"news today"}`), 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "message.topic"},
		{"condition", msg(`{"condition":"'a' in topics && ('b' in topics || !('c' in topics))"}`), 200, "", "", ""},
		{"condition, double quotes", msg(`{"condition":"\"a\" in topics"}`), 200, "", "", ""},
		{"condition, five topics", msg(`{"condition":"'a' in topics || 'b' in topics || 'c' in topics || 'd' in topics || 'e' in topics"}`), 200, "", "", ""},
		{"condition, six topics", msg(`{"condition":"'a' in topics || 'b' in topics || 'c' in topics || 'd' in topics || 'e' in topics || 'f' in topics"}`), 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "message.condition"},
		{"condition, dangling", msg(`{"condition":"'a' in topics &&"}`), 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "message.condition"},
		{"condition, unbalanced", msg(`{"condition":"('a' in topics"}`), 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "message.condition"},
		{"condition, no in topics", msg(`{"condition":"'a'"}`), 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "message.condition"},
		{"condition with a token", msg(`{"condition":"'a' in topics","token":"t1"}`), 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "message"},
		{"no target", msg(`{"data":{"k":"v"}}`), 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "message"},
		{"two targets", msg(`{"token":"t1","topic":"news"}`), 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "message"},
		{"data not a string", msg(`{"token":"t1","data":{"k":1}}`), 400, "INVALID_ARGUMENT", "", `message.data["k"].value`},
		{"reserved data key", msg(`{"token":"t1","data":{"google.x":"v"}}`), 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "message.data"},
		{"ttl format", msg(`{"token":"t1","android":{"ttl":"90"}}`), 400, "INVALID_ARGUMENT", "", "message.android.ttl"},
		{"ttl too long", msg(`{"token":"t1","android":{"ttl":"2419201s"}}`), 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "message.android.ttl"},
		{"priority", msg(`{"token":"t1","android":{"priority":"urgent"}}`), 400, "INVALID_ARGUMENT", "", "message.android.priority"},
		{"android data", msg(`{"token":"t1","android":{"data":{"k":true}}}`), 400, "INVALID_ARGUMENT", "", `message.android.data["k"].value`},
		{"apns header", msg(`{"token":"t1","apns":{"headers":{"apns-priority":10}}}`), 400, "INVALID_ARGUMENT", "", `message.apns.headers["apns-priority"].value`},
		{"analytics label", msg(`{"token":"t1","fcm_options":{"analytics_label":"a b"}}`), 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "message.fcm_options.analytics_label"},
		{"unknown field", msg(`{"token":"t1","tittle":"x"}`), 400, "INVALID_ARGUMENT", "", "message"},
		{"too big", msg(`{"token":"t1","data":{"k":"` + big + `"}}`), 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "message"},
		{"too big for a topic", msg(`{"topic":"news","data":{"k":"` + big[:2100] + `"}}`), 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", "message"},
		{"not JSON", `{"message":`, 400, "INVALID_ARGUMENT", "", ""},
		{"dead prefix", msg(`{"token":"` + fcmfake.DeadPrefix + `123"}`), 404, "NOT_FOUND", "UNREGISTERED", ""},
		{"malformed prefix", msg(`{"token":"` + fcmfake.MalformedPrefix + `123"}`), 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", ""},
		{"token characters", msg(`{"token":"a b"}`), 400, "INVALID_ARGUMENT", "INVALID_ARGUMENT", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := e.post(t, "proj", e.bearer, tc.body)
			if a.code != tc.code || a.body.Error.Status != tc.status || a.fcmCode() != tc.fcmCode || a.field() != tc.field {
				t.Fatalf("got %d %s fcm=%q field=%q (%s), want %d %s fcm=%q field=%q",
					a.code, a.body.Error.Status, a.fcmCode(), a.field(), a.body.Error.Message, tc.code, tc.status, tc.fcmCode, tc.field)
			}
			if a.proto != 2 {
				t.Fatalf("answered over HTTP/%d, want HTTP/2", a.proto)
			}
			if tc.code == 200 && !strings.HasPrefix(a.body.Name, "projects/proj/messages/") {
				t.Fatalf("name %q", a.body.Name)
			}
		})
	}
	if n := e.f.Delivered("t1:abc"); n != 2 {
		t.Fatalf("Delivered(t1:abc) = %d, want 2", n)
	}
	if n := e.f.Delivered("/topics/news"); n != 1 {
		t.Fatalf("Delivered(/topics/news) = %d, want 1", n)
	}
}

func TestTokenStates(t *testing.T) {
	e := newEnv(t, fcmfake.Options{KeepMessages: true})
	e.f.SetDead("gone")
	e.f.SetMalformed("junk")
	e.f.SetForeign("theirs")
	cases := []struct {
		token, status, fcmCode string
		code                   int
	}{
		{"gone", "NOT_FOUND", "UNREGISTERED", 404},
		{"junk", "INVALID_ARGUMENT", "INVALID_ARGUMENT", 400},
		{"theirs", "PERMISSION_DENIED", "SENDER_ID_MISMATCH", 403},
	}
	for _, tc := range cases {
		a := e.post(t, "proj", e.bearer, msg(`{"token":"`+tc.token+`"}`))
		if a.code != tc.code || a.body.Error.Status != tc.status || a.fcmCode() != tc.fcmCode {
			t.Fatalf("%s: %d %s %s, want %d %s %s", tc.token, a.code, a.body.Error.Status, a.fcmCode(), tc.code, tc.status, tc.fcmCode)
		}
	}
	if a := e.post(t, "proj", e.bearer, msg(`{"token":"junk"}`)); !strings.Contains(a.body.Error.Message, "registration token is not a valid FCM registration token") {
		t.Fatalf("malformed token message %q", a.body.Error.Message)
	}
	e.post(t, "proj", e.bearer, `{"validate_only":true,"message":{"token":"ok1"}}`)
	if n := e.f.Delivered("ok1"); n != 0 {
		t.Fatalf("validate_only delivered %d", n)
	}
	e.post(t, "proj", e.bearer, msg(`{"token":"ok1","data":{"k":"v"}}`))
	if m, ok := e.f.LastMessage("ok1"); !ok || !bytes.Contains(m, []byte(`"k":"v"`)) {
		t.Fatalf("LastMessage = %s, %v", m, ok)
	}
}

func TestAuthorization(t *testing.T) {
	e := newEnv(t, fcmfake.Options{})
	e.f.AddProject("other")
	cases := []struct {
		name, project, bearer, status string
		code                          int
	}{
		{"no token", "proj", "", "UNAUTHENTICATED", 401},
		{"unknown token", "proj", "ya29.forged", "UNAUTHENTICATED", 401},
		{"unknown project", "nope", e.bearer, "NOT_FOUND", 404},
		{"another project", "other", e.bearer, "PERMISSION_DENIED", 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := e.post(t, tc.project, tc.bearer, msg(`{"token":"t1"}`))
			if a.code != tc.code || a.body.Error.Status != tc.status || a.fcmCode() != "" {
				t.Fatalf("got %d %s fcm=%q, want %d %s without FcmError", a.code, a.body.Error.Status, a.fcmCode(), tc.code, tc.status)
			}
		})
	}
	e.f.RevokeAccessTokens()
	if a := e.post(t, "proj", e.bearer, msg(`{"token":"t1"}`)); a.code != 401 {
		t.Fatalf("revoked token: %d, want 401", a.code)
	}
}

// TestTokenEndpoint checks the JWT-bearer grant is verified.
func TestTokenEndpoint(t *testing.T) {
	e := newEnv(t, fcmfake.Options{})
	if n := e.f.TokenRequests(); n != 1 {
		t.Fatalf("%d token requests, want 1", n)
	}
	key, err := jwt.ParseRSAPrivateKeyFromPEM([]byte(privateKey(t, e.sa.JSON)))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	sign := func(edit func(c jwt.MapClaims, h map[string]any)) string {
		c := jwt.MapClaims{"iss": e.sa.Email, "aud": e.f.TokenURL(), "scope": "https://www.googleapis.com/auth/firebase.messaging",
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
		tok.Header["kid"] = e.sa.KeyID
		if edit != nil {
			edit(c, tok.Header)
		}
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	cases := []struct {
		name      string
		grant     string
		assertion string
		code      int
	}{
		{"valid", "urn:ietf:params:oauth:grant-type:jwt-bearer", sign(nil), 200},
		{"wrong grant type", "client_credentials", sign(nil), 400},
		{"wrong audience", "urn:ietf:params:oauth:grant-type:jwt-bearer", sign(func(c jwt.MapClaims, _ map[string]any) { c["aud"] = "https://oauth2.googleapis.com/token" }), 400},
		{"unknown issuer", "urn:ietf:params:oauth:grant-type:jwt-bearer", sign(func(c jwt.MapClaims, _ map[string]any) { c["iss"] = "x@y.iam.gserviceaccount.com" }), 400},
		{"unknown key id", "urn:ietf:params:oauth:grant-type:jwt-bearer", sign(func(_ jwt.MapClaims, h map[string]any) { h["kid"] = "other" }), 400},
		{"expired", "urn:ietf:params:oauth:grant-type:jwt-bearer", sign(func(c jwt.MapClaims, _ map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() }), 400},
		{"too long-lived", "urn:ietf:params:oauth:grant-type:jwt-bearer", sign(func(c jwt.MapClaims, _ map[string]any) { c["exp"] = now.Add(2 * time.Hour).Unix() }), 400},
		{"no FCM scope", "urn:ietf:params:oauth:grant-type:jwt-bearer", sign(func(c jwt.MapClaims, _ map[string]any) { c["scope"] = "https://www.googleapis.com/auth/userinfo.email" }), 400},
		{"tampered", "urn:ietf:params:oauth:grant-type:jwt-bearer", sign(nil)[:40] + "x" + sign(nil)[41:], 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := e.hc.PostForm(e.f.TokenURL(), url.Values{"grant_type": {tc.grant}, "assertion": {tc.assertion}})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.code {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, b, tc.code)
			}
		})
	}
}

func privateKey(t *testing.T, saJSON []byte) string {
	var f struct {
		PrivateKey string `json:"private_key"`
	}
	if err := json.Unmarshal(saJSON, &f); err != nil {
		t.Fatal(err)
	}
	return f.PrivateKey
}

func TestFailNext(t *testing.T) {
	cases := []struct {
		f          fakeserver.Failure
		retryAfter time.Duration
		code       int
		fcmCode    string
		header     string
	}{
		{fakeserver.RateLimited, 7 * time.Second, 429, "QUOTA_EXCEEDED", "7"},
		{fakeserver.Unavailable, 0, 503, "UNAVAILABLE", "121"},
		{fakeserver.Unavailable, 2 * time.Second, 503, "UNAVAILABLE", "2"},
		{fakeserver.Internal, 0, 500, "INTERNAL", ""},
		{fakeserver.AuthFailure, 0, 401, "THIRD_PARTY_AUTH_ERROR", ""},
		{fakeserver.BadRequest, 0, 400, "INVALID_ARGUMENT", ""},
	}
	e := newEnv(t, fcmfake.Options{})
	for _, tc := range cases {
		t.Run(tc.f.String(), func(t *testing.T) {
			e.f.FailNext(1, tc.f, tc.retryAfter)
			a := e.post(t, "proj", e.bearer, msg(`{"token":"t1"}`))
			if a.code != tc.code || a.fcmCode() != tc.fcmCode || a.retryAfter != tc.header {
				t.Fatalf("got %d %s Retry-After %q, want %d %s %q", a.code, a.fcmCode(), a.retryAfter, tc.code, tc.fcmCode, tc.header)
			}
			if a := e.post(t, "proj", e.bearer, msg(`{"token":"t1"}`)); a.code != 200 {
				t.Fatalf("the failure outlived its count: %d", a.code)
			}
		})
	}
	t.Run("drop", func(t *testing.T) {
		e.f.FailNext(1, fakeserver.DropConnection, 0)
		req, _ := http.NewRequest(http.MethodPost, e.f.Endpoint()+"/projects/proj/messages:send", strings.NewReader(msg(`{"token":"t1"}`)))
		req.Header.Set("Authorization", "Bearer "+e.bearer)
		if resp, err := e.hc.Do(req); err == nil {
			resp.Body.Close()
			t.Fatalf("dropped request answered %d", resp.StatusCode)
		}
	})
	if n := e.f.Delivered("t1"); n != len(cases) {
		t.Fatalf("delivered %d, want %d", n, len(cases))
	}
}

func TestQuota(t *testing.T) {
	e := newEnv(t, fcmfake.Options{Quota: 2, QuotaWindow: time.Hour})
	for i := range 2 {
		if a := e.post(t, "proj", e.bearer, msg(`{"token":"t1"}`)); a.code != 200 {
			t.Fatalf("send %d: %d", i, a.code)
		}
	}
	a := e.post(t, "proj", e.bearer, msg(`{"token":"t1"}`))
	if a.code != 429 || a.body.Error.Status != "RESOURCE_EXHAUSTED" || a.fcmCode() != "QUOTA_EXCEEDED" || a.retryAfter != "1800" {
		t.Fatalf("over quota: %d %s %s Retry-After %q, want 429 RESOURCE_EXHAUSTED QUOTA_EXCEEDED 1800", a.code, a.body.Error.Status, a.fcmCode(), a.retryAfter)
	}
	e.f.SetQuota(0, 0)
	if a := e.post(t, "proj", e.bearer, msg(`{"token":"t1"}`)); a.code != 200 {
		t.Fatalf("after removing the quota: %d", a.code)
	}
}

// TestLatency checks SetLatency delays answers, gives up with the client,
// and does not hold Close.
func TestLatency(t *testing.T) {
	e := newEnv(t, fcmfake.Options{})
	e.f.SetLatency(50 * time.Millisecond)
	start := time.Now()
	e.post(t, "proj", e.bearer, msg(`{"token":"t1"}`))
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Fatalf("answered after %v, want at least 50ms", d)
	}
	e.f.SetLatency(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.f.Endpoint()+"/projects/proj/messages:send", strings.NewReader(msg(`{"token":"t2"}`)))
	req.Header.Set("Authorization", "Bearer "+e.bearer)
	if resp, err := e.hc.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("answered despite an hour of latency")
	}
	done := make(chan struct{})
	go func() { e.f.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hung on a delayed answer")
	}
}
