//go:build race

package faulttest

// raceEnabled: the race detector slows everything several times; the
// scenarios use their smaller counts.
const raceEnabled = true
