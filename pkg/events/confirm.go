package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Confirm asks for confirmed delivery (Intent.Confirm): every device that
// the notification was delivered to should confirm it (a Confirmation
// from the app's backend). A delivered token that has not confirmed is
// sent the notification again every ResendEvery until Within has passed
// since the intent was dispatched; then it is reported unconfirmed.
// Each delivered token ends with exactly one of the outcomes confirmed or
// unconfirmed, reported by the confirmation service.
type Confirm struct {
	// Within is how long after dispatch a confirmation is awaited.
	Within Duration `json:"within"`
	// ResendEvery is the interval of the re-sends to delivered tokens not
	// confirmed yet; zero (omitted) re-sends nothing and only reports.
	ResendEvery Duration `json:"resend_every,omitempty"`
}

// Bounds of Confirm, checked by Intent.Validate.
const (
	// MinConfirmInterval is the least Within and ResendEvery: the timers
	// are JetStream message schedules, which have one-second resolution.
	MinConfirmInterval = time.Second
	// MaxConfirmWithin is the longest Within: the confirmation service
	// keeps its state (KV push_confirm) a day longer.
	MaxConfirmWithin = 7 * 24 * time.Hour
	// MaxConfirmResends bounds the re-sends of one intent (Within /
	// ResendEvery, rounded down).
	MaxConfirmResends = 100
	// MaxConfirmIDLength bounds the id of an intent with Confirm, so that
	// its re-sends' ids (ResendID) stay within the 128 characters of an id.
	MaxConfirmIDLength = 112
)

// Duration is a time.Duration written in JSON as Go writes durations:
// "90s", "10m", "1h30m".
type Duration time.Duration

// D is d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes d as "1m30s".
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// UnmarshalJSON reads "1m30s" (time.ParseDuration's syntax).
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"30s\", \"10m\" or \"1h30m\", not %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: want a string such as \"30s\", \"10m\" or \"1h30m\"", s)
	}
	*d = Duration(v)
	return nil
}

// Resends is how many re-sends c asks for: one every ResendEvery strictly
// before Within ends.
func (c *Confirm) Resends() int {
	if c.ResendEvery <= 0 {
		return 0
	}
	return int((c.Within - 1) / c.ResendEvery)
}

// validateConfirm checks in.Confirm: its bounds, and targets a device can
// confirm (a provider topic has no device to answer).
func (in *Intent) validateConfirm() error {
	c := in.Confirm
	if c == nil {
		return nil
	}
	within, every := c.Within.D(), c.ResendEvery.D()
	switch {
	case within < MinConfirmInterval:
		return invalid("confirm.within", "%v is below the least of %v (the timers have one-second resolution)", within, MinConfirmInterval)
	case within > MaxConfirmWithin:
		return invalid("confirm.within", "%v is beyond the longest of %v", within, MaxConfirmWithin)
	case every < 0:
		return invalid("confirm.resend_every", "must not be negative")
	case every > 0 && every < MinConfirmInterval:
		return invalid("confirm.resend_every", "%v is below the least of %v (the timers have one-second resolution)", every, MinConfirmInterval)
	case every >= within:
		return invalid("confirm.resend_every", "%v must be shorter than within (%v): no re-send would happen", every, within)
	case c.Resends() > MaxConfirmResends:
		return invalid("confirm.resend_every", "%v over %v makes %d re-sends, more than the %d allowed", every, within, c.Resends(), MaxConfirmResends)
	case in.Targets.Topics != nil:
		return invalid("confirm", "does not apply to topics: only a device token can confirm")
	case len(in.ID) > MaxConfirmIDLength:
		return invalid("id", "must be at most %d characters with confirm (its re-sends are %s)", MaxConfirmIDLength, ResendID(in.ID, 1, 0))
	}
	return nil
}

// Confirmation subjects, streams and names (docs/CONTRACT.md,
// "Confirmed delivery").
const (
	// ConfirmRoot is the root of the confirmation subjects.
	ConfirmRoot = "push.confirm"
	// StreamConfirm holds the confirmations producers publish
	// (push.confirm.<app>) and the dispatcher's watch records
	// (push.confirm.watch.<app>.<hash>): a work queue without roll-ups or
	// schedules, consumed by the confirmation service.
	StreamConfirm = "PUSH_CONFIRM"
	// StreamConfirmTimers holds the confirmation service's own re-send
	// timers (message schedules) and the ticks they release; only that
	// service writes to it.
	StreamConfirmTimers = "PUSH_CONFIRM_TIMERS"
	// ConfirmBucket is the confirmation service's state: one key per
	// watched intent and one per token of it.
	ConfirmBucket = "push_confirm"
	// DurableConfirm is the confirmation service's durable consumers (on
	// PUSH_CONFIRM, PUSH_CONFIRM_TIMERS and PUSH_FEEDBACK) and its name.
	DurableConfirm = "confirm-service"
	// StageConfirm is the dead-letter stage of the confirmation service.
	StageConfirm = "confirm"
)

