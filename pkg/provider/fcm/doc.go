// Package fcm delivers pushfleet jobs to Google FCM HTTP v1 through the
// Firebase Admin SDK (firebase.google.com/go/v4/messaging). It is the
// provider behind the gcm-sender service.
//
// Each app names an FCM project and a service account key; several projects
// share one Sender and one HTTP/2 transport. Access tokens come from the
// service account's token_uri (JWT-bearer grant) and are cached until shortly
// before they expire. UpdateApps adds, rotates and removes apps at run time.
//
// A job becomes one message per token, sent with SendEach in batches of at
// most 500, with a bounded number of batches in flight and a per-project
// rate limit that holds the project after QUOTA_EXCEEDED until Retry-After.
// See buildTemplate for how a job maps onto an FCM message (notably: data
// values that are not strings are sent as JSON text) and classify for how
// FCM's answers map onto provider results (docs/providers.md §0, §2.3).
package fcm
