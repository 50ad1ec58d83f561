package mifake

import (
	"fmt"
	"net/http"

	"github.com/pushfleet/pushfleet/pkg/provider/fakeserver"
)

// answer is MiPush's body; field order follows real answers:
//
//	{"result":"ok","trace_id":"…","code":0,"data":{…},"description":"成功","info":"…"}
//	{"result":"error","reason":"No valid targets!","trace_id":"…","code":20301,"description":"发送消息失败"}
type answer struct {
	Result      string `json:"result"`
	Reason      string `json:"reason,omitempty"`
	TraceID     string `json:"trace_id"`
	Code        int    `json:"code"`
	Data        any    `json:"data,omitempty"`
	Description string `json:"description"`
	Info        string `json:"info,omitempty"`
}

type sendData struct {
	ID        string `json:"id"`
	BadRegIDs string `json:"bad_regids,omitempty"`
	DayQuota  string `json:"day_quota"`
	DayAcked  string `json:"day_acked"`
}

type listData struct {
	List []string `json:"list"`
}

// write sends an injected or error answer.
func (s *Server) write(w http.ResponseWriter, a Answer) {
	if a.Drop {
		drop(w)
		return
	}
	status := a.Status
	if status == 0 {
		status = http.StatusOK
	}
	if a.Body != "" || a.Code == 0 {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(a.Body))
		return
	}
	s.writeJSONStatus(w, status, answer{Result: "error", Reason: a.Reason, TraceID: s.traceID(), Code: a.Code, Description: a.Description})
}

func (s *Server) writeJSON(w http.ResponseWriter, a answer) { s.writeJSONStatus(w, http.StatusOK, a) }

func (s *Server) writeJSONStatus(w http.ResponseWriter, status int, a answer) {
	fakeserver.WriteJSON(w, status, a)
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

// traceID and messageID imitate MiPush's ids ("Xlm…", "alm…"), unique per fake.
func (s *Server) traceID() string   { return fmt.Sprintf("Xlm%019d", s.seq.Add(1)) }
func (s *Server) messageID() string { return fmt.Sprintf("alm%019d", s.seq.Add(1)) }
