package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pushfleet/pushfleet/pkg/events"
)

// gorush platforms.
const (
	gorushIOS     = 1
	gorushAndroid = 2
	gorushHuawei  = 3
)

// GorushRequest is gorush's POST /api/push body.
type GorushRequest struct {
	Notifications *[]GorushNotification `json:"notifications"`
}

// GorushNotification is one of gorush's notifications: the fields of its
// documented request body. Fields pushfleet has no use for are accepted
// and ignored (see docs/gateway.md); fields it cannot honour are refused.
type GorushNotification struct {
	NotifID  string   `json:"notif_id,omitempty"`
	Tokens   []string `json:"tokens,omitempty"`
	Platform int      `json:"platform"`
	Message  string   `json:"message,omitempty"`
	Title    string   `json:"title,omitempty"`
	Image    string   `json:"image,omitempty"`
	Priority string   `json:"priority,omitempty"`
	// ContentAvailable and MutableContent are APNs flags (FCM's
	// content_available is iOS-only too).
	ContentAvailable bool `json:"content_available,omitempty"`
	MutableContent   bool `json:"mutable_content,omitempty"`
	// Sound is a name, or (iOS) {"critical", "name", "volume"}.
	Sound json.RawMessage `json:"sound,omitempty"`
	Data  map[string]any  `json:"data,omitempty"`
	// Retry is gorush's resend count: pushfleet retries on its own.
	Retry int `json:"retry,omitempty"`

	// Android (FCM).
	APIKey                string                     `json:"api_key,omitempty"`
	To                    string                     `json:"to,omitempty"`
	Condition             string                     `json:"condition,omitempty"`
	Topic                 string                     `json:"topic,omitempty"`
	CollapseKey           string                     `json:"collapse_key,omitempty"`
	DelayWhileIdle        bool                       `json:"delay_while_idle,omitempty"`
	TimeToLive            *int64                     `json:"time_to_live,omitempty"`
	RestrictedPackageName string                     `json:"restricted_package_name,omitempty"`
	DryRun                bool                       `json:"dry_run,omitempty"`
	Notification          map[string]json.RawMessage `json:"notification,omitempty"`

	// iOS (APNs).
	Expiration        *int64                     `json:"expiration,omitempty"`
	ApnsID            string                     `json:"apns_id,omitempty"`
	CollapseID        string                     `json:"collapse_id,omitempty"`
	PushType          string                     `json:"push_type,omitempty"`
	Badge             *int                       `json:"badge,omitempty"`
	Category          string                     `json:"category,omitempty"`
	ThreadID          string                     `json:"thread-id,omitempty"`
	Alert             map[string]json.RawMessage `json:"alert,omitempty"`
	Production        bool                       `json:"production,omitempty"`
	Development       bool                       `json:"development,omitempty"`
	SoundName         string                     `json:"name,omitempty"`
	SoundVolume       *float64                   `json:"volume,omitempty"`
	InterruptionLevel string                     `json:"interruption_level,omitempty"`
	Apns              map[string]json.RawMessage `json:"apns,omitempty"`
}

// GorushResponse is gorush's answer to POST /api/push, plus the intents.
type GorushResponse struct {
	Counts  int            `json:"counts"`
	Logs    []GorushLog    `json:"logs"`
	Success string         `json:"success"`
	Intents []IntentResult `json:"intents"`
}

// GorushLog is one failed push, in gorush's log shape.
type GorushLog struct {
	Type     string `json:"type"`
	Platform string `json:"platform"`
	Token    string `json:"token"`
	Message  string `json:"message"`
	Error    string `json:"error"`
}

// androidNotificationKeys are the FCM v1 AndroidNotification fields a
// gorush "notification" object may carry (gorush documents the first eight).
var androidNotificationKeys = map[string]bool{
	"icon": true, "tag": true, "color": true, "click_action": true,
	"body_loc_key": true, "body_loc_args": true, "title_loc_key": true, "title_loc_args": true,
	"title": true, "body": true, "sound": true, "channel_id": true, "image": true,
	"ticker": true, "sticky": true, "visibility": true, "notification_count": true,
}

