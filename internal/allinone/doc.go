// Package allinone runs the whole fleet in one process: an embedded
// JetStream server (or an external one), the dispatcher, the five provider
// senders and the feedback-sink, against the real providers when an apps
// file is given and against local sandbox providers otherwise. It also runs
// the --demo load that shows the fleet end to end.
package allinone
