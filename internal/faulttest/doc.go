// Package faulttest holds pushfleet's crash and fault tests: "nothing lost",
// with figures. Each test runs the fleet on loopback against the faithful
// provider fakes (apnsfake, fcmfake, mifake), injects one fault, waits until
// the fleet has settled (every work stream empty: intents, schedules, jobs
// and re-queued tokens) and then checks the invariant pushfleet promises:
// every token of every intent the stream acknowledged ends with exactly one
// terminal outcome. The account is read from what the fleet recorded, not
// from what the scenario believes happened:
//
//   - PUSH_FEEDBACK: delivered, invalid_token and token_replaced (counted as
//     invalid), expired, suppressed, cancelled. failed is not terminal (a
//     retry follows); dead counts through its dead letter;
//   - PUSH_DEAD: a sender's dead letter counts for the tokens it lists (or
//     its job's), an intake dead letter for every token of its intent (found
//     by its id, or by its PUSH_INTENTS sequence when a truncated payload
//     cannot name it).
//
// A token without a terminal outcome is lost; one with more than one is a
// duplicate, allowed only up to the notifications in flight when a scenario
// killed something (messages JetStream had delivered and not yet seen
// acknowledged: the only ones an at-least-once fleet may handle twice). The
// fakes' own counts are checked against the delivered outcomes too: no
// delivered outcome the provider never saw, no delivery beyond them except
// in flight. Each scenario prints one tally line, for example
//
//	tally scenario=sender-sigkill sent=1000 delivered=1000 invalid=0 expired=0 suppressed=0 cancelled=0 dead=0 lost=0 duplicates=12 wall=18.7s | dead_letters=0 (reasons: -) in_flight_at_fault=800 ...
//
// and TestMain prints them all again at the end.
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
//   - poison: malformed and invalid intents, intents a platform would
//     certainly refuse (dead-lettered at intake), a malformed job and a
//     message a provider rejects permanently, among good ones: exactly those
//     are dead-lettered, with their reasons, on their first delivery, and
//     every good token is delivered once; dead tokens end invalid, and
//     pushed again, suppressed (or invalid again);
//   - crash-loop: the sender is SIGKILLed every time it holds a job (APNs
//     never answers): past --max-attempts deliveries the runner
//     dead-letters the job itself ("exhausted");
//   - expiry-outage: APNs answers 503 while notifications with a short
//     expiry wait in retries, and recovers after they expired: every token
//     ends expired;
//   - expiry-stopped: jobs expire while no sender runs, intents while no
//     dispatcher runs: every token ends expired once they start;
//   - far-dates: an expiry in year 9999 is delivered normally, a send_at
//     beyond the schedule horizon (a year ahead, year 9999) is dead-lettered
//     at intake naming the horizon, a send_at within it is not sent before;
//   - dedup-restart-sigterm and dedup-restart-sigkill: the whole fleet (the
//     all-in-one binary with its embedded JetStream server) restarts between
//     two publications of the same intent ids: each delivered once; another
//     app using the same ids swallows none of them;
//   - oversize: an intent just above the dispatcher's default intake limit
//     and one close to the server's max_payload are dead-lettered on their
//     first delivery, the latter truncated to fit, with its size and hash;
//   - stream-full: an admin sets max_msgs on PUSH_INTENTS: publishes beyond
//     it are refused to the producer, and every acknowledged intent is
//     delivered.
//
// A SIGKILLed process's unacknowledged messages come back only after the
// consumers' AckWait: every service here runs with --ack-wait 10s (the
// default is 30s), so the two kill scenarios take a little over 10s more
// than their work; the scenarios run in parallel (TestMain raises -parallel
// to run them all at once unless it is given).
//
// Counts are smaller under the race detector. The service binaries are built
// once per test run (without -race) into a temporary directory.
//
// Run them with the figures:
//
//	go test -race -v -run . ./internal/faulttest/ | grep -E '^(tally|---|ok|FAIL)'
package faulttest
