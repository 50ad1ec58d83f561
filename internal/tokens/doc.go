// Package tokens keeps device-token state in the push_tokens KV bucket: one
// record per (app, platform, token) saying whether the token is active,
// invalid (and since when, and why) or retired in favour of a new one.
// Every write is a compare-and-swap on the key's revision, so concurrent
// writers never lose each other's change.
package tokens
