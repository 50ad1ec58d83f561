// Package dispatch turns push intents into delivery jobs.
//
// At intake an intent is checked against its subject (the app of
// push.intents.<app> must be the body's), the known apps, the limits, what
// its explicit tokens' providers require and the schedule horizon; whatever
// fails is dead-lettered with the reason. A repeat of an id already taken in
// the same app during the dedup window (KV push_intent_ids, which survives
// restarts) is dropped. An intent whose send_at is still ahead is held in a
// one-shot schedule of the dispatcher's own in PUSH_SCHEDULES, which
// releases it on push.due.<app> when due.
//
// Dispatch then resolves the targets (an alias, a tag or all through the
// registry, streamed and narrowed to the platform filter), drops tokens the
// registry knows are dead, reports every token of an expired intent
// expired, and splits the rest per platform into provider-sized batches
// published as jobs. Provider topics need no registry: they become one job
// per platform whose tokens are the topics' keys (events.Topic.Key) and
// which carries the topics. The
// intent is acked only once every job, schedule and outcome event is stored.
package dispatch
