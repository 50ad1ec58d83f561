// Package mifake is a faithful fake of the Xiaomi MiPush server REST API,
// for tests, benchmarks and pushfleet's sandbox mode. It listens with TLS on
// 127.0.0.1 (HTTP/2 through ALPN unless Options.HTTP1Only) and answers the
// way MiPush does, errors included: as HTTP 200 with a non-zero code.
//
// Served:
//
//	POST /v2|v3|v4/message/regid   registration_id=r1,r2,… (comma-joined or repeated)
//	POST /v2|v3/message/alias      alias=a (repeated or comma-joined)
//	POST /v2|v3/message/topic      topic=t (one; blank or repeated: 10016/10017)
//	POST /v2|v3/message/all        no target: every device of the package
//	                               (counted under AllDevices)
//	GET  /v1/feedback/fetch_invalid_regids   drain-once, at most 1000 per call
//
// Checks, in this order, after any injected fault:
//   - Authorization must be "key=<secret>" of a registered app, else code
//     21301 "Invalid application secret.";
//   - restricted_package_name (repeated or comma-joined) must name the
//     app's package, else 22022 (the real code is unverified; 22022 is the
//     SDK's "invalid package name", and unlike 20301 it does not make a
//     sender drop tokens over a configuration mistake);
//   - missing restricted_package_name or target: 10016;
//   - pass_through=0 (the default) needs a non-blank title and description,
//     else 65011 "Title or Description is empty!";
//   - a payload over Options.MaxPayloadBytes: 10017;
//   - more targets than Options.MaxRegIDs: 10017.
//
// Dead regids (SetDead, or any regid starting with DeadPrefix) come back in
// data.bad_regids of a code 0 answer, or as 20301 "No valid targets!" when
// every regid of the request is dead.
//
// Injected faults (FailNext) map the fakeserver failures onto MiPush:
// RateLimited → 200 code 10023 (MiPush sends no Retry-After), Unavailable →
// 200 code 10009 "system busy" (the SDK's own code for it; a 503 can be had
// with FailNextAnswer), Internal → HTTP 500, AuthFailure → 21301,
// BadRequest → 10017, DropConnection → the connection is closed without an
// answer (HTTP/1.1: hijacked and closed; HTTP/2: the stream is reset, the
// only drop HTTP/2 allows per request).
package mifake
