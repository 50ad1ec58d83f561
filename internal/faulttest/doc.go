// Package faulttest holds pushfleet's crash and fault tests: "nothing lost",
// with figures. Each test runs the fleet on loopback against the faithful
// provider fakes (apnsfake, fcmfake, mifake), injects one fault, waits until
// the fleet has settled (every work stream empty) and then counts, per
// token, the deliveries the fake providers saw, the dead letters on
// PUSH_DEAD and the invalid-token outcomes on PUSH_FEEDBACK. It prints one
// tally line per scenario, for example
//
//	tally scenario=sender-sigkill sent=2000 delivered=2000 dead=0 (reasons: -) lost=0 duplicates=105 in_flight_at_kill=980 in_flight_msgs=98 ...
//
// and asserts that nothing was lost (every token delivered, dead-lettered
// with a reason, or reported invalid) and that duplicates stay within what
// was in flight when the fault struck: the notifications in messages that
// JetStream had delivered but not yet seen acknowledged. Those are the only
// ones an at-least-once fleet may send twice.
//
// The scenarios:
//
//   - sender-sigkill: the apns-sender binary (built from ./cmd/apns-sender)
//     is killed with SIGKILL mid-flight and restarted;
//   - dispatcher-sigkill: the dispatcher binary is killed with SIGKILL while
//     it splits intents of 2,000 tokens into jobs, and restarted (the three
//     sender binaries run as processes too);
//   - jetstream-restart: the JetStream server is shut down and restarted on
//     the same port with the same file store while the fleet is busy;
//   - provider-503: APNs answers 503 ServiceUnavailable for several seconds,
//     then recovers (the circuit breaker must hold jobs back);
//   - ratelimit-429: a storm of 429 answers with Retry-After from APNs (every
//     token refused two or three times) and an FCM project quota of a tenth
//     of the load per second;
//   - fcm-quota-hold: FCM refuses far more requests than the retry budget
//     allows, so the sender's project hold keeps answering Retry: rate
//     limits must not spend attempts, and every token ends delivered;
//   - poison: malformed and invalid intents, a malformed job and messages the
//     providers reject permanently, among good ones: exactly those are
//     dead-lettered, with their reasons, and every good token is delivered
//     once.
//
// A SIGKILLed process's unacknowledged messages come back only after the
// consumers' AckWait: every service here runs with --ack-wait 10s (the
// default is 30s), so the two kill scenarios take a little over 10s more
// than their work; the scenarios run in parallel (TestMain raises -parallel
// to 8 unless it is given).
//
// Counts are smaller under the race detector. The service binaries are built
// once per test run (without -race) into a temporary directory.
//
// Run them with the figures:
//
//	go test -race -v -run . ./internal/faulttest/ | grep -E '^(tally|---|ok|FAIL)'
package faulttest
