// Package dispatch turns push intents into delivery jobs: it validates an
// intent, resolves its targets, drops tokens the registry knows are dead,
// splits the rest per platform into provider-sized batches and publishes
// them as jobs. The intent is acked only once every job is stored.
package dispatch
