package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Outcome is the fate of one notification to one token.
type Outcome string

// Outcomes carried by feedback events.
const (
	// Delivered: the provider accepted the notification.
	Delivered Outcome = "delivered"
	// InvalidToken: the provider says the token is dead; never push to it again.
	InvalidToken Outcome = "invalid_token"
	// TokenReplaced: the provider gave a new token for this device (NewToken).
	TokenReplaced Outcome = "token_replaced"
	// Failed: a provider or credential error stopped this attempt; it will be retried.
	Failed Outcome = "failed"
	// Expired: the notification's expiry passed before it could be sent.
	Expired Outcome = "expired"
	// Dead: the notification was given up on; the dead letter holds the reason.
	Dead Outcome = "dead"
	// Suppressed: the registry knows the token is invalid, so it was not sent.
	Suppressed Outcome = "suppressed"
	// Cancelled: the scheduled (send_at) intent was cancelled before it was
	// due (pushctl cancel). An alias or tag intent is cancelled before its
	// audience is resolved: its events carry an empty Token, one per platform.
	Cancelled Outcome = "cancelled"
	// Confirmed: the device confirmed a notification that asked for
	// confirmation (Intent.Confirm). Only the confirmation service reports
	// it, on ConfirmFeedbackSubject.
	Confirmed Outcome = "confirmed"
	// Unconfirmed: a notification that asked for confirmation was not
	// confirmed within its window, re-sends included; it was given up on.
	// Only the confirmation service reports it, on ConfirmFeedbackSubject.
	Unconfirmed Outcome = "unconfirmed"
)

// Outcomes lists every outcome.
var Outcomes = []Outcome{Delivered, InvalidToken, TokenReplaced, Failed, Expired, Dead, Suppressed, Cancelled,
	Confirmed, Unconfirmed}

// confirmOutcome reports whether o is reported by the confirmation service
// alone (on ConfirmFeedbackSubject), never by a sender or the dispatcher.
func (o Outcome) confirmOutcome() bool { return o == Confirmed || o == Unconfirmed }

// Feedback is one event on push.feedback.<platform>.<app>: what happened to
// one token. Anyone may subscribe; the feedback-sink turns it into token state.
type Feedback struct {
	App      string   `json:"app"`
	Platform Platform `json:"platform"`
	Token    string   `json:"token"`
	Outcome  Outcome  `json:"outcome"`
	// Reason is the provider's own reason string (e.g. "Unregistered",
	// "UNREGISTERED", "20301") or pushfleet's for outcomes it decided.
	Reason   string `json:"reason,omitempty"`
	IntentID string `json:"intent_id,omitempty"`
	JobID    string `json:"job_id,omitempty"`
	// At is when the provider's answer for this token arrived, or, for an
	// outcome pushfleet decided without asking (expired, suppressed, dead
	// after retries), when it decided.
	At time.Time `json:"at"`
	// ProviderAt is the provider's own time for the outcome, when it gives one
	// (APNs 410: the last time the token was valid).
	ProviderAt *time.Time `json:"provider_at,omitempty"`
	// NewToken is set for token_replaced.
	NewToken string `json:"new_token,omitempty"`
}

// EffectiveTime is the time the outcome is true from: the provider's when known.
func (f *Feedback) EffectiveTime() time.Time {
	if f.ProviderAt != nil && !f.ProviderAt.IsZero() {
		return *f.ProviderAt
	}
	return f.At
}

// DecodeFeedback parses a feedback event and checks its names; errors wrap
// ErrMalformed and name the field. The app must be a valid app name (a
// subject token, never a '.', '*' or '>'), the platform supported, the
// outcome known, the token a sane device token (CheckToken), and new_token,
// which only token_replaced carries and always does, a sane token too. Only
// a cancelled event may name no token: an alias or tag intent cancelled
// before its audience was resolved has none to name.
//
// Where the event came from is checked apart, by CheckSubject and
// CheckOutcome: the subject is the authority, not the body.
func DecodeFeedback(b []byte) (*Feedback, error) {
	var f Feedback
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%w feedback: %v", ErrMalformed, err)
	}
	if err := f.check(); err != nil {
		return nil, fmt.Errorf("%w feedback: %w", ErrMalformed, err)
	}
	return &f, nil
}

// ErrNotAllowed: a well-formed feedback event that its subject does not
// allow (another platform or app than the subject names), or an outcome
// its platform's provider cannot produce.
var ErrNotAllowed = errors.New("feedback not allowed")

// known reports whether o is an outcome of this contract.
func (o Outcome) known() bool {
	return slices.Contains(Outcomes, o)
}

// check validates the names of a decoded event.
func (f *Feedback) check() error {
	if err := checkOrigin(f.App, f.Platform); err != nil {
		return err
	}
	return f.checkEvent()
}

// checkOrigin validates the app and platform an event is about: a
// batch's envelope names them once for all its events.
func checkOrigin(app string, p Platform) error {
	switch {
	case app == "":
		return errors.New("app is required")
	case !ValidApp(app):
		return fmt.Errorf("app %q: must be 1-64 characters of A-Z a-z 0-9 _ -", clip(app))
	case p == "":
		return errors.New("platform is required")
	case !p.Valid():
		return fmt.Errorf("unknown platform %q (want %s)", clip(string(p)), platformChoices())
	}
	return nil
}

