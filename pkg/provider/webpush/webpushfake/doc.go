// Package webpushfake is a faithful fake Web Push service for tests: TLS
// with HTTP/2 offered, RFC 8030 push resources, RFC 8292 VAPID checked
// (ES256 signature by k=, aud the fake's origin, exp in the future and at
// most 24 h ahead, sub mailto: or https:, k= the key the subscription was
// bound to), and every payload decrypted per RFC 8291 with the
// subscription's private key, which only the fake holds: Subscribe hands
// out the public parts as the token, as a browser does.
//
// Answers: 201 Created; 404 for unknown endpoints; 410 for endpoints under
// /gone/ and subscriptions made dead with SetDead; 413 over MaxBody (4096)
// bytes of body; 401 for a missing or bad VAPID JWT, 403 for a key the
// subscription is not bound to; 400 for a bad TTL, Urgency, Topic or
// Content-Encoding or a body that does not decrypt; faults (429 with
// Retry-After, 500, 503, dropped connections) through FailNext as every
// fake of pkg/provider/fakeserver.
//
// It is production code (no testing import), so pushbench and the sandbox
// may run it.
package webpushfake
