// Package webpush is the Web Push sender: RFC 8030 push requests to the
// push service behind each browser subscription, the payload encrypted to
// the subscription per RFC 8291 and the request signed with the app's
// VAPID key per RFC 8292.
//
// # Token
//
// A subscription (endpoint and the keys p256dh and auth) is the token. Its
// encoding is the JSON of PushSubscription.toJSON(), which a page can post
// as is: {"endpoint":"https://…","keys":{"p256dh":"…","auth":"…"}}.
// ParseToken validates it (https endpoint; p256dh a P-256 point, 65 bytes;
// auth 16 bytes; base64url with or without padding, or standard base64)
// and Canonical gives the one form the fleet should store (field order
// endpoint, p256dh, auth; unpadded base64url; expirationTime dropped), so
// suppression and feedback match one subscription to one token. A token
// that does not parse is InvalidToken without a request.
//
// # Sending
//
// One POST per token (Web Push has no batch API), at most
// Config.MaxInFlight at a time, over one http.Client whose Transport is
// shared by every app: connections are pooled per push service host and
// speak HTTP/2 where the service offers it (ALPN), HTTP/1.1 kept alive
// otherwise. The expiry is checked right before each request
// (provider.Expired, nothing sent). Headers:
//
//   - TTL: seconds until the notification's expiry, clamped to
//     [0, Config.MaxTTL] (default four weeks); MaxTTL without expiry.
//   - Urgency: priority high → "high", normal → "normal", none → no header
//     (the service then assumes "normal").
//   - Topic: the collapse key when it is 1-32 base64url characters, so a
//     pending message of the same topic is replaced; always in the
//     payload's "tag" for the service worker.
//   - Content-Encoding: aes128gcm; Authorization: vapid t=<JWT>, k=<key>.
//
// The payload is the JSON Payload ({title, body, tag, badge, data}) the
// service worker reads with event.data.json(), padded so every body is
// Config.RecordSize (default 4096) bytes: the largest payload is
// MaxPayload(RecordSize), 3993 bytes; larger is Permanent with
// ErrPayloadTooLarge before any request.
//
// # Answers (classify)
//
//	2xx (201 Created)          Delivered
//	404 Not Found, 410 Gone    InvalidToken (ErrInvalidToken): the subscription is gone
//	413 Payload Too Large      Permanent (ErrPayloadTooLarge)
//	429 Too Many Requests      Retry (ErrRateLimited), RetryAfter from Retry-After
//	5xx                        Retry (ErrUnavailable), RetryAfter from Retry-After if any
//	401, 403                   CredentialError (ErrCredentials): VAPID rejected, or the
//	                           app's key is not the one the subscription was made with
//	3xx, 400 and other 4xx     Permanent (ErrBadMessage); redirects are not followed
//	transport error, timeout   Retry (ErrUnavailable)
//
// # Protocol facts and sources
//
// [RFC] is the RFC text, [SRC] source read on disk, [3P] third-party
// documents (evidence, not the standard's word).
//
//   - A push message is a POST to the subscription's endpoint; success is
//     201 Created with a Location header (RFC 8030 section 5). The TTL
//     header is required, delta-seconds (RFC 8030 section 5.2; a service
//     may keep a message for less and say so in the answer's TTL). Urgency
//     is very-low, low, normal or high, default normal (RFC 8030 section
//     5.3, https://dret.github.io/webconcepts/concepts/http-header/Urgency).
//     Topic is at most 32 characters of the base64url alphabet (RFC 8030
//     section 5.4).
//   - Size: a push service may answer 413 to large bodies but must accept
//     4096 octets (RFC 8030 section 7.2). Mozilla's service limits bodies
//     for some mobile devices to about 3070 bytes ([3P]
//     https://github.com/SherClockHolmes/webpush-go/issues/23, an autopush
//     413 quoted there): set Config.RecordSize to 3070 if Firefox for
//     Android matters more than padding.
//   - Dead subscriptions: 404 for an unknown or expired subscription
//     (RFC 8030 section 7.3), 410 Gone when the user revoked permission or
//     the subscription expired ([3P]
//     https://pushpad.xyz/blog/web-push-errors-explained-with-http-status-codes,
//     which also lists 401/403 as VAPID problems, 413 and 429 "retry
//     later"). Apple's service has answered 200 to expired endpoints
//     ([3P] https://bugs.webkit.org/show_bug.cgi?id=249766): not every dead
//     subscription is reported.
//   - Encryption (RFC 8291 section 3-4, RFC 8188 section 2): a fresh
//     ephemeral P-256 key and 16-byte salt per message; ecdh_secret =
//     ECDH(as_private, ua_public); IKM = HKDF(salt=auth, ikm=ecdh_secret,
//     info="WebPush: info\x00"||ua_public||as_public, 32); CEK =
//     HKDF(salt, IKM, "Content-Encoding: aes128gcm\x00", 16); NONCE =
//     HKDF(salt, IKM, "Content-Encoding: nonce\x00", 12); body = salt(16)
//     || rs(4) || idlen(1)=65 || as_public(65) || AES-128-GCM(data ||
//     0x02 || zero padding), one record. Cross-checked with the
//     web-platform-tests receiver
//     (https://chromium.googlesource.com/external/w3c/web-platform-tests.git/+/HEAD/push-api/resources/ece.js)
//     and webpush-go v1.4.0 webpush.go [SRC]; webpushfake decrypts what
//     this package and webpush-go send (tests).
//   - VAPID (RFC 8292 sections 2-3): Authorization: vapid t=<ES256 JWT>,
//     k=<uncompressed P-256 public key, base64url>; JWT claims aud = the
//     push resource's origin (scheme://host[:port]), exp no more than 24
//     hours ahead, sub a mailto: or https: contact ([3P]
//     https://pypi.org/project/py-vapid/1.7.1 for aud = origin of the
//     endpoint). Browsers bind a subscription to the applicationServerKey
//     it was created with, so another key is refused (403 at FCM).
//
// # webpush-go and why this package encrypts and signs itself
//
// The issue asked for github.com/SherClockHolmes/webpush-go unless it is
// the bottleneck. It is served (v1.3.0, v1.4.0) and v1.4.0 was measured
// (bench_test.go, 2-core Xeon VM, go1.26.8): 175-191 µs, 36.5 KB and 233
// allocations per message for encryption plus signing, against 80 µs,
// 9.3 KB and 55 allocations here (72 µs of it the ECDH and AES-GCM no
// implementation avoids; the JWT comes from a cache). The fleet spends
// 86-233 µs of CPU per APNs notification in all (docs/BENCHMARKS.md), so
// the library alone would more than double a Web Push notification's cost.
// Reading v1.4.0 [SRC] also found: it signs a new JWT for every message
// and offers no way to reuse one (Options.VapidExpiration is ignored: exp is
// always now+12h); it prefixes "mailto:" to any subject not starting with
// "https:", so a configured "mailto:x" becomes "mailto:mailto:x"; and it
// appends the padding to the caller's message slice through a
// bytes.Buffer, which races (go test -race caught it) when one payload is
// sent to several tokens at once. The package therefore uses
// crypto/ecdh, crypto/hkdf, AES-GCM and crypto/ecdsa from the standard
// library, with the same framing and padding as webpush-go, and caches
// one JWT per (app, audience) for 12 h, renewed when less than an hour is
// left. webpush-go stays as a test dependency: webpushfake's tests check
// that the fake accepts and decrypts what the library sends.
package webpush
