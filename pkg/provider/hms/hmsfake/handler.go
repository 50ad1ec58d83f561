package hmsfake

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider/fakeserver"
)

// maxBodyBytes bounds a request body (1000 long tokens fit easily).
const maxBodyBytes = 4 << 20

var ttlPattern = regexp.MustCompile(`^\d+(\.\d{1,9})?[sS]?$`)

// result is Push Kit's answer body.
type result struct {
	Code      string `json:"code"`
	Msg       string `json:"msg"`
	RequestID string `json:"requestId"`
}

// token serves the client-credentials grant.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	s.tokenReqs.Add(1)
	if !s.wait(r) {
		return
	}
	if a, ok := s.nextFault(&s.tokenFaults); ok {
		s.write(w, a)
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, 1101, 20001, "invalid request: "+err.Error())
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		oauthError(w, 1102, 20002, "unsupported grant_type "+strconv.Quote(gt))
		return
	}
	clientID, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	s.mu.Lock()
	appID, ok := s.clients[clientID]
	var e *appEntry
	if ok {
		e = s.apps[appID]
	}
	if e == nil || e.secret != secret {
		s.mu.Unlock()
		oauthError(w, 1101, 20068, "invalid client_secret")
		return
	}
	b := make([]byte, 48)
	_, _ = rand.Read(b)
	// Real tokens hold "/" and "+" (escaped as "\/" in the JSON).
	tok := "DAEDA" + base64.StdEncoding.EncodeToString(b)
	s.issued[tok] = issued{appID: appID, exp: time.Now().Add(s.opts.TokenLifetime)}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]any{
		"access_token": tok, "expires_in": int64(s.opts.TokenLifetime / time.Second), "token_type": "Bearer",
	})
}

func oauthError(w http.ResponseWriter, code, sub int, desc string) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": code, "sub_error": sub, "error_description": desc})
}

// wireRequest is what the fake reads of a send request; message fields are
// kept raw so that their size and types can be checked as sent.
type wireRequest struct {
	ValidateOnly bool                       `json:"validate_only"`
	Message      map[string]json.RawMessage `json:"message"`
}

type wireAndroid struct {
	CollapseKey  *int            `json:"collapse_key"`
	Urgency      string          `json:"urgency"`
	TTL          string          `json:"ttl"`
	Notification json.RawMessage `json:"notification"`
}

type wireNotification struct {
	ClickAction *struct {
		Type int `json:"type"`
	} `json:"click_action"`
}

// send serves POST /v1/{appId}/messages:send.
func (s *Server) send(w http.ResponseWriter, r *http.Request) {
	s.Arrived()
	body, rerr := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes))
	s.mu.Lock()
	s.last = body
	s.mu.Unlock()
	if !s.wait(r) {
		return
	}
	if a, ok := s.nextFault(&s.faults); ok {
		s.write(w, a)
		return
	}
	if code, msg := s.authorize(r); code != "" {
		s.answer(w, http.StatusUnauthorized, code, msg)
		return
	}
	if rerr != nil {
		s.answer(w, http.StatusBadRequest, "80100003", "Illegal payload: "+rerr.Error())
		return
	}
	var req wireRequest
	if err := json.Unmarshal(body, &req); err != nil || req.Message == nil {
		s.answer(w, http.StatusBadRequest, "80100003", "Illegal payload, message structure error")
		return
	}
	var tokens []string
	if raw, ok := req.Message["token"]; ok {
		if err := json.Unmarshal(raw, &tokens); err != nil {
			s.answer(w, http.StatusBadRequest, "80100003", "Illegal payload, token must be a string array")
			return
		}
	}
	if len(tokens) == 0 || len(tokens) > s.opts.MaxTokens {
		s.answer(w, http.StatusBadRequest, "80300010", fmt.Sprintf("the number of tokens must be 1-%d", s.opts.MaxTokens))
		return
	}
	if code, msg := s.checkMessage(req.Message); code != "" {
		s.answer(w, http.StatusBadRequest, code, msg)
		return
	}
	if req.ValidateOnly {
		s.answer(w, http.StatusOK, "80000000", "Success")
		return
	}
	s.deliver(w, tokens)
}

// authorize checks the bearer token against the app of the URL.
func (s *Server) authorize(r *http.Request) (code, msg string) {
	const oauthErr, expired = "80200001", "80200003"
	h := r.Header.Get("Authorization")
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return oauthErr, "Oauth authentication error"
	}
	s.mu.Lock()
	is, known := s.issued[tok]
	s.mu.Unlock()
	switch {
	case !known || is.appID != r.PathValue("appId"):
		return oauthErr, "Oauth authentication error"
	case !time.Now().Before(is.exp):
		return expired, "Oauth token expired"
	}
	return "", ""
}

