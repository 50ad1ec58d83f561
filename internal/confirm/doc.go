// Package confirm is the confirmation service: confirmed delivery for
// intents that ask for it (events.Confirm).
//
// It follows four inputs, each through a durable consumer shared by every
// replica:
//   - the dispatcher's watch records (push.confirm.watch.<app>.<hash>, in
//     PUSH_CONFIRM): an intent with confirm was dispatched; its window starts;
//   - the feedback stream: which tokens of a watched intent were delivered
//     (alias, tag and all audiences are learnt this way);
//   - confirmations from the apps' backends (push.confirm.<app>);
//   - its own timers, one-shot message schedules in PUSH_CONFIRM_TIMERS,
//     which only it writes: each fires one tick onto push.confirm.due.<app>.
//
// At each re-send tick it publishes a re-send intent (events.ResendID) with
// the delivered tokens not confirmed yet, so that suppression, expiry and
// metrics apply as to any intent; at the last tick, when the window ends,
// it reports every such token unconfirmed. A confirmation reports its token
// confirmed. Both outcomes go to push.feedback.<platform>.<app>.confirm.
//
// The state is KV push_confirm: one key per watched intent and one per token
// of it, each changed by compare-and-set only, so that two replicas never
// report a token twice; re-sends and timers carry deterministic ids, so that
// a repeated tick stores nothing new. Everything survives a restart. The
// keys, the records and their reads are internal/confirmstate's, through
// which pushctl status reads the state without importing this package.
package confirm
