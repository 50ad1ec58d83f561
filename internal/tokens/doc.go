// Package tokens keeps device-token state and the device registry in the
// push_tokens KV bucket.
//
// A record per (app, platform, token) says whether the token is active,
// invalid (and since when, and why) or retired in favour of a new one, and
// carries the registration: alias, tags, locale, attributes. Beside the
// records an index lists every device under its alias and each of its tags
// (see IndexKey for the key layout), so that an audience is listed with a
// filtered watch instead of a scan of the bucket.
//
//   - Store reads and writes records; the feedback-sink applies provider
//     outcomes through it (Apply, TouchSuccess).
//   - Devices registers and unregisters devices and lists and resolves
//     alias, tag and all-device audiences, optionally narrowed to some
//     platforms, in bounded memory (the dispatcher's Audience).
//
// Topic keys (events.IsTopicKey: "topic:news", "broadcast:all") name the
// outcomes of provider topic sends: never a device. Apply and TouchSuccess
// ignore them and Register refuses a token shaped like one.
//   - Cache is an in-memory view of token state kept current by a KV watch:
//     the dispatcher's Suppressor, and device counts.
//
// Names are checked at every entry point before a key is built: the app is
// a key token as is (events.ValidApp: never a '.', '*', '>', white space or
// control character, or it could address another app's keys or forge an
// index entry), tokens follow events.CheckToken, aliases and tags have no
// white space or control characters; anything else is refused with an
// error wrapping ErrInvalidDevice. Records are removed with Delete, never
// Purge: the bucket is provisioned without roll-ups.
//
// Every record write is a compare-and-swap on the key's revision, so
// concurrent writers never lose each other's change; index entries follow
// the record and are checked against it after every write.
package tokens