// checkMessage validates the message the way Push Kit does (the subset a
// token push uses).
func (s *Server) checkMessage(m map[string]json.RawMessage) (code, msg string) {
	if raw, ok := m["data"]; ok {
		var d string
		if json.Unmarshal(raw, &d) != nil {
			return "80100003", "Illegal payload, data must be a string"
		}
	}
	if s.opts.MaxMessageBytes > 0 {
		rest := make(map[string]json.RawMessage, len(m))
		for k, v := range m {
			if k != "token" {
				rest[k] = v
			}
		}
		b, _ := json.Marshal(rest)
		if len(b) > s.opts.MaxMessageBytes {
			return "80300008", fmt.Sprintf("The message body size exceeds the default value: %d bytes", len(b))
		}
	}
	raw, ok := m["android"]
	if !ok {
		return "", ""
	}
	var a wireAndroid
	if err := json.Unmarshal(raw, &a); err != nil {
		return "80100003", "Illegal payload, android: " + err.Error()
	}
	switch {
	case a.CollapseKey != nil && (*a.CollapseKey < -1 || *a.CollapseKey > 100):
		return "80100013", "Illegal collapse_key"
	case a.Urgency != "" && a.Urgency != "HIGH" && a.Urgency != "NORMAL":
		return "80100003", "Illegal payload, urgency must be HIGH or NORMAL"
	case a.TTL != "" && !ttlPattern.MatchString(a.TTL):
		return "80100003", "Illegal payload, ttl"
	}
	if len(a.Notification) > 0 && string(a.Notification) != "null" {
		var n wireNotification
		if err := json.Unmarshal(a.Notification, &n); err != nil {
			return "80100003", "Illegal payload, notification: " + err.Error()
		}
		if n.ClickAction == nil || n.ClickAction.Type < 1 || n.ClickAction.Type > 4 {
			return "80100003", "Illegal payload, click_action is mandatory"
		}
	}
	return "", ""
}

// deliver records the live tokens and answers success, partial success
// with the dead ones, or 80300007 when none is alive.
func (s *Server) deliver(w http.ResponseWriter, tokens []string) {
	bad, n := s.Deliver(tokens, nil)
	if n == 0 {
		s.answer(w, http.StatusBadRequest, "80300007", "All the tokens are invalid")
		return
	}
	if len(bad) == 0 {
		s.answer(w, http.StatusOK, "80000000", "Success")
		return
	}
	msg, _ := json.Marshal(map[string]any{"success": len(tokens) - len(bad), "failure": len(bad), "illegal_tokens": bad})
	s.answer(w, http.StatusOK, "80100000", string(msg))
}

func (s *Server) answer(w http.ResponseWriter, status int, code, msg string) {
	fakeserver.WriteJSON(w, status, result{Code: code, Msg: msg, RequestID: s.requestID()})
}

// requestID imitates Push Kit's numeric request ids.
func (s *Server) requestID() string {
	return fmt.Sprintf("%d%07d", time.Now().UnixMilli(), s.seq.Add(1))
}

// wait applies the latency; false when the request or the fake ended first.
func (s *Server) wait(r *http.Request) bool {
	return fakeserver.Delay(r.Context(), s.Latency(), s.Done())
}

// Answer is an injected answer. With Drop the connection is closed without
// an answer; otherwise Body is sent as is when set, else Push Kit's JSON
// with Code and Msg. Status defaults to 200; RetryAfter, if set, is sent.
type Answer struct {
	Status     int
	Code, Msg  string
	Body       string
	RetryAfter time.Duration
	Drop       bool
}

type fault struct {
	n int
	a Answer
}

func (s *Server) write(w http.ResponseWriter, a Answer) {
	if a.Drop {
		drop(w)
		return
	}
	if a.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(int64((a.RetryAfter+time.Second-1)/time.Second), 10))
	}
	status := cmpOr(a.Status, http.StatusOK)
	if a.Code == "" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		_, _ = io.Copy(w, bytes.NewReader([]byte(a.Body)))
		return
	}
	s.answer(w, status, a.Code, a.Msg)
}

func cmpOr(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}

// drop ends the request without an answer: over HTTP/1.1 the connection is
// closed; HTTP/2 cannot hijack, so the stream is reset.
func drop(w http.ResponseWriter) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		_ = conn.Close()
		return
	}
	panic(http.ErrAbortHandler)
}