// ConfirmSubject is where app's backend publishes Confirmations.
func ConfirmSubject(app string) string { return ConfirmRoot + "." + app }

// ConfirmWatchSubject is where the dispatcher records that intent id of
// app, which asks for confirmation, was dispatched.
func ConfirmWatchSubject(app, id string) string {
	return ConfirmRoot + ".watch." + app + "." + subjectHash(id)
}

// ConfirmTimerSubject holds the confirmation service's next timer of
// intent id of app (a one-shot message schedule).
func ConfirmTimerSubject(app, id string) string {
	return ConfirmRoot + ".timer." + app + "." + subjectHash(id)
}

// ConfirmDueSubject is where app's confirmation timers fire.
func ConfirmDueSubject(app string) string { return ConfirmRoot + ".due." + app }

// ParseConfirmSubject returns the app of push.confirm.<app>.
func ParseConfirmSubject(subject string) (app string, ok bool) {
	app, ok = strings.CutPrefix(subject, ConfirmRoot+".")
	return app, ok && ValidApp(app)
}

// ConfirmationMsgID is the Nats-Msg-Id of a confirmation: one per app,
// intent and token, so a backend's retried publish is stored once.
func ConfirmationMsgID(app, intentID, token string) string {
	return "confirm:" + app + ":" + intentID + ":" + subjectHash(token)
}

// resendMark separates an intent id from the number of its re-send.
const resendMark = ":r"

// ResendID is the id of re-send n (1-based) of intent id; k > 0 numbers
// the further parts of a re-send too large for one intent. The ids are
// deterministic, so a repeated re-send is dropped as a duplicate.
func ResendID(id string, n, k int) string {
	s := id + resendMark + strconv.Itoa(n)
	if k > 0 {
		s += ":" + strconv.Itoa(k)
	}
	return s
}

// OriginalID returns the id of the intent whose re-send id is: id itself
// when it is not a re-send's. A device may confirm with either.
func OriginalID(id string) string {
	i := strings.LastIndex(id, resendMark)
	if i <= 0 {
		return id
	}
	rest := id[i+len(resendMark):]
	n, k, hasK := strings.Cut(rest, ":")
	if !allDigits(n) || (hasK && !allDigits(k)) {
		return id
	}
	return id[:i]
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// Confirmation says that a device confirmed a notification: published by
// the app's backend on push.confirm.<app> (the subject names the app).
// IntentID may be the original intent's id or one of its re-sends'.
type Confirmation struct {
	IntentID string `json:"intent_id"`
	Token    string `json:"token"`
	// Platform is the token's platform; needed only when the same token
	// was sent on two platforms.
	Platform Platform `json:"platform,omitempty"`
}

// ErrInvalidConfirmation: a confirmation that breaks a rule of the
// contract (the error names the field).
var ErrInvalidConfirmation = errors.New("invalid confirmation")

// MaxConfirmationBytes bounds an encoded confirmation.
const MaxConfirmationBytes = 8 << 10

// DecodeConfirmation parses and checks a confirmation strictly: unknown
// fields and trailing data are refused. Errors wrap ErrMalformed or
// ErrInvalidConfirmation and name the field.
func DecodeConfirmation(b []byte) (*Confirmation, error) {
	if len(b) > MaxConfirmationBytes {
		return nil, fmt.Errorf("%w: %d bytes exceed the limit of %d", ErrInvalidConfirmation, len(b), MaxConfirmationBytes)
	}
	if !utf8.Valid(b) {
		return nil, fmt.Errorf("%w confirmation: not valid UTF-8", ErrMalformed)
	}
	var c Confirmation
	if err := decodeStrict(b, &c); err != nil {
		return nil, fmt.Errorf("%w confirmation: %s", ErrMalformed, describeJSONError(err))
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Validate checks the confirmation's fields. Errors wrap
// ErrInvalidConfirmation.
func (c *Confirmation) Validate() error {
	switch {
	case c.IntentID == "":
		return fmt.Errorf("%w: intent_id is required", ErrInvalidConfirmation)
	case !idPattern.MatchString(c.IntentID):
		return fmt.Errorf("%w: intent_id must be 1-128 characters of A-Z a-z 0-9 _ : -", ErrInvalidConfirmation)
	case c.Platform != "" && !c.Platform.Valid():
		return fmt.Errorf("%w: platform: unknown platform %q (want %s)", ErrInvalidConfirmation, clip(string(c.Platform)), platformChoices())
	}
	if err := CheckToken(c.Token); err != nil {
		return fmt.Errorf("%w: token %v", ErrInvalidConfirmation, err)
	}
	return nil
}