// checkEvent validates the rest of an event whose origin checkOrigin
// accepted: its outcome and tokens.
func (f *Feedback) checkEvent() error {
	switch {
	case f.Outcome == "":
		return errors.New("outcome is required")
	case !f.Outcome.known():
		return fmt.Errorf("unknown outcome %q", clip(string(f.Outcome)))
	}
	if f.Token != "" || f.Outcome != Cancelled {
		if err := CheckTokenFor(f.Platform, f.Token); err != nil {
			return fmt.Errorf("token: %w", err)
		}
	}
	switch {
	case f.Outcome == TokenReplaced && f.NewToken == "":
		return errors.New("new_token is required with token_replaced")
	case f.Outcome != TokenReplaced && f.NewToken != "":
		return fmt.Errorf("new_token is only allowed with token_replaced, not %s", f.Outcome)
	case f.NewToken == "":
		return nil
	case f.NewToken == f.Token:
		return errors.New("new_token equals token")
	}
	if err := CheckTokenFor(f.Platform, f.NewToken); err != nil {
		return fmt.Errorf("new_token: %w", err)
	}
	return nil
}

// clip bounds a refused name quoted in an error (it ends up in logs and
// dead-letter reasons).
func clip(s string) string {
	if len(s) <= 72 {
		return s
	}
	return strings.ToValidUTF8(s[:64], "") + "…"
}

// CheckToken returns why s cannot be a device token, or nil. A token is 1
// to DefaultLimits.MaxTokenBytes bytes of UTF-8 without white space, control
// characters or commas (MiPush sends to a comma-separated regid list),
// like an intent's explicit tokens.
func CheckToken(s string) error {
	switch {
	case s == "":
		return errors.New("is required")
	case len(s) > DefaultLimits.MaxTokenBytes:
		return fmt.Errorf("%d bytes exceed the limit of %d", len(s), DefaultLimits.MaxTokenBytes)
	case !utf8.ValidString(s):
		return errors.New("is not valid UTF-8")
	case strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || r == ',' }) >= 0:
		return errors.New("must not contain white space, control characters or commas")
	}
	return nil
}

// ParseFeedbackSubject returns the platform and app a feedback subject
// (push.feedback.<platform>.<app>, or the confirmation service's
// push.feedback.<platform>.<app>.confirm) names; ok is false for any other
// shape, an unsupported platform or an invalid app name.
func ParseFeedbackSubject(subject string) (p Platform, app string, ok bool) {
	p, app, _, ok = parseFeedbackSubject(subject)
	return p, app, ok
}

// parseFeedbackSubject is ParseFeedbackSubject that also tells whether the
// subject is the confirmation service's.
func parseFeedbackSubject(subject string) (p Platform, app string, confirm, ok bool) {
	rest, ok := strings.CutPrefix(subject, FeedbackRoot+".")
	if !ok {
		return "", "", false, false
	}
	ps, app, ok := strings.Cut(rest, ".")
	if app, ok2 := strings.CutSuffix(app, "."+ConfirmSuffix); ok && ok2 {
		if !Platform(ps).Valid() || !ValidApp(app) {
			return "", "", false, false
		}
		return Platform(ps), app, true, true
	}
	if !ok || !Platform(ps).Valid() || !ValidApp(app) {
		return "", "", false, false
	}
	return Platform(ps), app, false, true
}

// CheckSubject checks that the event arrived on its own subject: the
// subject, which NATS permissions confine (each sender may publish only
// push.feedback.<its platform>.*), is the authority, so
// push.feedback.<platform>.<app> must name the body's platform and app.
// Errors wrap ErrNotAllowed and name both.
func (f *Feedback) CheckSubject(subject string) error {
	p, app, confirm, ok := parseFeedbackSubject(subject)
	switch {
	case !ok:
		return fmt.Errorf("%w: subject %s is not %s.<platform>.<app>", ErrNotAllowed, subject, FeedbackRoot)
	case p != f.Platform || app != f.App:
		return fmt.Errorf("%w: feedback for %s/%s on subject %s", ErrNotAllowed, f.Platform, f.App, subject)
	case confirm && !f.Outcome.confirmOutcome():
		return fmt.Errorf("%w: %s on subject %s: the confirmation service reports only %s and %s",
			ErrNotAllowed, f.Outcome, subject, Confirmed, Unconfirmed)
	case !confirm && f.Outcome.confirmOutcome():
		return fmt.Errorf("%w: %s on subject %s: only the confirmation service reports it, on %s",
			ErrNotAllowed, f.Outcome, subject, ConfirmFeedbackSubject(f.Platform, f.App))
	}
	return nil
}

// CheckOutcome checks that the event's platform can produce its outcome
// (Platform.Reports): token_replaced from a provider that never replaces
// tokens is a forgery. Errors wrap ErrNotAllowed.
func (f *Feedback) CheckOutcome() error {
	switch {
	case f.Outcome.confirmOutcome() && f.Platform.Valid():
		// Not the provider's: CheckSubject confines it to the
		// confirmation service's subject.
		return nil
	case f.Platform.Reports(f.Outcome):
		return nil
	case f.Outcome == TokenReplaced:
		return fmt.Errorf("%w: %s from %s: the %s provider never names a replacement token", ErrNotAllowed, f.Outcome, f.Platform, f.Platform)
	}
	return fmt.Errorf("%w: %s from %s: the %s provider never reports it", ErrNotAllowed, f.Outcome, f.Platform, f.Platform)
}