// gorushPlatformName is gorush's platform name in logs and stats.
func gorushPlatformName(p int) string {
	switch p {
	case gorushIOS:
		return "ios"
	case gorushAndroid:
		return "android"
	case gorushHuawei:
		return "huawei"
	}
	return fmt.Sprintf("platform-%d", p)
}

// ToIntent maps a gorush notification onto an intent of app (the id is
// left to the caller). An error names the gorush field.
func (n *GorushNotification) ToIntent(app string, now time.Time) (*events.Intent, *ItemError) {
	bad := func(field, format string, args ...any) *ItemError {
		return &ItemError{Field: field, Detail: fmt.Sprintf(format, args...)}
	}
	var platform events.Platform
	switch n.Platform {
	case gorushIOS:
		platform = events.APNs
	case gorushAndroid:
		platform = events.FCM
	case gorushHuawei:
		return nil, bad("platform", "3 (Huawei HMS) is not supported: pushfleet has no HMS sender yet; send Android devices through FCM (platform 2)")
	case 0:
		return nil, bad("platform", "is required: 1 (iOS, APNs) or 2 (Android, FCM)")
	default:
		return nil, bad("platform", "%d is unknown: 1 (iOS, APNs) or 2 (Android, FCM)", n.Platform)
	}
	if n.DryRun {
		return nil, bad("dry_run", "is not supported: pushfleet would really send; validate against a sandbox fleet instead")
	}
	if len(n.Tokens) == 0 {
		if n.To != "" || n.Condition != "" || (platform == events.FCM && n.Topic != "") {
			return nil, bad("to", "FCM topics, conditions and \"to\" are not supported: pushfleet sends to device tokens; list them in tokens (or publish an alias or tag intent on /v1/intents)")
		}
		return nil, bad("tokens", "is required: at least one device token")
	}
	if platform == events.FCM && (n.To != "" || n.Condition != "" || n.Topic != "") {
		return nil, bad("topic", "FCM topics, conditions and \"to\" are not supported alongside tokens: pushfleet sends to device tokens only")
	}
	in := &events.Intent{App: app}
	for _, t := range n.Tokens {
		in.Targets.Tokens = append(in.Targets.Tokens, events.Target{Platform: platform, Token: t})
	}
	nt := &in.Notification
	nt.Title, nt.Body = n.Title, n.Message
	nt.Badge = n.Badge
	nt.Data = n.Data
	nt.CollapseKey = n.CollapseKey
	nt.ContentAvailable = n.ContentAvailable
	switch p := strings.ToLower(n.Priority); p {
	case "":
	case "high", "normal":
		nt.Priority = events.Priority(p)
	default:
		return nil, bad("priority", "must be high or normal, got %q", n.Priority)
	}
	soundDict, soundName, e := gorushSound(n)
	if e != nil {
		return nil, e
	}
	nt.Sound = soundName
	switch platform {
	case events.APNs:
		nt.MutableContent = n.MutableContent
		nt.PushType = n.PushType
		nt.Category = n.Category
		nt.ThreadID = n.ThreadID
		if n.CollapseID != "" {
			nt.CollapseKey = n.CollapseID
		}
		if n.Expiration != nil && *n.Expiration > 0 {
			t := time.Unix(*n.Expiration, 0).UTC()
			nt.Expiry = &t
		}
		aps := map[string]json.RawMessage{}
		if soundDict != nil {
			aps["sound"] = soundDict
		}
		if n.InterruptionLevel != "" {
			aps["interruption-level"], _ = json.Marshal(n.InterruptionLevel)
		}
		if len(n.Alert) > 0 {
			// title and body go to the notification; a richer alert
			// (subtitle, loc-key, ...) replaces the derived one whole.
			alert := map[string]json.RawMessage{}
			for k, v := range n.Alert {
				alert[k] = v
			}
			if v, ok := n.Alert["title"]; ok {
				if err := json.Unmarshal(v, &nt.Title); err != nil {
					return nil, bad("alert.title", "must be a string")
				}
			}
			if v, ok := n.Alert["body"]; ok {
				if err := json.Unmarshal(v, &nt.Body); err != nil {
					return nil, bad("alert.body", "must be a string")
				}
			}
			rich := false
			for k := range alert {
				rich = rich || (k != "title" && k != "body")
			}
			if rich {
				if nt.Title != "" {
					alert["title"], _ = json.Marshal(nt.Title)
				}
				if nt.Body != "" {
					alert["body"], _ = json.Marshal(nt.Body)
				}
				aps["alert"], _ = json.Marshal(alert)
			}
		}
		if len(aps) > 0 || len(n.Apns) > 0 {
			o := &events.APNsOverrides{}
			if len(aps) > 0 {
				o.Aps = aps
			}
			if len(n.Apns) > 0 {
				o.Payload = n.Apns
			}
			in.Overrides = &events.Overrides{APNs: o}
		}
	case events.FCM:
		if n.TimeToLive != nil {
			if *n.TimeToLive < 0 {
				return nil, bad("time_to_live", "must not be negative")
			}
			t := now.Add(time.Duration(*n.TimeToLive) * time.Second).UTC()
			if *n.TimeToLive == 0 {
				t = now.Add(time.Second).UTC() // "now or never": the shortest expiry pushfleet can express
			}
			nt.Expiry = &t
		}
		android := map[string]any{}
		notif := map[string]json.RawMessage{}
		for _, k := range sortedKeys(n.Notification) {
			v := n.Notification[k]
			if !androidNotificationKeys[k] {
				return nil, bad("notification."+k, "is not an FCM Android notification field")
			}
			if (k == "body_loc_args" || k == "title_loc_args") && len(v) > 0 && v[0] == '"' {
				var s string
				_ = json.Unmarshal(v, &s)
				v, _ = json.Marshal([]string{s}) // gorush documents a string; FCM v1 takes a list
			}
			notif[k] = v
		}
		if n.Image != "" {
			notif["image"], _ = json.Marshal(n.Image)
		}
		if len(notif) > 0 {
			android["notification"] = notif
		}
		if n.RestrictedPackageName != "" {
			android["restricted_package_name"] = n.RestrictedPackageName
		}
		if len(android) > 0 {
			raw, _ := json.Marshal(android)
			in.Overrides = &events.Overrides{FCM: &events.FCMOverrides{Android: raw}}
		}
	}
	return in, nil
}

