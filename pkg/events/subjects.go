package events

import "strings"

// Stream names, fixed by docs/ARCHITECTURE.md.
const (
	StreamIntents  = "PUSH_INTENTS"
	StreamFeedback = "PUSH_FEEDBACK"
	StreamDead     = "PUSH_DEAD"
	TokensBucket   = "push_tokens"
)

// Subject roots. Every subject is root.<...>.<app>, general to specific, so
// that wildcards slice by platform or app.
const (
	IntentsRoot   = "push.intents"
	SchedulesRoot = "push.schedules"
	SendRoot      = "push.send"
	FeedbackRoot  = "push.feedback"
	DeadRoot      = "push.dead"
)

// SendStream is the work-queue stream holding platform p's delivery jobs.
func SendStream(p Platform) string {
	switch p {
	case APNs:
		return "PUSH_SEND_APNS"
	case FCM:
		return "PUSH_SEND_FCM"
	case Mi:
		return "PUSH_SEND_MI"
	}
	return ""
}

// IntentSubject is where producers publish intents for app.
func IntentSubject(app string) string { return IntentsRoot + "." + app }

// ScheduleSubject holds the schedule of a send_at intent until it fires;
// deleting that message cancels it.
func ScheduleSubject(app, id string) string { return SchedulesRoot + "." + app + "." + id }

// SendSubject carries delivery jobs for platform p and app.
func SendSubject(p Platform, app string) string { return SendRoot + "." + string(p) + "." + app }

// FeedbackSubject carries feedback events for platform p and app.
func FeedbackSubject(p Platform, app string) string {
	return FeedbackRoot + "." + string(p) + "." + app
}

// DeadSubject carries dead letters from a stage (intents, apns, fcm, mi,
// feedback) for app. An app that could not be read is "_".
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
// onto SendSubject; senders consume SendSubject only (one token after the
// platform), so schedules are never taken for jobs.
func RetrySubject(p Platform, app, jobID string) string {
	return SendSubject(p, app) + ".retry." + sanitizeToken(jobID)
}

// sanitizeToken makes s usable as subject tokens (dots become dashes).
func sanitizeToken(s string) string {
	return strings.ReplaceAll(s, ".", "-")
}
