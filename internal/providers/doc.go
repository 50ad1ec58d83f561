// Package providers builds the three provider senders from command-line
// flags and the apps file, for the standalone sender binaries and the
// all-in-one, and keeps each sender's apps current when the file changes.
package providers
