// Package hmsfake is a faithful fake of the Huawei Push Kit server API v1
// and of Huawei's OAuth 2.0 token endpoint, for tests, benchmarks and
// pushfleet's sandbox mode. It listens with TLS on 127.0.0.1 (HTTP/2
// through ALPN unless Options.HTTP1Only) and speaks the real wire format
// (see pkg/provider/hms for the sources).
//
// Served:
//
//	POST /oauth2/v3/token              grant_type=client_credentials&client_id=…&client_secret=…
//	POST /v1/{appId}/messages:send     {"validate_only":…,"message":{…,"token":[…]}}
//
// The token endpoint issues random bearer tokens valid for
// Options.TokenLifetime (expires_in, default 3600 s) and answers HTTP 400
// {"error":1101,"sub_error":20…,"error_description":"invalid client_secret"}
// to unknown clients or a wrong secret, 400 to another grant type.
//
// The send endpoint checks, in this order, after any injected fault:
//   - Authorization "Bearer <token>" issued for the app of the URL, else
//     HTTP 401 code 80200001 "Oauth authentication error"; a token past
//     its lifetime (or expired with ExpireTokens) is 401 80200003
//     "Oauth token expired";
//   - the body is the request JSON with one message, else 400 80100003;
//   - message.token holds 1…Options.MaxTokens tokens (default 1000), else
//     400 80300010;
//   - the message without its token list is at most Options.MaxMessageBytes
//     (default 4096), else 400 80300008;
//   - android.ttl matches \d+(\.\d{1,9})?s?, urgency is HIGH or NORMAL,
//     collapse_key is in -1…100, an android.notification has a
//     click_action of type 1…4, data is a string: else 400 80100003.
//
// Dead tokens (SetDead, or any token starting with DeadPrefix) fail: when
// every token of a request is dead the answer is 400 80300007 "All the
// tokens are invalid"; otherwise 200 80100000 with msg
// {"success":n,"failure":m,"illegal_tokens":[…]} (a JSON string, the v1
// shape third-party clients parse). validate_only checks without
// delivering.
//
// Injected faults (FailNext) map the fakeserver failures onto Push Kit:
// RateLimited → HTTP 429 with Retry-After; Unavailable → HTTP 503 (Push
// Kit's flow control); Internal → HTTP 500 code 81000001; AuthFailure →
// HTTP 401 code 80200001 (the sender renews its token and tries once
// more, which fails again while faults remain); BadRequest → HTTP 400 code
// 80100003; DropConnection → no answer (HTTP/1.1: the connection is
// closed; HTTP/2: the stream is reset). Faults apply to push requests
// only, never to the token endpoint (FailTokenNext does that).
package hmsfake
