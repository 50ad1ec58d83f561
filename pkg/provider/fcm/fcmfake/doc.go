// Package fcmfake is a faithful fake of Google FCM HTTP v1 and of the Google
// OAuth token endpoint its service accounts use, for tests, benchmarks and the
// pushfleet sandbox.
//
// It serves HTTPS with HTTP/2 on 127.0.0.1:
//
//	POST /v1/projects/{project_id}/messages:send   the FCM v1 send API
//	POST /token                                    the JWT-bearer OAuth grant
//
// The token endpoint verifies the RS256 assertion a service account signs
// (iss = client_email, aud = token_uri, the key registered for that account)
// and issues access tokens that the send endpoint requires. SandboxApp makes a
// fresh service account whose token_uri points here, so the real Firebase
// Admin SDK and golang.org/x/oauth2 run unmodified against the fake.
//
// Answers follow the Google API error shape, with the FcmError detail the SDK
// helpers look for (docs/providers.md §2.3, §5.2):
//
//   - a dead token (SetDead, or any token starting with DeadPrefix): 404
//     NOT_FOUND + UNREGISTERED
//   - a malformed token (SetMalformed, any token starting with MalformedPrefix,
//     or characters a registration token never has): 400 INVALID_ARGUMENT with
//     the "registration token is not a valid FCM registration token" message
//   - a token of another project (SetForeign): 403 PERMISSION_DENIED +
//     SENDER_ID_MISMATCH
//   - an invalid body: 400 INVALID_ARGUMENT with a google.rpc.BadRequest detail
//   - over the quota (Options.Quota): 429 RESOURCE_EXHAUSTED + QUOTA_EXCEEDED
//     with Retry-After
//   - a missing or unknown access token: 401 UNAUTHENTICATED (no FcmError)
//   - an unknown project: 404 NOT_FOUND (no FcmError); an account of another
//     project: 403 PERMISSION_DENIED (no FcmError)
//
// FailNext injects the fakeserver failures; see its documentation for the
// exact answers.
package fcmfake