// gorushSound reads sound (a name or an iOS sound dictionary) and the
// top-level name and volume. It returns the aps sound dictionary, if any,
// and the sound name.
func gorushSound(n *GorushNotification) (json.RawMessage, string, *ItemError) {
	name := n.SoundName
	dict := map[string]json.RawMessage{}
	if len(n.Sound) > 0 && string(n.Sound) != "null" {
		var s string
		if err := json.Unmarshal(n.Sound, &s); err == nil {
			name = s
		} else if err := json.Unmarshal(n.Sound, &dict); err != nil {
			return nil, "", &ItemError{Field: "sound", Detail: "must be a sound name or {\"critical\", \"name\", \"volume\"}"}
		}
	}
	if v, ok := dict["name"]; ok {
		if err := json.Unmarshal(v, &name); err != nil {
			return nil, "", &ItemError{Field: "sound.name", Detail: "must be a string"}
		}
	}
	if n.SoundVolume != nil {
		dict["volume"], _ = json.Marshal(*n.SoundVolume)
	}
	if n.Platform != gorushIOS || len(dict) == 0 || (len(dict) == 1 && dict["name"] != nil) {
		return nil, name, nil
	}
	if name != "" {
		dict["name"], _ = json.Marshal(name)
	}
	raw, _ := json.Marshal(dict)
	return raw, name, nil
}

// gorushID is the intent id of a gorush notification: notif_id when it is
// a valid id, else a hash of it (retries of the same notif_id still
// deduplicate), else the Idempotency-Key (":<index>" when several), else
// random.
func gorushID(notifID, idem string, index int, several bool) string {
	if notifID != "" {
		if idPattern.MatchString(notifID) {
			return notifID
		}
		sum := sha256.Sum256([]byte(notifID))
		return "gorush-" + hex.EncodeToString(sum[:16])
	}
	return deriveID(idem, index, several)
}

// gorushApp is the app of a gorush request: ?app=, X-Pushfleet-App, or
// the key's only app.
func gorushApp(r *http.Request, k *Key) string {
	if a := r.URL.Query().Get("app"); a != "" {
		return a
	}
	if a := r.Header.Get("X-Pushfleet-App"); a != "" {
		return a
	}
	return k.onlyApp()
}

