// Package hms delivers pushfleet jobs through the Huawei Push Kit server
// API v1 (HMS Core, Android devices without Google services) with a plain
// net/http client: OAuth 2.0 client-credentials tokens cached per app and
// renewed before they expire, up to 1,000 tokens per request over
// long-lived HTTP/2 connections, and every answer code mapped onto the
// provider result vocabulary. Package hmsfake is its faithful fake.
//
// # Protocol facts and their sources
//
// Labels: [DOC] Huawei's documentation (or a mirror of it); [SDK]
// Huawei's own server demo, github.com/HMS-Core/hms-push-serverdemo-go
// (src/push/...); [3P] third-party code or articles; UNVERIFIED: no source
// found; the value is configurable or the classification conservative.
//
//   - Token endpoint: POST https://oauth-login.cloud.huawei.com/oauth2/v3/token,
//     Content-Type application/x-www-form-urlencoded, body
//     grant_type=client_credentials&client_id=…&client_secret=…; answer
//     {"access_token","expires_in":3600,"token_type":"Bearer"}, expires_in
//     in seconds. [DOC] developer.huawei.com/consumer/en/doc/HMSCore-Guides/android-server-dev-0000001050040110
//     ("Client Credentials"), which also warns that requesting tokens
//     often within their validity triggers flow control: hence one cached
//     token per app and one request at a time. [SDK] authention/auth.go
//     sends the same form.
//   - client_id: for apps created in AppGallery Connect it is the app's
//     OAuth 2.0 client ID, which equals the app ID ([DOC] same page;
//     [SDK] uses AppId for both). AppConfig.ClientID defaults to AppID.
//   - Token endpoint errors: the body is {"error":1101,"sub_error":…,
//     "error_description":"invalid client_secret"} ([3P] dev.to/flfljh,
//     Huawei account login example). The HTTP status of a refusal is
//     UNVERIFIED: any 4xx other than 408/429 is taken as a refusal
//     (CredentialError), 5xx/408/429 and network errors as transient
//     (Retry).
//   - Send: POST https://push-api.cloud.huawei.com/v1/{appId}/messages:send,
//     Content-Type application/json;charset=utf-8, Authorization
//     "Bearer <access token>". [DOC] android-server-dev-0000001050040110
//     ("Downlink Message Sending"); [SDK] constant/urlfmt.go
//     ("%s/v1/%s/messages:send"), core/message.go.
//   - Body: {"validate_only":false,"message":{"data":"<string>",
//     "notification":{…},"android":{"collapse_key":-1…100,
//     "urgency":"HIGH"|"NORMAL","ttl":"86400s","notification":{…,
//     "click_action":{"type":1…4}}},"token":["…"]}}; exactly one of
//     token/topic/condition; click_action is mandatory in
//     android.notification (type 3 opens the app). [SDK] model/message.go,
//     model/message_hm.go, verify/messaging_verify.go,
//     verify/messaging_hm_verify.go; [3P] alvareztech/android-notifications
//     README (same body).
//   - Tokens per request: 1 to 1,000; more (or none) is 80300010. [3P]
//     segmentfault.com/a/1190000042188975 (Huawei developer article on
//     the six most common server error codes); [3P] a Stack Overflow
//     answer quoting the docs ("The maximum number of token cannot exceed
//     1000").
//   - TTL: android.ttl is a duration string ("86400s"); messages are
//     cached 24 h by default and at most 15 days. [SDK] GetDefaultAndroid
//     ("86400s"), the ttl pattern in messaging_verify.go; [3P]
//     huaweicloud.csdn.net (默认保存24小时,最大保存15天). The sender sends
//     the time left to the expiry, rounded up to whole seconds, at least
//     1 s, at most Config.MaxTTL (default 15 days); no expiry: no ttl.
//   - Answer: {"code":"80000000","msg":"Success","requestId":"…"}; code
//     is a string. [DOC] harmonyos-references push-scenariozed-api-response
//     (v3, same envelope); [SDK] model.MessageResponse; [3P]
//     alvareztech README.
//   - HTTP statuses: 400 invalid parameter (see the code), 401
//     authentication failed, 404 service not found, 500 internal error,
//     502 connection problem (retry later), 503 traffic control ("spread
//     sends out"). [DOC] push-scenariozed-api-response (v3 page; the v1
//     page is not in the corpus: UNVERIFIED that v1 answers the same
//     statuses, so the body's code always decides first).
//   - Result codes [3P] AlphaOmega.PushSharp HuaWayResponse (enum with
//     Huawei's descriptions), [SDK] constant/constants.go for 80000000,
//     80100001, 80200001, 80200003, [3P] segmentfault article for
//     80200001, 80300007, 80300010:
//     80000000 success; 80100000 some tokens failed, listed in msg;
//     80100001 bad parameters; 80100002 sync mode needs one token;
//     80100003 bad message structure; 80100004 ttl earlier than now;
//     80100013 bad collapse_key; 80100017 at most 100 concurrent topic
//     messages; 80200001 OAuth authentication error (also a token of
//     another app); 80200003 OAuth token expired; 80300002 no permission
//     to send; 80300007 all tokens invalid (also tokens of another app);
//     80300008 message body larger than 4096 bytes; 80300010 token count;
//     80600003 OAuth service request failed (client ID or key);
//     81000001 internal error.
//   - Token refused: Huawei's own demo renews the token and sends once more
//     on 80200001 and 80200003 ([SDK] core/pushclient.go isTokenError).
//   - Partial success msg: a JSON document inside the msg string. The v3
//     docs show {"illegalTokens":{"tokenFormatError":["…"]},"success":1,
//     "failure":1} ([DOC] mirrored at docs.getui.com push-scenariozed-api-response);
//     for v1 the shape {"success":n,"failure":m,"illegal_tokens":["…"]}
//     is what third-party clients parse. UNVERIFIED for v1: both shapes
//     are read; an unreadable list counts every token delivered (retrying
//     would push again to those that got it and cannot help the others),
//     with a warning.
//   - What counts toward the 4096 bytes of 80300008: UNVERIFIED. The
//     sender (and the fake) count the message object without its token
//     list (1,000 tokens alone exceed 4096 bytes, and the limit is the
//     message's), checked locally before sending (Config.MaxMessageBytes).
//   - Retry-After: no source says Push Kit sends one. It is honoured when
//     present; otherwise rate-limited tokens get a per-app exponential
//     backoff (Config.BackoffMin…BackoffMax, with jitter) as RetryAfter.
//   - HarmonyOS NEXT apps use /v3/{projectId}/messages:send with a
//     service-account JWT and a push-type header ([DOC]
//     push-scenariozed-api-request-struct, "HarmonyOS 5 and later no
//     longer support OAuth 2.0-based authentication"): not this package.
//
// # Classification (classify.go)
//
//	80000000                       Delivered
//	80100000                       listed tokens InvalidToken (reason "80100000 <why>"), others Delivered
//	80300007                       InvalidToken (ErrInvalidToken), every token
//	80200003, 80200001, 401        token dropped, renewed (singleflight), request made once more;
//	                               refused again: CredentialError (ErrCredentials)
//	80300002, 80600003, 403, 404   CredentialError (tokens kept; the send service pauses the app)
//	80300008, 413                  Permanent (ErrPayloadTooLarge)
//	80100001/2/3/4/13, 80300010,
//	400 without code               Permanent (ErrBadMessage)
//	HTTP 503, 429, 80100017        Retry (ErrRateLimited), RetryAfter from the header or the backoff
//	81000001, 5xx, 408             Retry (ErrUnavailable)
//	no answer (transport, timeout) Retry (ErrUnavailable)
//	any other code                 Retry (ErrUnavailable): never invalidate or dead-letter on an
//	                               undocumented code
//
// Token endpoint failures: a refusal is CredentialError, anything else
// Retry; both match provider.ErrNotSent (no push request was made) and a
// refusal counts in pushfleet_provider_credential_errors_total.
//
// # Expiry, batching, connections
//
// Each request checks the notification's expiry right before it is made,
// after the waits for a request slot and an access token: a request whose
// turn comes after the expiry is not made and its tokens are Expired; its
// ttl is the time left at that moment. Jobs over Config.BatchSize (at most
// 1,000) tokens are split into concurrent requests. One transport serves
// every app and the token endpoint: HTTP/2 through ALPN, idle connections
// pinged, at most Config.MaxConnsPerHost per host, Config.MaxInFlight
// requests in flight (keeping Go on one HTTP/2 connection per host).
//
// UpdateApps replaces the app set at run time, like fcm's and mi's:
// unchanged apps keep their token, a changed secret (or secret file)
// starts a new token source, removed apps become unknown.
package hms
