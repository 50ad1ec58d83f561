package mifake

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pushfleet/pushfleet/pkg/provider/fakeserver"
)

type target int

const (
	targetRegID target = iota
	targetAlias
	targetTopic
	targetAll
)

// AllDevices is the target Delivered counts MiPush's all-devices
// broadcasts (/v2|v3/message/all) under.
const AllDevices = "(all devices)"

// param is the form field holding the targets; label is MiPush's word for
// them in "info".
func (t target) param() string { return [...]string{"registration_id", "alias", "topic", ""}[t] }
func (t target) label() string { return [...]string{"REGID", "ALIAS", "TOPIC", "ALL"}[t] }

var errBadSecret = Answer{Code: 21301, Reason: "Invalid application secret.", Description: "认证失败"}

// message handles a send to regids, aliases or a topic.
func (s *Server) message(t target) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.Arrived()
		perr := r.ParseForm()
		s.mu.Lock()
		s.last = lastRequest{path: r.URL.Path, form: r.Form}
		s.mu.Unlock()
		if !s.wait(r) {
			return
		}
		if a, ok := s.nextFault(); ok {
			s.write(w, a)
			return
		}
		pkg, ok := s.authorize(r)
		if !ok {
			s.write(w, errBadSecret)
			return
		}
		if perr != nil {
			s.write(w, invalidParam("form: "+perr.Error()))
			return
		}
		if a, ok := s.checkMessage(r.Form, pkg); !ok {
			s.write(w, a)
			return
		}
		targets := splitValues(r.Form[t.param()])
		switch t {
		case targetTopic:
			// One topic per request (several go to /message/multi_topic),
			// taken as is.
			targets = r.Form[t.param()]
			if len(targets) > 1 {
				s.write(w, invalidParam("topic: one topic per request, use multi_topic for several"))
				return
			}
			if len(targets) == 1 && strings.TrimSpace(targets[0]) == "" {
				targets = nil
			}
		case targetAll:
			// The broadcast names no target: the app's package is the audience.
			s.deliver(w, t, []string{AllDevices})
			return
		}
		switch {
		case len(targets) == 0:
			s.write(w, missingParam(t.param()))
			return
		case len(targets) > s.opts.MaxRegIDs:
			s.write(w, invalidParam(fmt.Sprintf("%d %s exceed the limit of %d", len(targets), t.param(), s.opts.MaxRegIDs)))
			return
		}
		s.deliver(w, t, targets)
	}
}

// checkMessage validates the message fields the way MiPush does.
func (s *Server) checkMessage(form url.Values, pkg string) (Answer, bool) {
	pkgs := splitValues(form["restricted_package_name"])
	switch {
	case len(pkgs) == 0:
		return missingParam("restricted_package_name"), false
	case !slices.Contains(pkgs, pkg):
		return Answer{Code: 22022, Reason: "Invalid package name: " + strings.Join(pkgs, ","), Description: "包名非法"}, false
	}
	switch form.Get("pass_through") {
	case "", "0":
		if strings.TrimSpace(form.Get("title")) == "" || strings.TrimSpace(form.Get("description")) == "" {
			return Answer{Code: 65011, Reason: "Title or Description is empty!", Description: "未提供参数"}, false
		}
	case "1":
	default:
		return invalidParam("pass_through must be 0 or 1"), false
	}
	if n := len(form.Get("payload")); s.opts.MaxPayloadBytes > 0 && n > s.opts.MaxPayloadBytes {
		return invalidParam(fmt.Sprintf("payload of %d bytes exceeds %d", n, s.opts.MaxPayloadBytes)), false
	}
	for _, k := range []string{"notify_type", "notify_id", "time_to_live", "time_to_send"} {
		if v := form.Get(k); v != "" {
			if _, err := strconv.ParseInt(v, 10, 64); err != nil {
				return invalidParam(k + " must be an integer"), false
			}
		}
	}
	if ttl, _ := strconv.ParseInt(form.Get("time_to_live"), 10, 64); ttl < 0 || ttl > (14*24*time.Hour).Milliseconds() {
		return invalidParam("time_to_live out of range"), false
	}
	return Answer{}, true
}

// deliver records the accepted targets and answers code 0 with the dead
// ones in bad_regids, or 20301 when none is alive.
func (s *Server) deliver(w http.ResponseWriter, t target, targets []string) {
	bad, good := s.Deliver(targets, func(string) bool { return t == targetRegID || t == targetAlias })
	if good == 0 {
		s.write(w, Answer{Code: 20301, Reason: "No valid targets!", Description: "发送消息失败"})
		return
	}
	s.mu.Lock()
	s.dayAcked += good
	acked := s.dayAcked
	s.mu.Unlock()
	s.writeJSON(w, answer{
		Result: "ok", TraceID: s.traceID(), Code: 0, Description: "成功",
		Info: fmt.Sprintf("Received push messages for %d %s", good, t.label()),
		Data: sendData{ID: s.messageID(), BadRegIDs: strings.Join(bad, ","),
			DayQuota: strconv.Itoa(s.opts.DayQuota), DayAcked: strconv.Itoa(acked)},
	})
}

// fetchInvalid serves the drain-once feedback feed.
func (s *Server) fetchInvalid(w http.ResponseWriter, r *http.Request) {
	s.feedback.Add(1)
	if !s.wait(r) {
		return
	}
	if _, ok := s.authorize(r); !ok {
		s.write(w, errBadSecret)
		return
	}
	s.mu.Lock()
	n := min(len(s.invalid), feedbackPage)
	list := slices.Clone(s.invalid[:n])
	s.invalid = s.invalid[n:]
	s.mu.Unlock()
	s.writeJSON(w, answer{Result: "ok", TraceID: s.traceID(), Code: 0, Description: "成功", Data: listData{List: list}})
}

// authorize maps "Authorization: key=<secret>" to the app's package.
func (s *Server) authorize(r *http.Request) (string, bool) {
	secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "key=")
	if !ok {
		return "", false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	pkg, ok := s.apps[secret]
	return pkg, ok
}

// wait applies the latency and jitter; false when the request or the
// fake ended first (then nothing is answered).
func (s *Server) wait(r *http.Request) bool {
	d := s.Latency()
	s.mu.Lock()
	if s.jitter > 0 {
		d += rand.N(s.jitter)
	}
	h := s.hold
	if h != nil {
		h.waiting++
		if h.waiting == h.n {
			close(h.release)
			s.hold = nil
		}
	}
	s.mu.Unlock()
	if h != nil {
		select {
		case <-h.release:
		case <-r.Context().Done():
			return false
		case <-s.Done():
			return false
		}
	}
	return fakeserver.Delay(r.Context(), d, s.Done())
}

// splitValues accepts repeated params and a comma-joined list alike; a
// repeated param is taken as is (an alias may hold a comma).
func splitValues(vs []string) []string {
	if len(vs) > 1 {
		return slices.DeleteFunc(slices.Clone(vs), func(v string) bool { return strings.TrimSpace(v) == "" })
	}
	var out []string
	for _, v := range vs {
		for item := range strings.SplitSeq(v, ",") {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
	}
	return out
}

func missingParam(name string) Answer {
	return Answer{Code: 10016, Reason: "Missing required parameter: " + name, Description: "缺少必填参数"}
}

func invalidParam(why string) Answer {
	return Answer{Code: 10017, Reason: "Invalid parameter value: " + why, Description: "非法参数值"}
}