// gorushPush serves POST /api/push.
func (g *Gateway) gorushPush(w http.ResponseWriter, r *http.Request) {
	k := keyOf(r)
	body, ok := g.readBody(w, r, true)
	if !ok {
		return
	}
	idem, prob := idempotencyKey(r)
	if prob != nil {
		writeProblem(w, r, prob)
		return
	}
	var req GorushRequest
	if err := json.Unmarshal(body, &req); err != nil {
		field, detail := describeJSON(err)
		p := newProblem(http.StatusBadRequest, probMalformed, "the body is not a gorush request: "+detail)
		p.Field = field
		writeProblem(w, r, p)
		return
	}
	switch {
	case req.Notifications == nil:
		writeProblem(w, r, withField(newProblem(http.StatusBadRequest, probMalformed, "Missing notifications field."), "notifications"))
		return
	case len(*req.Notifications) == 0:
		writeProblem(w, r, withField(newProblem(http.StatusBadRequest, probMalformed, "Notifications field is empty."), "notifications"))
		return
	case len(*req.Notifications) > g.cfg.MaxBatch:
		writeProblem(w, r, withField(newProblem(http.StatusBadRequest, probMalformed,
			fmt.Sprintf("Number of notifications(%d) over limit(%d)", len(*req.Notifications), g.cfg.MaxBatch)), "notifications"))
		return
	}
	notes := *req.Notifications
	app := gorushApp(r, k)
	switch {
	case app == "":
		writeProblem(w, r, withField(newProblem(http.StatusBadRequest, probMalformed,
			fmt.Sprintf("which app? API key %q may publish for %s: name one with ?app=<app> or the X-Pushfleet-App header", k.Name, listApps(k.Apps))), "app"))
		return
	case !events.ValidApp(app):
		writeProblem(w, r, withField(newProblem(http.StatusUnprocessableEntity, probInvalid,
			fmt.Sprintf("app %q: names are 1-64 characters of A-Z a-z 0-9 _ -", app)), "app"))
		return
	case !k.Allows(app):
		g.m.Intents.WithLabelValues(g.appLabel(app), "forbidden").Add(float64(len(notes)))
		writeProblem(w, r, withField(newProblem(http.StatusForbidden, probForbidden,
			fmt.Sprintf("API key %q may not publish for app %q (it may for: %s); nothing was published", k.Name, app, listApps(k.Apps))), "app"))
		return
	}
	now := g.now()
	ins := make([]*events.Intent, len(notes))
	var errs []ItemError
	huawei := false
	for i := range notes {
		n := &notes[i]
		in, e := n.ToIntent(app, now)
		if e == nil {
			in.ID = gorushID(n.NotifID, idem, i, len(notes) > 1)
			e = g.check(in)
		}
		if e != nil {
			e.Index = i
			e.Field = "notifications[" + fmt.Sprint(i) + "]." + e.Field
			errs = append(errs, *e)
			huawei = huawei || n.Platform == gorushHuawei
			continue
		}
		ins[i] = in
	}
	if len(errs) > 0 {
		for i := range notes {
			g.stats.refused(notes[i].Platform, len(notes[i].Tokens))
		}
		g.m.Intents.WithLabelValues(g.appLabel(app), "invalid").Add(float64(len(notes)))
		var p *Problem
		slug := probInvalid
		if huawei && len(errs) == 1 {
			slug = probUnsupported
		}
		if len(errs) == 1 {
			p = newProblem(http.StatusUnprocessableEntity, slug, errs[0].Field+": "+errs[0].Detail+"; nothing was published")
			p.Field = errs[0].Field
			if len(notes) > 1 {
				p.Index = &errs[0].Index
			}
		} else {
			p = newProblem(http.StatusUnprocessableEntity, slug,
				fmt.Sprintf("%d of %d notifications cannot be sent; nothing was published", len(errs), len(notes)))
			p.Errors = errs
		}
		writeProblem(w, r, p)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), g.cfg.Timeout)
	defer cancel()
	res := g.publishAll(ctx, ins)
	g.stats.intents(res)
	resp := GorushResponse{Logs: []GorushLog{}, Success: "ok", Intents: res}
	failed := 0
	var lastErr *Problem
	for i, x := range res {
		n := &notes[i]
		if x.Error != nil {
			failed++
			lastErr = x.Error
			g.stats.refused(n.Platform, len(n.Tokens))
			for _, t := range n.Tokens {
				resp.Logs = append(resp.Logs, GorushLog{Type: "failed-push", Platform: gorushPlatformName(n.Platform),
					Token: maskToken(t), Message: n.Message, Error: x.Error.Detail})
			}
			continue
		}
		g.stats.accepted(n.Platform, len(n.Tokens))
		resp.Counts += len(n.Tokens)
	}
	if failed == len(res) {
		writeProblem(w, r, lastErr)
		return
	}
	status := http.StatusOK
	if failed > 0 {
		status = http.StatusMultiStatus
	}
	writeJSON(w, status, resp)
}

