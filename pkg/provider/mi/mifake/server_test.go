package mifake_test

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/pushfleet/pushfleet/pkg/provider/fakeserver"
	"github.com/pushfleet/pushfleet/pkg/provider/mi/mifake"
)

type reply struct {
	Result      string          `json:"result"`
	Code        int             `json:"code"`
	Reason      string          `json:"reason"`
	Description string          `json:"description"`
	TraceID     string          `json:"trace_id"`
	Info        string          `json:"info"`
	Data        json.RawMessage `json:"data"`
}

func start(t *testing.T, opts mifake.Options) (*mifake.Server, *http.Client, string) {
	t.Helper()
	f, err := mifake.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: f.CertPool()}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	app := f.SandboxApp("com.example")
	return f, &http.Client{Transport: tr}, app.AppSecret
}

func post(t *testing.T, c *http.Client, u, secret string, form url.Values) (int, reply) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=UTF-8")
	req.Header.Set("Authorization", "key="+secret)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r reply
	_ = json.Unmarshal(b, &r)
	return resp.StatusCode, r
}

func msg(kv ...string) url.Values {
	v := url.Values{"restricted_package_name": {"com.example"}, "title": {"t"}, "description": {"d"}}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			v.Del(kv[i])
			continue
		}
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func TestFakeAnswers(t *testing.T) {
	f, c, secret := start(t, mifake.Options{MaxRegIDs: 3})
	f.SetDead("gone")
	tests := []struct {
		name   string
		path   string
		secret string
		form   url.Values
		code   int
		reason string
		info   string
		data   string
	}{
		{"ok", "/v3/message/regid", secret, msg("registration_id", "r1,r2"), 0, "", "Received push messages for 2 REGID", `"day_quota":"50000"`},
		{"v2 and v4 paths", "/v4/message/regid", secret, msg("registration_id", "r1"), 0, "", "Received push messages for 1 REGID", `"id":"alm`},
		{"some dead", "/v2/message/regid", secret, msg("registration_id", "r1,gone,deadbeef"), 0, "", "Received push messages for 1 REGID", `"bad_regids":"gone,deadbeef"`},
		{"all dead", "/v3/message/regid", secret, msg("registration_id", "gone"), 20301, "No valid targets!", "", ""},
		{"bad secret", "/v3/message/regid", "nope", msg("registration_id", "r1"), 21301, "Invalid application secret.", "", ""},
		{"other package", "/v3/message/regid", secret, msg("registration_id", "r1", "restricted_package_name", "com.other"), 22022, "", "", ""},
		{"no package", "/v3/message/regid", secret, msg("registration_id", "r1", "restricted_package_name", ""), 10016, "", "", ""},
		{"no title", "/v3/message/regid", secret, msg("registration_id", "r1", "title", ""), 65011, "Title or Description is empty!", "", ""},
		{"blank description", "/v3/message/regid", secret, msg("registration_id", "r1", "description", "  "), 65011, "Title or Description is empty!", "", ""},
		{"pass-through needs no title", "/v3/message/regid", secret, msg("registration_id", "r1", "title", "", "pass_through", "1"), 0, "", "", ""},
		{"no targets", "/v3/message/regid", secret, msg(), 10016, "", "", ""},
		{"over the cap", "/v3/message/regid", secret, msg("registration_id", "a,b,c,d"), 10017, "", "", ""},
		{"bad ttl", "/v3/message/regid", secret, msg("registration_id", "a", "time_to_live", "soon"), 10017, "", "", ""},
		{"alias", "/v3/message/alias", secret, msg("alias", "al1,al2"), 0, "", "Received push messages for 2 ALIAS", ""},
		{"topic", "/v2/message/topic", secret, msg("topic", "news"), 0, "", "Received push messages for 1 TOPIC", ""},
		{"blank topic", "/v3/message/topic", secret, msg("topic", " "), 10016, "", "", ""},
		{"no topic", "/v3/message/topic", secret, msg(), 10016, "", "", ""},
		{"two topics", "/v3/message/topic", secret, url.Values{"restricted_package_name": {"com.example"}, "title": {"t"}, "description": {"d"}, "topic": {"a", "b"}}, 10017, "", "", ""},
		{"topic, no title", "/v3/message/topic", secret, msg("topic", "news", "title", ""), 65011, "Title or Description is empty!", "", ""},
		{"all", "/v3/message/all", secret, msg(), 0, "", "Received push messages for 1 ALL", ""},
		{"all, pass-through", "/v2/message/all", secret, msg("title", "", "description", "", "pass_through", "1", "payload", "{}"), 0, "", "", ""},
		{"all, no description", "/v3/message/all", secret, msg("description", ""), 65011, "Title or Description is empty!", "", ""},
		{"all, bad secret", "/v3/message/all", "nope", msg(), 21301, "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, r := post(t, c, f.URL()+tc.path, tc.secret, tc.form)
			if status != http.StatusOK || r.Code != tc.code || r.TraceID == "" {
				t.Fatalf("status %d code %d (%s), want 200 code %d", status, r.Code, r.Reason, tc.code)
			}
			if want := map[bool]string{true: "ok", false: "error"}[tc.code == 0]; r.Result != want {
				t.Fatalf("result %q, want %q", r.Result, want)
			}
			if tc.reason != "" && r.Reason != tc.reason || tc.info != "" && r.Info != tc.info ||
				!strings.Contains(string(r.Data), tc.data) {
				t.Fatalf("reply %+v data %s", r, r.Data)
			}
		})
	}
	if f.Delivered("r1") < 3 || f.Delivered("gone") != 0 || f.Delivered("al2") != 1 {
		t.Fatalf("delivery counters r1=%d gone=%d al2=%d", f.Delivered("r1"), f.Delivered("gone"), f.Delivered("al2"))
	}
}

