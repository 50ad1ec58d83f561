// Package fcm delivers pushfleet jobs to Google FCM HTTP v1 through the
// Firebase Admin SDK (firebase.google.com/go/v4/messaging). It is the
// provider behind the gcm-sender service.
//
// Each app names an FCM project and a service account key; several projects
// share one Sender and one HTTP/2 transport. Access tokens come from the
// service account's token_uri (JWT-bearer grant) and are cached until shortly
// before they expire. UpdateApps adds, rotates and removes apps at run time.
//
// A job becomes one message per token, one HTTP request each (the SDK's
// Send, 50 at a time per batch, as its SendEach does), in batches of at most
// 500, with a bounded number of batches in flight and a per-project rate
// limit. See buildTemplate for how a job maps onto an FCM message (notably:
// data values that are not strings are sent as JSON text) and classify for
// how FCM's answers map onto provider results (docs/providers.md §0, §2.3).
//
// Expiry: the notification's expiry is checked right before each request,
// and again before each retry the SDK makes itself (of a 503 or a network
// error); a token whose request would come after it is Expired, not sent.
//
// Quota holds and their accounting. QUOTA_EXCEEDED holds the project until
// Retry-After (QuotaRetryAfter when FCM sends none) and halves its rate:
//   - a token FCM really answered QUOTA_EXCEEDED is Retry matching
//     provider.ErrRateLimited: one honest failed event per real answer;
//   - a token held back, during the hold or because another message of its
//     batch was just answered QUOTA_EXCEEDED, is Retry matching both
//     provider.ErrRateLimited and provider.ErrNotSent, with RetryAfter the
//     rest of the hold: no request was made, so the sender re-queues it
//     without reporting anything (no failed event);
//   - when the hold ends, one probe message goes first, alone; the other
//     batches of the project wait for its answer. Any answer other than
//     QUOTA_EXCEEDED reopens the project (at the halved rate, recovering
//     over a minute); QUOTA_EXCEEDED holds it again; a probe that got no
//     answer (expired, transport error) lets the next batch probe.
//
// Metrics: pushfleet_provider_request_duration_seconds is observed once per
// HTTP request to FCM, the SDK's own retries included (as retry), never for
// tokens held back or expired before their request.
package fcm