func withField(p *Problem, field string) *Problem {
	p.Field = field
	return p
}

// maskToken keeps a token's last 4 characters, as in pushfleet's logs.
func maskToken(t string) string {
	if len(t) <= 4 {
		return "****"
	}
	return "****" + t[len(t)-4:]
}

// stats are this process's counters behind GET /api/stat/app.
type stats struct {
	since time.Time
	// tokens of /api/push by gorush platform: [platform][0 ok, 1 error]
	ios, android, huawei, other [2]atomic.Int64
	// intents of both routes by outcome
	published, duplicate, failed atomic.Int64
}

func (s *stats) platform(p int) *[2]atomic.Int64 {
	switch p {
	case gorushIOS:
		return &s.ios
	case gorushAndroid:
		return &s.android
	case gorushHuawei:
		return &s.huawei
	}
	return &s.other
}

func (s *stats) accepted(p, n int) { s.platform(p)[0].Add(int64(n)) }
func (s *stats) refused(p, n int)  { s.platform(p)[1].Add(int64(n)) }

func (s *stats) intents(res []IntentResult) {
	for _, x := range res {
		switch {
		case x.Error != nil:
			s.failed.Add(1)
		case x.Duplicate:
			s.duplicate.Add(1)
		default:
			s.published.Add(1)
		}
	}
}

// GorushPlatformStat is gorush's per-platform counters.
type GorushPlatformStat struct {
	PushSuccess int64 `json:"push_success"`
	PushError   int64 `json:"push_error"`
}

// GorushStat answers GET /api/stat/app: gorush's shape, with this
// gateway's own counters since it started.
type GorushStat struct {
	Version    string             `json:"version"`
	Since      time.Time          `json:"since"`
	TotalCount int64              `json:"total_count"`
	IOS        GorushPlatformStat `json:"ios"`
	Android    GorushPlatformStat `json:"android"`
	Huawei     GorushPlatformStat `json:"huawei"`
	Intents    map[string]int64   `json:"intents"`
	Note       string             `json:"note"`
}

func (g *Gateway) gorushStat(w http.ResponseWriter, _ *http.Request) {
	s := &g.stats
	pair := func(c *[2]atomic.Int64) GorushPlatformStat {
		return GorushPlatformStat{PushSuccess: c[0].Load(), PushError: c[1].Load()}
	}
	st := GorushStat{
		Version: "pushfleet-gateway",
		Since:   s.since,
		IOS:     pair(&s.ios), Android: pair(&s.android), Huawei: pair(&s.huawei),
		Intents: map[string]int64{"published": s.published.Load(), "duplicate": s.duplicate.Load(), "failed": s.failed.Load()},
		Note: "counters of this gateway process since it started: push_success counts device tokens of /api/push " +
			"accepted onto PUSH_INTENTS (not deliveries: outcomes are feedback events on PUSH_FEEDBACK), push_error " +
			"tokens refused (invalid, unsupported or not published); intents counts both routes",
	}
	for _, c := range []*[2]atomic.Int64{&s.ios, &s.android, &s.huawei, &s.other} {
		st.TotalCount += c[0].Load() + c[1].Load()
	}
	writeJSON(w, http.StatusOK, st)
}

// sortedKeys is for stable error listings.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
