package events

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Stream and bucket names: part of the wire contract (docs/CONTRACT.md,
// "Subjects and streams"); docs/ARCHITECTURE.md shows where each sits.
const (
	StreamIntents = "PUSH_INTENTS"
	// StreamSchedules holds the one-shot schedules of send_at intents, which
	// only the dispatcher creates, and the intents they release when due.
	StreamSchedules = "PUSH_SCHEDULES"
	StreamFeedback  = "PUSH_FEEDBACK"
	StreamDead      = "PUSH_DEAD"
	TokensBucket    = "push_tokens"
	// IntentIDsBucket remembers, per app, the intent ids the dispatcher has
	// taken during the dedup window: dedup that survives restarts.
	IntentIDsBucket = "push_intent_ids"
	// JobIDsBucket remembers, per platform and app, the delivery jobs a
	// sender has taken during the dedup window (JobIDKey): a work queue
	// forgets a consumed job's Nats-Msg-Id when its server restarts or
	// another node leads it, and a dispatcher retrying after a lost
	// acknowledgement would then store the job again.
	JobIDsBucket = "push_job_ids"
)

// Subject roots. Every subject is root.<...>.<app>, general to specific, so
// that wildcards slice by platform or app.
const (
	IntentsRoot   = "push.intents"
	SchedulesRoot = "push.schedules"
	DueRoot       = "push.due"
	SendRoot      = "push.send"
	RetryRoot     = "push.retry"
	FeedbackRoot  = "push.feedback"
	DeadRoot      = "push.dead"
)

// RetryStream is the stream holding platform p's re-queue schedules (tokens
// of a partly failed job, waiting for their next try) and the jobs they
// release when due. It is apart from SendStream because schedules need
// roll-ups, which must never be allowed where producers or the dispatcher
// publish.
func RetryStream(p Platform) string {
	if s := SendStream(p); s != "" {
		return "PUSH_RETRY_" + strings.TrimPrefix(s, "PUSH_SEND_")
	}
	return ""
}

// SendStream is the work-queue stream holding platform p's delivery jobs.
func SendStream(p Platform) string {
	switch p {
	case APNs:
		return "PUSH_SEND_APNS"
	case FCM:
		return "PUSH_SEND_FCM"
	case Mi:
		return "PUSH_SEND_MI"
	case HMS:
		return "PUSH_SEND_HMS"
	case WebPush:
		return "PUSH_SEND_WEBPUSH"
	}
	if part := customStreamPart(p); part != "" {
		return "PUSH_SEND_" + part // a declared custom platform
	}
	return ""
}

// IntentSubject is where producers publish intents for app.
func IntentSubject(app string) string { return IntentsRoot + "." + app }

// ScheduleSubject holds the schedule of a send_at intent until it fires;
// deleting that message cancels it. The id is hashed: ids may hold
// characters that are not subject tokens.
func ScheduleSubject(app, id string) string {
	return SchedulesRoot + "." + app + "." + subjectHash(id)
}

// DueSubject is where the schedules of app's intents release them when due
// (in PUSH_SCHEDULES, which the dispatcher also consumes).
func DueSubject(app string) string { return DueRoot + "." + app }

// SendSubject carries delivery jobs for platform p and app.
func SendSubject(p Platform, app string) string { return SendRoot + "." + string(p) + "." + app }

// FeedbackSubject carries feedback events for platform p and app.
func FeedbackSubject(p Platform, app string) string {
	return FeedbackRoot + "." + string(p) + "." + app
}

// ConfirmSuffix ends the subjects of the confirmation service's feedback.
const ConfirmSuffix = "confirm"

// ConfirmFeedbackSubject carries the confirmation service's outcomes
// (confirmed, unconfirmed) about p's tokens of app:
// push.feedback.<platform>.<app>.confirm. It is apart from the senders'
// subject so that NATS permissions can give that service these outcomes
// and nothing else.
func ConfirmFeedbackSubject(p Platform, app string) string {
	return FeedbackSubject(p, app) + "." + ConfirmSuffix
}

// DeadSubject carries dead letters from a stage (intents, apns, fcm, mi,
// hms, webpush, feedback) for app. An app that could not be read is "_".
func DeadSubject(stage, app string) string {
	if app == "" {
		app = "_"
	}
	return DeadRoot + "." + stage + "." + app
}

// Durable consumer names, equal to the service (and Deployment) names.
const (
	DurableDispatcher   = "dispatcher"
	DurableFeedbackSink = "feedback-sink"
)

// SenderDurable is the durable consumer name of platform p's sender.
func SenderDurable(p Platform) string {
	switch p {
	case APNs:
		return "apns-sender"
	case FCM:
		return "gcm-sender"
	case Mi:
		return "mi-sender"
	case HMS:
		return "hms-sender"
	case WebPush:
		return "webpush-sender"
	}
	if p.Custom() {
		return string(p) + "-sender" // a declared custom platform
	}
	return ""
}

// Header names pushfleet sets on its messages besides the NATS ones.
const (
	HeaderIntentID = "Push-Intent-Id"
	HeaderApp      = "Push-App"
	HeaderReason   = "Push-Reason"
	HeaderStage    = "Push-Stage"
)

// RetrySubject holds the schedule of a re-queued partial job until it fires
// onto RetryDueSubject, in RetryStream(p).
func RetrySubject(p Platform, app, jobID string) string {
	return RetryRoot + "." + string(p) + ".wait." + app + "." + subjectHash(jobID)
}

// RetryDueSubject is where platform p's re-queued jobs of app are released
// when due; the sender consumes it beside SendSubject.
func RetryDueSubject(p Platform, app string) string {
	return RetryRoot + "." + string(p) + ".due." + app
}

// subjectHash turns an id into one subject token: the first 16 bytes of its
// SHA-256, in hex.
func subjectHash(id string) string {
	h := sha256.Sum256([]byte(id))
	return hex.EncodeToString(h[:16])
}
