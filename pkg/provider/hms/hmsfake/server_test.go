package hmsfake_test

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider/hms/hmsfake"
)

// The fake speaks the wire format without the sender: OAuth grants, the
// bearer check, the body checks and the answers.
func TestWire(t *testing.T) {
	f, err := hmsfake.Start(hmsfake.Options{TokenLifetime: 90 * time.Second, MaxTokens: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: f.CertPool()}, ForceAttemptHTTP2: true}}
	app := f.SandboxApp()
	other := f.SandboxApp()

	grant := func(id, secret, grantType string) (int, map[string]any) {
		resp, err := hc.PostForm(f.TokenURL(), url.Values{"grant_type": {grantType}, "client_id": {id}, "client_secret": {secret}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	if st, m := grant(app.AppID, "wrong", "client_credentials"); st != 400 || m["error"] == nil {
		t.Fatalf("wrong secret: %d %v", st, m)
	}
	if st, _ := grant(app.AppID, app.ClientSecret, "password"); st != 400 {
		t.Fatalf("wrong grant type: %d", st)
	}
	st, m := grant(app.AppID, app.ClientSecret, "client_credentials")
	if st != 200 || m["token_type"] != "Bearer" || m["expires_in"] != float64(90) || m["access_token"] == "" {
		t.Fatalf("grant: %d %v", st, m)
	}
	tok := m["access_token"].(string)
	_, m = grant(other.AppID, other.ClientSecret, "client_credentials")
	otherTok := m["access_token"].(string)

	send := func(appID, bearer, body string) (int, string, string) {
		req, _ := http.NewRequest(http.MethodPost, f.URL()+"/v1/"+appID+"/messages:send", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json;charset=utf-8")
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.ProtoMajor != 2 {
			t.Fatalf("protocol %s, want HTTP/2", resp.Proto)
		}
		b, _ := io.ReadAll(resp.Body)
		var r struct{ Code, Msg, RequestID string }
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("answer %s: %v", b, err)
		}
		return resp.StatusCode, r.Code, r.Msg
	}
	msg := func(tokens ...string) string {
		b, _ := json.Marshal(tokens)
		return fmt.Sprintf(`{"validate_only":false,"message":{"data":"{}","android":{"urgency":"HIGH","ttl":"60s",`+
			`"notification":{"title":"t","body":"b","click_action":{"type":3}}},"token":%s}}`, b)
	}
	for _, tc := range []struct {
		name, appID, bearer, body string
		status                    int
		code                      string
	}{
		{"no bearer", app.AppID, "", msg("a"), 401, "80200001"},
		{"token of another app", app.AppID, otherTok, msg("a"), 401, "80200001"},
		{"success", app.AppID, tok, msg("a", "b"), 200, "80000000"},
		{"partial", app.AppID, tok, msg("a", "dead-1"), 200, "80100000"},
		{"all dead", app.AppID, tok, msg("dead-1", "dead-2"), 400, "80300007"},
		{"too many tokens", app.AppID, tok, msg("a", "b", "c", "d"), 400, "80300010"},
		{"no tokens", app.AppID, tok, msg(), 400, "80300010"},
		{"no click_action", app.AppID, tok, `{"message":{"android":{"notification":{"title":"t"}},"token":["a"]}}`, 400, "80100003"},
		{"bad urgency", app.AppID, tok, `{"message":{"android":{"urgency":"URGENT"},"token":["a"]}}`, 400, "80100003"},
		{"bad ttl", app.AppID, tok, `{"message":{"android":{"ttl":"1 day"},"token":["a"]}}`, 400, "80100003"},
		{"bad collapse_key", app.AppID, tok, `{"message":{"android":{"collapse_key":101},"token":["a"]}}`, 400, "80100013"},
		{"data not a string", app.AppID, tok, `{"message":{"data":{"k":"v"},"token":["a"]}}`, 400, "80100003"},
		{"message too big", app.AppID, tok, `{"message":{"data":"` + strings.Repeat("x", 4100) + `","token":["a"]}}`, 400, "80300008"},
		{"not JSON", app.AppID, tok, `hello`, 400, "80100003"},
		{"validate only", app.AppID, tok, `{"validate_only":true,"message":{"token":["v"]}}`, 200, "80000000"},
	} {
		st, code, m := send(tc.appID, tc.bearer, tc.body)
		if st != tc.status || code != tc.code {
			t.Errorf("%s: %d %s %q, want %d %s", tc.name, st, code, m, tc.status, tc.code)
		}
		if tc.name == "partial" && !strings.Contains(m, `"illegal_tokens":["dead-1"]`) {
			t.Errorf("partial msg %q", m)
		}
	}
	if f.Delivered("a") != 2 || f.Delivered("v") != 0 || f.Delivered("dead-1") != 0 {
		t.Errorf("deliveries a=%d v=%d dead-1=%d", f.Delivered("a"), f.Delivered("v"), f.Delivered("dead-1"))
	}
	f.ExpireTokens()
	if st, code, _ := send(app.AppID, tok, msg("a")); st != 401 || code != "80200003" {
		t.Errorf("expired token: %d %s", st, code)
	}
	if n := f.TokenRequests(); n != 4 {
		t.Errorf("%d token requests, want 4", n)
	}
}