func TestFakeFailures(t *testing.T) {
	for _, http1 := range []bool{false, true} {
		f, c, secret := start(t, mifake.Options{HTTP1Only: http1})
		tests := []struct {
			f      fakeserver.Failure
			status int
			code   int
		}{
			{fakeserver.RateLimited, 200, 10023},
			{fakeserver.Unavailable, 200, 10009},
			{fakeserver.Internal, 500, 0},
			{fakeserver.AuthFailure, 200, 21301},
			{fakeserver.BadRequest, 200, 10017},
		}
		for _, tc := range tests {
			f.FailNext(1, tc.f, 0)
			status, r := post(t, c, f.URL()+"/v3/message/regid", secret, msg("registration_id", "r1"))
			if status != tc.status || r.Code != tc.code {
				t.Fatalf("http1=%v %v: status %d code %d, want %d %d", http1, tc.f, status, r.Code, tc.status, tc.code)
			}
		}
		f.FailNext(1, fakeserver.DropConnection, 0)
		req, _ := http.NewRequest(http.MethodPost, f.URL()+"/v3/message/regid", strings.NewReader(msg("registration_id", "r1").Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if resp, err := c.Do(req); err == nil {
			resp.Body.Close()
			t.Fatalf("http1=%v: dropped request got status %d", http1, resp.StatusCode)
		}
		if f.Delivered("r1") != 0 {
			t.Fatal("a failed request was counted as delivered")
		}
		if status, r := post(t, c, f.URL()+"/v3/message/regid", secret, msg("registration_id", "r1")); status != 200 || r.Code != 0 {
			t.Fatalf("after the faults: %d %d", status, r.Code)
		}
	}
}

func TestFakeFeedbackDrainsOnce(t *testing.T) {
	f, c, secret := start(t, mifake.Options{})
	ids := make([]string, 1500)
	for i := range ids {
		ids[i] = "r" + strings.Repeat("x", i%5) + string(rune('a'+i%26))
	}
	f.AddInvalidForPoll(ids...)
	get := func(secret string) (int, []string) {
		req, _ := http.NewRequest(http.MethodGet, f.URL()+"/v1/feedback/fetch_invalid_regids", nil)
		req.Header.Set("Authorization", "key="+secret)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r struct {
			Code int `json:"code"`
			Data struct {
				List []string `json:"list"`
			} `json:"data"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			t.Fatal(err)
		}
		return r.Code, r.Data.List
	}
	if code, _ := get("wrong"); code != 21301 {
		t.Fatalf("bad secret: code %d", code)
	}
	for _, want := range []int{1000, 500, 0} {
		if code, l := get(secret); code != 0 || len(l) != want {
			t.Fatalf("code %d, %d regids, want %d", code, len(l), want)
		}
	}
}

// TestHoldAnswers: held answers go only once n requests wait, all together;
// the hold is one-shot.
func TestHoldAnswers(t *testing.T) {
	f, c, secret := start(t, mifake.Options{})
	const n = 3
	f.HoldAnswers(n)
	codes := make(chan int, n)
	for i := range n {
		go func() {
			form := msg("registration_id", fmt.Sprint("r", i))
			req, _ := http.NewRequest(http.MethodPost, f.URL()+"/v3/message/regid", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=UTF-8")
			req.Header.Set("Authorization", "key="+secret)
			var r reply
			if resp, err := c.Do(req); err == nil {
				_ = json.NewDecoder(resp.Body).Decode(&r)
				resp.Body.Close()
			} else {
				r.Code = -1
			}
			codes <- r.Code
		}()
	}
	for range n {
		if code := <-codes; code != 0 {
			t.Errorf("code %d, want 0", code)
		}
	}
	if m := f.MaxInFlight(); m != n {
		t.Errorf("MaxInFlight %d, want %d (all held together)", m, n)
	}
	if _, r := post(t, c, f.URL()+"/v3/message/regid", secret, msg("registration_id", "after")); r.Code != 0 {
		t.Errorf("after the hold: code %d", r.Code)
	}
}
